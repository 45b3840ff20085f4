#!/usr/bin/env python3
"""Validates the compose stack without a Docker engine, and checks its isolation rules.

- `docker-compose config` (Debian's docker-compose) accepts docker-compose.yml alone and with
  docker-compose.prod.yml, given every variable of .env.example;
- only pomerium publishes ports; backend and mongo are on the internal network only; that
  network is `internal: true`; pomerium is on both;
- every service has a health check; mongo runs with authentication and a named volume;
- no secret is written inline: every secret-like setting is a ${VARIABLE} reference, and every
  variable the files use is documented in .env.example;
- the production file limits CPU and memory of every service;
- Pomerium's routes: only the demo start and the Zitadel Actions target are public.

Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "docker-compose.yml")
PROD = os.path.join(HERE, "docker-compose.prod.yml")
EXAMPLE = os.path.join(HERE, ".env.example")
SECRET_WORDS = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|KEY|MONGO_URL)", re.IGNORECASE)

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))


def rendered(files, env_file):
    command = ["docker-compose", "--env-file", env_file]
    for path in files:
        command += ["-f", path]
    command.append("config")
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE)
    return done.returncode, done.stdout, done.stderr


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
    try:
        code, out, err = rendered([BASE], env_file)
        check("docker-compose config accepts docker-compose.yml", code == 0, err.strip())
        code_prod, out_prod, err_prod = rendered([BASE, PROD], env_file)
        check("docker-compose config accepts it with docker-compose.prod.yml", code_prod == 0, err_prod.strip())
        # A missing secret must stop compose, not start a stack with an empty password.
        with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as partial:
            for key, value in example_vars.items():
                if key != "MONGO_APP_PASSWORD":
                    partial.write(f"{key}={value or 'test-value'}\n")
        code_missing, _, err_missing = rendered([BASE], partial.name)
        os.unlink(partial.name)
        check("a missing secret stops docker-compose", code_missing != 0 and "MONGO_APP_PASSWORD" in err_missing,
              err_missing.strip())
    finally:
        os.unlink(env_file)
    if code != 0 or code_prod != 0:
        return

    config = yaml.safe_load(out)
    services = config["services"]
    check("services are pomerium, backend, mongo", set(services) == {"pomerium", "backend", "mongo"}, list(services))
    publishing = sorted(name for name, service in services.items() if service.get("ports"))
    check("only pomerium publishes ports", publishing == ["pomerium"], publishing)
    check("pomerium publishes 80 and 443",
          sorted(str(p.get("target", p) if isinstance(p, dict) else p).split(":")[-1]
                 for p in services["pomerium"].get("ports", [])) == ["443", "80"], services["pomerium"].get("ports"))
    networks = {name: set(service.get("networks", {})) for name, service in services.items()}
    check("pomerium is on proxy and internal", networks["pomerium"] == {"proxy", "internal"}, networks["pomerium"])
    check("backend is on internal only", networks["backend"] == {"internal"}, networks["backend"])
    check("mongo is on internal only", networks["mongo"] == {"internal"}, networks["mongo"])
    check("the internal network is internal: true", config["networks"]["internal"].get("internal") is True,
          config["networks"]["internal"])
    missing_health = [name for name, service in services.items() if "healthcheck" not in service]
    check("every service has a health check", not missing_health, missing_health)
    check("backend's health check is `neosc healthcheck`",
          services["backend"]["healthcheck"]["test"][-2:] == ["neosc", "healthcheck"], services["backend"]["healthcheck"])
    mongo = services["mongo"]
    check("mongo is mongo:7", mongo["image"] == "mongo:7", mongo["image"])
    check("mongo runs with --auth", "--auth" in mongo.get("command", []), mongo.get("command"))
    check("mongo keeps data in a named volume",
          any(v.get("type") == "volume" and v.get("target") == "/data/db" and v.get("source") in config.get("volumes", {})
              if isinstance(v, dict) else str(v).startswith("mongo-data:/data/db") for v in mongo.get("volumes", [])),
          mongo.get("volumes"))
    check("backend reaches mongo with credentials", "@mongo:27017/" in services["backend"]["environment"]["MONGO_URL"])
    backend_env = services["backend"]["environment"]
    check("backend verifies Pomerium's assertion", backend_env.get("NEOSC_AUTH_MODE") == "pomerium"
          and backend_env.get("POMERIUM_AUTHENTICATE_URL", "").startswith("https://")
          and "api." in backend_env.get("POMERIUM_AUDIENCE", ""))

    # No inline secrets: check the files as written, before interpolation.
    inline = []
    used = set()
    for path in (BASE, PROD):
        text = open(path).read()
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
        raw = yaml.safe_load(text)
        for name, service in (raw.get("services") or {}).items():
            environment = service.get("environment") or {}
            items = environment.items() if isinstance(environment, dict) else (
                item.split("=", 1) if "=" in item else (item, "") for item in environment)
            for key, value in items:
                if SECRET_WORDS.search(key) and "${" not in str(value):
                    inline.append(f"{os.path.basename(path)}:{name}.{key}")
    check("no secret is written inline", not inline, inline)
    undocumented = sorted(used - set(example_vars))
    check("every variable is documented in .env.example", not undocumented, undocumented)
    secret_defaults = sorted(k for k, v in example_vars.items()
                             if SECRET_WORDS.search(k) and v and k not in ("MONGO_POOL_SIZE",))
    check(".env.example ships no secret values", not secret_defaults, secret_defaults)

    prod = yaml.safe_load(out_prod)["services"]
    unlimited = [name for name, service in prod.items() if not service.get("mem_limit") or not service.get("cpus")]
    check("production limits CPU and memory of every service", not unlimited, unlimited)

    # Pomerium: exactly two public paths (starting a demo, Zitadel's signed Actions calls),
    # each an exact path; every other route demands a policy.
    routes = yaml.safe_load(open(os.path.join(HERE, "pomerium", "config.yaml")))["routes"]
    public = sorted(route.get("path", "<all paths>") for route in routes
                    if route.get("allow_public_unauthenticated_access"))
    check("pomerium: only demo start and the Zitadel Actions target are public",
          public == ["/api/demo/sessions", "/api/integrations/zitadel/token-claims"], public)
    unguarded = [route["from"] for route in routes
                 if not route.get("allow_public_unauthenticated_access") and not route.get("policy")]
    check("pomerium: every other route has a policy", not unguarded, unguarded)


if __name__ == "__main__":
    main()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
