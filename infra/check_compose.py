#!/usr/bin/env python3
"""Validates the compose stack without a Docker engine, and checks what a real deployment needs.

Compose itself:
- `docker-compose config` (Debian's docker-compose 1.29) accepts docker-compose.yml alone and with
  docker-compose.prod.yml, given the variables of .env.example; a missing setting stops it. The
  Compose v2 plugin (`docker compose`) is run too when it is installed; Debian bookworm does not
  package it, which is said, not hidden.
- isolation: only pomerium publishes ports (443, and 80 only with HTTP_REDIRECT_ADDR); backend
  and mongo are on the internal network only, which is `internal: true`;
- every long-running service has a health check; mongo runs with authentication, a named volume
  and an explicit WiredTiger cache that fits its memory limit;
- secrets: none in the environment or .env.example; every secret-like setting is a *_FILE under
  /run/secrets/, each a Docker secret from infra/secrets/ (written by make-secrets.sh, run here in
  a scratch folder; ignored by git and docker); the Mongo init script reads its password from
  that file (run under node);
- the production limits fit the documented host (2 CPUs, 4 GiB);
- the backend image is always built here (`pull_policy: build`), stripped, from the committed
  Package.resolved; Pomerium is pinned to the newest v0.31 patch.

Pomerium v0.31 (issue #19; the source lines are cited in docs/identity.md):
- the route hosts come from NEOSC_DOMAIN: pomerium-config's command, run here with sh and sed,
  renders the tracked template for a domain and refuses a malformed one;
- the policies match `claim/groups` only, evaluated here the way Pomerium does (claims flattened,
  then looked up by exact name) on Zitadel-shaped claims: the Action's groups let people in,
  Zitadel's nested role map alone lets nobody in;
- NeoSC reaches Pomerium's key set: its authenticate host is an alias of pomerium on the internal
  network, and pomerium does not wait for a healthy backend (the backend is healthy only once it
  has the keys);
- sign-out returns to the URL docs/operations.md registers in Zitadel;
- /metrics is on a port of its own that no route leads to;
- only the demo start and the Zitadel Actions target are public; every other route has a policy;
  the API routes answer CORS preflights; zitadel/setup-actions.sh points Zitadel at that public
  Actions route for both token functions.

Workspace streams (issue #17, docs/streaming.md):
- the workspace route is portal.<domain>/streams/ to NeoSC, with WebSockets and no timeout, before
  the portal's own route, for every NeoSC role; NEOSC_PUBLIC_URL names that host, so the stream
  URLs NeoSC hands out lead there; the stream host serves NeoSC's /streams/ and nothing else;
- the workspaces sit on the internal network in a range of their own: NeoSC may dial that range
  only (NEOSC_STREAM_UPSTREAMS), Docker gives the stack's own containers addresses outside it, and
  only the stack's range is trusted for X-Forwarded-For and /metrics;
- recordings are kept on a named volume (the data directory), and the image carries Debian's noVNC
  client where NeoSC looks for it.

Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
"""
import base64
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASE = os.path.join(HERE, "docker-compose.yml")
PROD = os.path.join(HERE, "docker-compose.prod.yml")
EXAMPLE = os.path.join(HERE, ".env.example")
POMERIUM = os.path.join(HERE, "pomerium", "config.yaml")
SECRET_WORDS = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|SIGNING_KEY|MONGO_URL)", re.IGNORECASE)
POMERIUM_IMAGE = "pomerium/pomerium:v0.31.3"
DOMAIN = "zt.example.org"

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))


def compose_commands():
    """Debian's docker-compose, and the Compose v2 plugin where it is installed."""
    commands = [["docker-compose"]]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        commands.append(["docker", "compose"])
    else:
        print("note Compose v2 (`docker compose`) is not installed; Debian bookworm packages only "
              "docker-compose 1.29, so only that one is run")
    return commands


def rendered(command, files, env_file):
    full = list(command) + ["--env-file", env_file]
    for path in files:
        full += ["-f", path]
    full.append("config")
    done = subprocess.run(full, capture_output=True, text=True, cwd=HERE)
    return done.returncode, done.stdout, done.stderr


def memory(text):
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)b?", str(text).lower()).groups()
    return float(number) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]


def flatten(claims, prefix=""):
    """Pomerium's pkg/identity/claims.go Flatten: nested keys joined with '.', lists kept."""
    flat = {}
    for key, value in claims.items():
        if isinstance(value, dict):
            flat.update(flatten(value, prefix + key + "."))
        elif isinstance(value, list):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = [value]
    return flat


def admitted(policy, claims):
    """PPL allow rules of `claim/NAME: value` criteria (pkg/policy/criteria/claim.go): the
    flattened claim looked up by its exact name, matching when any element equals the value."""
    flat = flatten(claims)

    def criterion(entry):
        (name, expected), = entry.items()
        assert name.startswith("claim/"), name
        return expected in flat.get(name[len("claim/"):], [])

    for rule in policy:
        allow = rule.get("allow", {})
        if "and" in allow and all(criterion(c) for c in allow["and"]):
            return True
        if "or" in allow and any(criterion(c) for c in allow["or"]):
            return True
    return False


def main():
    example_vars = {}
    for line in open(EXAMPLE):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            example_vars[match.group(1)] = match.group(2)
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as env:
        for key, value in example_vars.items():
            env.write(f"{key}={value or 'test-value'}\n")
        env_file = env.name
    outputs = {}
    try:
        for command in compose_commands():
            name = " ".join(command)
            code, out, err = rendered(command, [BASE], env_file)
            check(f"{name} config accepts docker-compose.yml", code == 0, err.strip())
            code_prod, out_prod, err_prod = rendered(command, [BASE, PROD], env_file)
            check(f"{name} config accepts it with docker-compose.prod.yml", code_prod == 0, err_prod.strip())
            if code == 0 and code_prod == 0 and not outputs:
                outputs = {"base": out, "prod": out_prod}
            # A missing setting must stop compose, not start a stack with an empty value.
            with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as partial:
                for key, value in example_vars.items():
                    if key != "ZITADEL_PROJECT_ID":
                        partial.write(f"{key}={value or 'test-value'}\n")
            code_missing, _, err_missing = rendered(command, [BASE], partial.name)
            os.unlink(partial.name)
            check(f"{name}: a missing setting stops it", code_missing != 0 and "ZITADEL_PROJECT_ID" in err_missing,
                  err_missing.strip())
    finally:
        os.unlink(env_file)
    if not outputs:
        return

    config = yaml.safe_load(outputs["base"])
    services = config["services"]
    check("services are pomerium-config, pomerium, backend, mongo",
          set(services) == {"pomerium-config", "pomerium", "backend", "mongo"}, list(services))
    publishing = sorted(name for name, service in services.items() if service.get("ports"))
    check("only pomerium publishes ports", publishing == ["pomerium"], publishing)
    pomerium = services["pomerium"]
    published = sorted(str(p.get("target", p) if isinstance(p, dict) else p).split(":")[-1]
                       for p in pomerium.get("ports", []))
    check("pomerium publishes 443, and 80 only to redirect (HTTP_REDIRECT_ADDR)",
          published == ["443", "80"] and pomerium["environment"].get("HTTP_REDIRECT_ADDR") == ":80", published)
    check(f"pomerium is {POMERIUM_IMAGE}", pomerium["image"] == POMERIUM_IMAGE, pomerium["image"])
    networks = {name: set(service.get("networks", {})) for name, service in services.items()}
    check("pomerium is on proxy and internal", networks["pomerium"] == {"proxy", "internal"}, networks["pomerium"])
    check("backend is on internal only", networks["backend"] == {"internal"}, networks["backend"])
    check("mongo is on internal only", networks["mongo"] == {"internal"}, networks["mongo"])
    check("pomerium-config has no network", services["pomerium-config"].get("network_mode") == "none")
    check("the internal network is internal: true", config["networks"]["internal"].get("internal") is True,
          config["networks"]["internal"])
    missing_health = [name for name, service in services.items()
                      if "healthcheck" not in service and service.get("restart") != "no"]
    check("every long-running service has a health check", not missing_health, missing_health)
    check("backend's health check is `neosc healthcheck`",
          services["backend"]["healthcheck"]["test"][-2:] == ["neosc", "healthcheck"], services["backend"]["healthcheck"])
    check("backend is always built from this checkout (pull_policy: build)",
          services["backend"].get("pull_policy") == "build" and "build" in services["backend"])
    mongo = services["mongo"]
    check("mongo is mongo:7", mongo["image"] == "mongo:7", mongo["image"])
    check("mongo runs with --auth", "--auth" in mongo.get("command", []), mongo.get("command"))
    mongo_command = mongo.get("command", [])
    key_file = mongo_command[mongo_command.index("--keyFile") + 1] if "--keyFile" in mongo_command else None
    entrypoint = " ".join(mongo.get("entrypoint", []))
    check("mongo is a single-node replica set rs0, its key file installed mode 400 for mongodb from a secret",
          "--replSet" in mongo_command and mongo_command[mongo_command.index("--replSet") + 1] == "rs0"
          and key_file is not None and f"install -m 400 -o mongodb -g mongodb /run/secrets/mongo_replica_key {key_file}" in entrypoint
          and "exec docker-entrypoint.sh" in entrypoint
          and "mongo_replica_key" in [s.get("source") if isinstance(s, dict) else s for s in mongo.get("secrets", [])],
          (mongo_command, entrypoint))
    check("mongo's health check is the replica-set script",
          mongo["healthcheck"]["test"][-2:] == ["--file", "/neosc/replica-set.js"]
          and any((v.get("target") if isinstance(v, dict) else str(v).split(":")[1]) == "/neosc/replica-set.js"
                  for v in mongo.get("volumes", [])), mongo.get("volumes"))
    check("mongo keeps data in a named volume",
          any(v.get("type") == "volume" and v.get("target") == "/data/db" and v.get("source") in config.get("volumes", {})
              if isinstance(v, dict) else str(v).startswith("mongo-data:/data/db") for v in mongo.get("volumes", [])),
          mongo.get("volumes"))
    backend_env = services["backend"]["environment"]
    check("backend verifies Pomerium's assertion", backend_env.get("NEOSC_AUTH_MODE") == "pomerium"
          and backend_env.get("POMERIUM_AUTHENTICATE_URL", "").startswith("https://")
          and "api." in backend_env.get("POMERIUM_AUDIENCE", ""))

    # Workspace streams: the workspaces on the internal network in a range of their own, the only
    # one NeoSC dials; the stack's own containers, and only they, trusted.
    def network(text):
        try:
            return ipaddress.ip_network(str(text).strip(), strict=True)
        except ValueError:
            return None

    ipam = (config["networks"]["internal"].get("ipam") or {}).get("config") or [{}]
    subnet, stack_range = network(ipam[0].get("subnet")), network(ipam[0].get("ip_range"))
    upstream_entries = [e for e in str(backend_env.get("NEOSC_STREAM_UPSTREAMS", "")).split(",") if e.strip()]
    upstreams = [network(e) for e in upstream_entries]
    check("backend streams only from a range of the internal network apart from the stack's own containers "
          "(NEOSC_STREAM_UPSTREAMS inside the subnet; Docker assigns the stack from ip_range, outside it)",
          subnet and stack_range and upstreams and all(upstreams)
          and stack_range.subnet_of(subnet) and all(u.subnet_of(subnet) and not u.overlaps(stack_range) for u in upstreams),
          (subnet, stack_range, upstream_entries))
    trusted = [network(e) for e in str(backend_env.get("NEOSC_TRUSTED_PROXIES", "")).split(",") if e.strip()]
    metrics_peers = [network(e) for e in str(backend_env.get("NEOSC_METRICS_ALLOW", "")).split(",") if e.strip()]
    check("only the stack's own range is trusted for X-Forwarded-For and /metrics, never the workspaces'",
          trusted and metrics_peers and all(trusted) and all(metrics_peers) and stack_range
          and all(n.subnet_of(stack_range) for n in trusted + metrics_peers),
          (backend_env.get("NEOSC_TRUSTED_PROXIES"), backend_env.get("NEOSC_METRICS_ALLOW")))
    data_mounts = [v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
                   for v in services["backend"].get("volumes", [])
                   if (v.get("target") if isinstance(v, dict) else str(v).split(":")[1]) == "/var/lib/neosc/data"]
    check("backend keeps its data directory (stream recordings) on a named volume",
          len(data_mounts) == 1 and data_mounts[0] in config.get("volumes", {})
          and "NEOSC_DATA_DIR=/var/lib/neosc/data" in open(os.path.join(ROOT, "Dockerfile")).read(), data_mounts)

    # Secrets: files, never the environment.
    declared = config.get("secrets", {})
    in_environment, not_files = [], []
    for name, service in services.items():
        mounted = {s if isinstance(s, str) else s.get("source") for s in service.get("secrets", [])}
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_FILE"):
                secret = str(value).removeprefix("/run/secrets/")
                if not str(value).startswith("/run/secrets/") or secret not in mounted or secret not in declared:
                    not_files.append(f"{name}.{key}={value}")
            elif SECRET_WORDS.search(key):
                in_environment.append(f"{name}.{key}")
    check("no secret is in any service's environment (each is NAME_FILE)", not in_environment, in_environment)
    check("every *_FILE names a Docker secret mounted into that service", not not_files, not_files)
    outside = [name for name, secret in declared.items()
               if os.path.dirname(secret.get("file", "")) != os.path.join(HERE, "secrets")]
    check("every Docker secret is a file in infra/secrets/", not outside, outside)
    ignored = (subprocess.run(["git", "check-ignore", "-q", "infra/secrets/x"], cwd=ROOT).returncode == 0
               and "infra/secrets" in open(os.path.join(ROOT, ".dockerignore")).read().split())
    check("infra/secrets/ is ignored by git and by docker build", ignored)
    secret_defaults = sorted(k for k in example_vars if SECRET_WORDS.search(k))
    check(".env.example holds no secret settings", not secret_defaults, secret_defaults)
    # make-secrets.sh writes beside itself: run a copy.
    with tempfile.TemporaryDirectory() as work:
        shutil.copy(os.path.join(HERE, "make-secrets.sh"), work)
        made = subprocess.run(["sh", os.path.join(work, "make-secrets.sh")], capture_output=True, text=True,
                              env={**os.environ, "ZITADEL_CLIENT_SECRET": "client-secret"})
        files = {os.path.basename(p): p for p in glob.glob(os.path.join(work, "secrets", "*"))}
        modes = {name: oct(os.stat(path).st_mode & 0o777) for name, path in files.items()}
        folder = oct(os.stat(os.path.join(work, "secrets")).st_mode & 0o777)
        empty = sorted(name for name, path in files.items() if os.path.getsize(path) == 0)
        # 444 inside a 700 folder: Compose mounts a file secret with its host mode, and mongo and
        # NeoSC read theirs as unprivileged users; on the host only the folder's owner gets in.
        check("make-secrets.sh writes every declared secret (files 444 in a 700 folder), no trailing newline",
              made.returncode == 0 and set(files) == set(declared) and folder == "0o700"
              and all(m == "0o444" for m in modes.values())
              and not any(open(p, "rb").read().endswith(b"\n") for p in files.values()),
              made.stderr or sorted(set(declared) ^ set(files)) or (folder, modes))
        check("make-secrets.sh leaves only the Actions key empty (Zitadel makes it later)",
              empty == ["zitadel_actions_signing_key"], empty)
        again = subprocess.run(["sh", os.path.join(work, "make-secrets.sh")], capture_output=True, text=True,
                               env={**os.environ, "ZITADEL_CLIENT_SECRET": "client-secret",
                                    "ZITADEL_ACTIONS_SIGNING_KEY": "the-key-zitadel-returned"})
        check("make-secrets.sh run again fills the Actions key and keeps the rest",
              again.returncode == 0 and open(files["zitadel_actions_signing_key"]).read() == "the-key-zitadel-returned"
              and again.stdout.count("kept") == len(declared) - 1, again.stdout + again.stderr)
        url = open(files.get("mongo_url", os.devnull)).read()
        app_password = open(files.get("mongo_app_password", os.devnull)).read()
        check("make-secrets.sh: the Mongo URL carries the app password", app_password and f":{app_password}@mongo:" in url)
        check("make-secrets.sh: the Mongo URL names the replica set", url.endswith("&replicaSet=rs0"), url)
        replica_key = open(files.get("mongo_replica_key", os.devnull)).read()
        check("make-secrets.sh: the replica set's key file is 6 to 1,024 base64 characters",
              6 <= len(replica_key) <= 1024 and all(c.isalnum() or c in "+/=" for c in replica_key), len(replica_key))
        audit_key = open(files.get("neosc_audit_signing_key", os.devnull)).read()
        try:
            key_bytes = len(base64.b64decode(audit_key, validate=True))
        except ValueError:
            key_bytes = 0
        check("make-secrets.sh: the audit signing key is 32 random bytes in base64 (NEOSC_AUDIT_SIGNING_KEY)",
              key_bytes == 32, audit_key[:8] + "…")
        # The Mongo init script, run under node with a stand-in for mongosh's `db`.
        script = ("const created = []; globalThis.db = {getSiblingDB: (name) => ({createUser: (u) => created.push([name, u])})};"
                  "require(process.argv[1]); console.log(JSON.stringify(created));")
        if shutil.which("node"):
            ran = subprocess.run(["node", "-e", script, os.path.join(HERE, "mongo", "init-neosc.js")],
                                 capture_output=True, text=True,
                                 env={**os.environ, "NEOSC_DB_USER": "neosc",
                                      "NEOSC_DB_PASSWORD_FILE": files.get("mongo_app_password", "")})
            created = json.loads(ran.stdout or "[]")
            check("mongo's init script creates the neosc user with the password from its secret file",
                  created == [["neosc", {"user": "neosc", "pwd": app_password,
                                          "roles": [{"role": "readWrite", "db": "neosc"}]}]], ran.stderr or created)
            # The health check script, with stand-ins for mongosh's `db`, `rs` and `quit`.
            stand_in = ("const calls = []; const state = JSON.parse(process.argv[2]);"
                        "globalThis.quit = (code) => { console.log(JSON.stringify({code, calls})); process.exit(0); };"
                        "globalThis.db = {hello: () => state, getSiblingDB: (name) => ({auth: (u, p) => calls.push(['auth', name, u, p])})};"
                        "globalThis.rs = {initiate: (config) => calls.push(['initiate', config])};"
                        "require(process.argv[1]);")
            def replica_check(state):
                ran = subprocess.run(["node", "-e", stand_in, os.path.join(HERE, "mongo", "replica-set.js"), json.dumps(state)],
                                     capture_output=True, text=True,
                                     env={**os.environ, "MONGO_INITDB_ROOT_USERNAME": "root",
                                          "MONGO_INITDB_ROOT_PASSWORD_FILE": files.get("mongo_root_password", "")})
                return json.loads(ran.stdout or "{}") or ran.stderr
            root_password = open(files.get("mongo_root_password", os.devnull)).read()
            fresh = replica_check({"isWritablePrimary": False})
            check("mongo's health check initiates rs0 (host mongo:27017) as root, with the password from its secret file, and waits",
                  fresh == {"code": 1, "calls": [["auth", "admin", "root", root_password],
                                                  ["initiate", {"_id": "rs0", "members": [{"_id": 0, "host": "mongo:27017"}]}]]},
                  fresh)
            check("mongo's health check is healthy on the primary and waits on a member, without initiating again",
                  replica_check({"isWritablePrimary": True, "setName": "rs0"}) == {"code": 0, "calls": []}
                  and replica_check({"isWritablePrimary": False, "setName": "rs0"}) == {"code": 1, "calls": []})
        else:
            check("node is installed to run mongo's init script", False, "node not found")

    prod = yaml.safe_load(outputs["prod"])["services"]
    unlimited = [name for name, service in prod.items() if not service.get("mem_limit") or not service.get("cpus")]
    check("production limits CPU and memory of every service", not unlimited, unlimited)
    # pomerium-config has exited before the others start: it does not share the host with them.
    running = [service for name, service in prod.items() if services[name].get("restart") != "no"]
    cpus = sum(float(service.get("cpus", 0)) for service in running)
    total = sum(memory(service.get("mem_limit", 0)) for service in running)
    check("production limits fit the documented host (2 CPUs; 4 GiB with 0.5 GiB to spare)",
          cpus <= 2.0 + 1e-9 and total <= 3.5 * (1 << 30), f"{cpus} CPUs, {total / (1 << 30):.2f} GiB")
    command = mongo.get("command", [])
    cache = float(command[command.index("--wiredTigerCacheSizeGB") + 1]) if "--wiredTigerCacheSizeGB" in command else None
    check("mongo's WiredTiger cache is set and at most half its memory limit",
          cache is not None and cache * (1 << 30) <= memory(prod["mongo"]["mem_limit"]) / 2, (cache, prod["mongo"]["mem_limit"]))

    dockerfile = open(os.path.join(ROOT, "Dockerfile")).read()
    check("the image carries Debian's noVNC client where NeoSC serves it from (/usr/share/novnc: core/, vendor/)",
          re.search(r"apt-get install[^\n]*\bnovnc\b", dockerfile)
          and "COPY --from=build /usr/share/novnc/core /usr/share/novnc/core" in dockerfile
          and "COPY --from=build /usr/share/novnc/vendor /usr/share/novnc/vendor" in dockerfile)
    check("the image builds from the committed Package.resolved, stripped",
          "COPY Package.swift Package.resolved" in dockerfile and "install -D -s" in dockerfile
          and subprocess.run(["git", "ls-files", "--error-unmatch", "Package.resolved"], cwd=ROOT,
                             capture_output=True).returncode == 0)

    # Pomerium: hosts from NEOSC_DOMAIN, without editing the tracked template.
    renderer = services["pomerium-config"]
    script = renderer["command"][-1].replace("$$", "$")
    template = open(POMERIUM).read()
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(os.path.join(work, "config"))
        local = script.replace("/template/config.yaml", POMERIUM).replace("/config/", os.path.join(work, "config") + "/")
        ran = subprocess.run(["sh", "-c", local], capture_output=True, text=True, env={**os.environ, "NEOSC_DOMAIN": DOMAIN})
        output = os.path.join(work, "config", "config.yaml")
        routes_for_domain = yaml.safe_load(open(output))["routes"] if ran.returncode == 0 and os.path.exists(output) else []
        hosts = {route["from"].split("//")[1] for route in routes_for_domain}
        check("pomerium-config renders the routes for NEOSC_DOMAIN",
              hosts == {f"{h}.{DOMAIN}" for h in ("api", "admin", "demo", "stream", "portal")}
              and "neosc.example.com" not in open(output).read(), ran.stderr or hosts)
        bad = subprocess.run(["sh", "-c", local], capture_output=True, text=True,
                             env={**os.environ, "NEOSC_DOMAIN": "evil.example/g;s/x"})
        check("pomerium-config refuses a malformed NEOSC_DOMAIN", bad.returncode != 0, bad.stdout)
    check("the tracked template keeps the placeholder domain", "neosc.example.com" in template)
    check("pomerium reads the rendered configuration",
          any(str(v.get("source") if isinstance(v, dict) else v).startswith("pomerium-config")
              and (v.get("target") if isinstance(v, dict) else v.split(":")[1]) == "/pomerium"
              for v in pomerium.get("volumes", [])), pomerium.get("volumes"))

    pomerium_config = yaml.safe_load(template)
    routes = pomerium_config["routes"]
    public = sorted(route.get("path", "<all paths>") for route in routes
                    if route.get("allow_public_unauthenticated_access"))
    check("pomerium: only demo start and the Zitadel Actions target are public",
          public == ["/api/demo/sessions", "/api/integrations/zitadel/token-claims"], public)
    guarded = [route for route in routes if not route.get("allow_public_unauthenticated_access")]
    unguarded = [route["from"] for route in guarded if not route.get("policy")]
    check("pomerium: every other route has a policy", not unguarded, unguarded)
    criteria = [name for route in guarded for rule in route["policy"] for group in rule["allow"].values()
                for entry in group for name in entry]
    check("pomerium: policies match claim/groups only (nested claims are flattened away)",
          set(criteria) == {"claim/groups"}, sorted(set(criteria)))

    def route(prefix):
        return next(r for r in guarded if r["from"].startswith(f"https://{prefix}."))

    zitadel_admin = {"sub": "1", "email": "a@example.com",
                     "urn:zitadel:iam:org:project:roles": {"admin": {"org-1": "example.com"}}}
    with_action = dict(zitadel_admin, groups=["admin"])
    visitor = {"sub": "2", "groups": ["demo-user"], "neosc:demo_session_id": "demo-1"}
    check("pomerium: Zitadel's nested role map alone admits nobody",
          not any(admitted(r["policy"], zitadel_admin) for r in guarded))
    check("pomerium: the Action's groups admit an administrator to admin, api and stream",
          all(admitted(route(h)["policy"], with_action) for h in ("admin", "api", "stream")))
    check("pomerium: a demo visitor reaches demo and api, not admin or stream",
          admitted(route("demo")["policy"], visitor) and admitted(route("api")["policy"], visitor)
          and not admitted(route("admin")["policy"], visitor) and not admitted(route("stream")["policy"], visitor))
    forwarded = set(pomerium_config.get("jwt_claims_headers", {}).values())
    check("pomerium: forwards email_verified, amr and the demo claims; no nested claim name",
          {"email_verified", "amr", "neosc:demo_session_id", "neosc:demo_expires_at"} <= forwarded
          and not any(c.startswith("urn:zitadel") for c in forwarded), sorted(forwarded))
    scopes = pomerium_config.get("idp_scopes", [])
    check("pomerium: idp_scopes are scopes and keep offline_access",
          "offline_access" in scopes and "openid" in scopes and not any(":" in s for s in scopes), scopes)
    check("pomerium: the API routes answer CORS preflights",
          all(route(h).get("cors_allow_preflight") is True for h in ("api", "admin")))

    # The workspace route: the viewer's streams, on the viewer's own host, through NeoSC.
    portal_routes = [r for r in guarded if r["from"] == "https://portal.neosc.example.com"]
    workspace = next((r for r in portal_routes if r.get("prefix") == "/streams/"), None)
    portal_pages = next((r for r in portal_routes if not r.get("prefix") and not r.get("path")), None)
    neosc_roles = {"admin", "neosc", "user", "demo-user"}
    check("pomerium: the workspace route portal.<domain>/streams/ leads to NeoSC, with WebSockets and no timeout, "
          "before the portal's own route",
          workspace is not None and portal_pages is not None and workspace["to"] == "http://backend:8001"
          and workspace.get("allow_websockets") is True and str(workspace.get("timeout")) in ("0s", "0")
          and routes.index(workspace) < routes.index(portal_pages), workspace)
    check("pomerium: every NeoSC role reaches the workspace route (a demo visitor's workspace streams too)",
          workspace is not None
          and all(admitted(workspace["policy"], {"sub": role, "groups": [role]}) for role in neosc_roles)
          and not admitted(workspace["policy"], zitadel_admin))
    public_url = str(backend_env.get("NEOSC_PUBLIC_URL", ""))
    check("backend's stream URLs name the workspace route's host (NEOSC_PUBLIC_URL https://portal.<domain>)",
          public_url.rstrip("/") == "https://portal." + example_vars.get("NEOSC_DOMAIN", ""), public_url)
    stream_host = next((r for r in guarded if r["from"].startswith("https://stream.")), {})
    check("pomerium: the stream host serves NeoSC's /streams/ only", stream_host.get("prefix") == "/streams/"
          and stream_host.get("to") == "http://backend:8001", stream_host)

    # Zitadel's Actions target: the public route, for both token functions.
    setup = open(os.path.join(HERE, "zitadel", "setup-actions.sh")).read()
    endpoint = re.search(r'endpoint="https://([a-z]+)\.\$NEOSC_DOMAIN(/[^"]+)"', setup)
    actions_route = next((r for r in routes if r.get("path") == "/api/integrations/zitadel/token-claims"), {})
    check("zitadel/setup-actions.sh targets the public Actions route, for preuserinfo and preaccesstoken",
          endpoint is not None and actions_route.get("from") == f"https://{endpoint.group(1)}.neosc.example.com"
          and endpoint.group(2) == actions_route.get("path")
          and re.search(r"for function in preuserinfo preaccesstoken", setup), endpoint and endpoint.groups())

    # NeoSC reaches Pomerium's keys on the internal network.
    authenticate_host = backend_env["POMERIUM_AUTHENTICATE_URL"].split("//")[1].rstrip("/")
    jwks_host = backend_env.get("POMERIUM_JWKS_URL", backend_env["POMERIUM_AUTHENTICATE_URL"]).split("//")[1].split("/")[0]
    aliases = (pomerium.get("networks", {}).get("internal") or {}).get("aliases", [])
    check("backend reaches Pomerium's key set: its host is pomerium's alias on the internal network",
          jwks_host == authenticate_host and authenticate_host in aliases, (jwks_host, aliases))
    waits_on = pomerium.get("depends_on", {}).get("backend", {}).get("condition")
    check("pomerium starts without waiting for a healthy backend (which needs Pomerium's keys)",
          waits_on == "service_started", waits_on)

    # Sign-out returns where Zitadel allows it to.
    signout = pomerium_config.get("signout_redirect_url", "")
    operations = open(os.path.join(ROOT, "docs", "operations.md")).read()
    registered = signout.replace("neosc.example.com", "<NEOSC_DOMAIN>")
    check("sign-out returns to the post-logout URI docs/operations.md registers in Zitadel",
          signout.startswith("https://") and f"post-logout URI `{registered}`" in operations, registered)

    # /metrics never through Pomerium.
    metrics_port = str(backend_env.get("NEOSC_METRICS_PORT", ""))
    targets = {r["to"] for r in routes}
    check("backend serves /metrics on a port of its own that no Pomerium route leads to",
          metrics_port and metrics_port != str(backend_env.get("PORT"))
          and not any(t.rstrip("/").endswith(":" + metrics_port) for t in targets), (metrics_port, targets))


if __name__ == "__main__":
    main()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
