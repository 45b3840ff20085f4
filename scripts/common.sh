# Sourced by the project's scripts: the Swift toolchain on PATH, and two shared helpers.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "neosc: the Swift 6 toolchain is required (expected in /opt/swift or on PATH)" >&2
  exit 1
fi

# apt_install PACKAGE…: installs the Debian packages given (none: does nothing), as root or via sudo.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing $*" >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# free_port: a loopback TCP port that was free a moment ago.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_on_exit WORK_DIR: on exit, stops every pid in the array `pids` (TERM, then KILL a second
# later) and removes WORK_DIR, whatever made the script end. Append background pids to `pids`.
pids=()
stop_on_exit() {
  stop_on_exit_dir=$1
  trap '_stop_pids_and_clean' EXIT
}
_stop_pids_and_clean() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$stop_on_exit_dir"
}
