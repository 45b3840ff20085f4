# Sourced after scripts/common.sh: installs what the tests need, idempotently.
#  - libmongoc-dev and pkg-config (Debian), for the MongoDB store; docker-compose, nodejs and
#    openssl (Debian), to validate the compose stack in infra/ (no Docker engine needed);
#  - xvfb and x11vnc (Debian): a real desktop served over RFB, which the workspace-stream tests
#    relay through NeoSC (Tests/NeoSCTests/StreamTests.swift), and novnc (Debian), the client the
#    viewer page draws it with;
#  - a venv in .venv/ with SecantusDB (PyPI), a MongoDB-wire-compatible test server,
#    oidc-provider-mock (PyPI), the OpenID provider standing in for Zitadel, and Schemathesis and
#    openapi-spec-validator (PyPI), which check the API against its OpenAPI document.
need_apt=()
pkg-config --exists libmongoc-1.0 2>/dev/null || need_apt+=(libmongoc-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)  # validates infra/ without an engine
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)  # runs infra/mongo/init-neosc.js in check_compose.py
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # infra/make-secrets.sh (check_compose.py); the syslog-over-TLS test's certificate
command -v Xvfb >/dev/null 2>&1 || need_apt+=(xvfb)
command -v x11vnc >/dev/null 2>&1 || need_apt+=(x11vnc)
[ -f /usr/share/novnc/core/rfb.js ] || need_apt+=(novnc)  # the stream viewer's client, which NeoSC serves
apt_install "${need_apt[@]}"

if [ ! -x .venv/bin/secantusd-py ] || [ ! -x .venv/bin/oidc-provider-mock ] || [ ! -x .venv/bin/schemathesis ]; then
  echo "installing SecantusDB, oidc-provider-mock and Schemathesis into .venv" >&2
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check secantusdb==0.7.0b3 oidc-provider-mock==0.3.4 \
    schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi
export NEOSC_SECANTUSD="$PWD/.venv/bin/secantusd-py"
export NEOSC_OIDC_MOCK="$PWD/.venv/bin/oidc-provider-mock"
export NEOSC_XVFB="$(command -v Xvfb)"
export NEOSC_X11VNC="$(command -v x11vnc)"
export NEOSC_WEBSOCKIFY="$(command -v websockify || echo /usr/bin/websockify)"  # comes with novnc
