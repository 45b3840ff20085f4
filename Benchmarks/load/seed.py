#!/usr/bin/env python3
"""Fills a NeoSC store with the load-benchmark dataset, in bulk.

  seed.py sqlite PATH  --users N --workspaces N --audit N --tokens-out FILE
  seed.py mongo  URL   --users N --workspaces N --audit N --tokens-out FILE

The store must already have NeoSC's schema and one account, bench-admin@example.com, made with
`neosc admin create`: its bcrypt hash is reused for every generated user (password
"benchmark password"), so logins cost a real bcrypt verification. Writes one bearer token per
user (SHA-256 digests stored, as NeoSC does) and saves the tokens, with each user's role and
e-mail, to --tokens-out as `token role email` lines for the wrk scripts.

The audit entries are sealed into the store's chain after the entries already there, oldest
first, by the rule docs/audit.md gives (`chain_hash`), so they are what NeoSC's own entries are
(the list keeps a sealed entry's JSON; an unsealed one it writes afresh) and their links verify.
They have no signed checkpoints (those need the server's key): `neosc audit verify` reports the
first one missing, at seq 1000. Meant for a store `neosc admin create` has just made: the chain
continues after its newest sealed entry (a retention checkpoint as the head is not looked at),
and the seeded entries, up to 30 days old, come after that newer entry, so retention, which cuts
the trail at the first entry after a date, removes none of them.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import secrets
import struct
import sys

ROLES = ["neosc"] * 40 + ["user"] * 55 + ["admin"] * 5
ACTIONS = ["login", "launch_workspace", "stop_workspace", "disconnect_session", "logout", "login_failed",
           "update_workspace", "toggle_policy"]


def new_token():
    token = "neosc_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return token, hashlib.sha256(token.encode()).hexdigest()


def dataset(args, now, password_hash):
    rng = random.Random(42)
    users, tokens, lines = [], [], []
    for index in range(args.users):
        role = ROLES[index % len(ROLES)]
        created = now - datetime.timedelta(days=rng.uniform(1, 365))
        users.append(dict(id=f"usr-bench-{index:06d}", email=f"bench{index}@example.com", name=f"Bench User {index}",
                          organization_id=None, role=role, password_hash=password_hash, mfa_enabled=index % 3 == 0,
                          disabled=False, created_at=created, updated_at=created))
        token, digest = new_token()
        tokens.append(dict(digest=digest, user_id=users[-1]["id"], issued_at=now,
                           expires_at=now + datetime.timedelta(days=7), revoked_at=None, mfa_verified=False))
        lines.append(f"{token} {role} {users[-1]['email']}")
    workspaces = []
    for index in range(args.workspaces):
        roles = [["admin", "neosc", "user"], ["admin", "neosc"], ["admin", "neosc", "user", "demo-user"]][index % 3]
        workspaces.append(dict(id=f"ws-bench-{index:04d}", name=f"Bench Workspace {index}", type="linux",
                               description="Generated for the load benchmark.", image_url=None, status="available",
                               cpu=2, memory=4, storage=20, url=f"/workspaces/bench-{index}", connection_type="vnc",
                               launch_mode="iframe", clientless=True, requires_netbird=False, allowed_roles=roles,
                               max_session_minutes=480, created_at=now, updated_at=now))
    audit = []
    for index in range(args.audit):
        user = users[rng.randrange(len(users))]
        audit.append(dict(id=f"aud-bench-{index:07d}",
                          timestamp=now - datetime.timedelta(seconds=rng.uniform(0, 30 * 86400)),
                          user_id=user["id"], user_email=user["email"], action=rng.choice(ACTIONS),
                          resource_type="workspace", resource_id=f"ws-bench-{rng.randrange(max(args.workspaces, 1)):04d}",
                          details={"source": "benchmark"}, ip_address=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                          success=rng.random() > 0.05))
    return users, tokens, workspaces, audit, lines


def chain_hash(entry, seq, previous):
    """The audit chain's rule (docs/audit.md, Domain/AuditChain.swift): SHA-256 of the domain,
    the previous hash and the entry's fields, the timestamp in whole seconds rounded down."""
    def text(value):
        if value is None:
            return b"\x00"
        encoded = value.encode()
        return b"\x01" + struct.pack(">I", len(encoded)) + encoded
    parts = [b"neosc-audit-v1\x00", previous, struct.pack(">q", seq), text(entry["id"]),
             struct.pack(">q", entry["milliseconds"] // 1000), text(entry["user_id"]), text(entry["user_email"]),
             text(entry["action"]), text(entry["resource_type"]), text(entry["resource_id"]), text(entry["ip_address"]),
             bytes([1 if entry["success"] else 0]), struct.pack(">I", len(entry["details"]))]
    for key in sorted(entry["details"], key=lambda key: key.encode()):
        parts += [text(key), text(entry["details"][key])]
    return hashlib.sha256(b"".join(parts)).digest()


def sealed(audit, head_seq, head_hash):
    """`audit` oldest first, each with its place in the chain after (head_seq, head_hash): `seq`,
    `prev_hash`, `hash`, and its time in whole milliseconds (what the chain keeps)."""
    for entry in audit:
        entry["milliseconds"] = int(entry["timestamp"].timestamp() * 1000 + 0.5)
    audit.sort(key=lambda entry: entry["milliseconds"])
    previous = head_hash
    for seq, entry in enumerate(audit, start=head_seq + 1):
        entry["seq"], entry["prev_hash"] = seq, previous
        entry["hash"] = previous = chain_hash(entry, seq, previous)
    return audit


def policies(count):
    """`count` enabled policies that cover every request and refuse none (issue #13's speed goal:
    what evaluating them costs): windows open all day every day, allow-lists of every address,
    rate limits no client reaches, and launch-only kinds, in a fixed mix."""
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    kinds = [
        ("time_window", {"days": every_day, "start": "00:00", "end": "24:00", "time_zone": "America/Mexico_City",
                         "applies_to": "all"}),
        ("address_allowlist", {"cidrs": ["0.0.0.0/0", "::/0"], "applies_to": "all"}),
        ("time_window", {"days": every_day, "start": "00:00", "end": "24:00", "time_zone": "Europe/Berlin",
                         "applies_to": "all"}),
        ("address_allowlist", {"cidrs": ["10.0.0.0/8", "127.0.0.0/8", "::1"], "applies_to": "all"}),
        ("rate_limit", {"requests": 1_000_000, "per_seconds": 1, "key": "user"}),
        ("mfa_required", {"applies_to": "launch"}),
        ("network_required", {"claim": "netbird_peer_id"}),
    ]
    result = []
    for index in range(count):
        kind, settings = kinds[index % len(kinds)]
        result.append({"id": f"pol-bench-{index:02d}", "name": f"Benchmark {index}", "kind": kind,
                       "settings": settings})
    return result


def seed_sqlite(path, args):
    import sqlite3
    connection = sqlite3.connect(path)
    row = connection.execute("SELECT password_hash FROM users WHERE email = 'bench-admin@example.com'").fetchone()
    if row is None:
        sys.exit("bench-admin@example.com is missing: create it with `neosc admin create` first")
    now = datetime.datetime.now(datetime.timezone.utc)
    users, tokens, workspaces, audit, lines = dataset(args, now, row[0])
    ts = lambda value: value.timestamp() if value else None
    with connection:
        connection.executemany(
            "INSERT INTO users (id, email, name, organization_id, role, password_hash, mfa_enabled, disabled, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(u["id"], u["email"], u["name"], None, u["role"], u["password_hash"], int(u["mfa_enabled"]), 0,
              ts(u["created_at"]), ts(u["updated_at"])) for u in users])
        connection.executemany(
            "INSERT INTO tokens (digest, user_id, issued_at, expires_at, revoked_at, mfa_verified) VALUES (?,?,?,?,?,?)",
            [(t["digest"], t["user_id"], ts(t["issued_at"]), ts(t["expires_at"]), None, 0) for t in tokens])
        connection.executemany(
            "INSERT INTO workspaces (id, name, type, description, image_url, status, cpu, memory, storage, url,"
            " connection_type, launch_mode, clientless, requires_netbird, allowed_roles, max_session_minutes, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(w["id"], w["name"], w["type"], w["description"], None, w["status"], w["cpu"], w["memory"], w["storage"],
              w["url"], w["connection_type"], w["launch_mode"], 1, 0, json.dumps(w["allowed_roles"]),
              w["max_session_minutes"], ts(w["created_at"]), ts(w["updated_at"])) for w in workspaces])
        head = connection.execute(
            "SELECT seq, hash FROM audit_logs WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone() or (0, bytes(32))
        connection.executemany(
            "INSERT INTO audit_logs (seq, id, timestamp, user_id, user_email, action, resource_type, resource_id, details,"
            " ip_address, success, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(a["seq"], a["id"], a["milliseconds"] / 1000, a["user_id"], a["user_email"], a["action"], a["resource_type"],
              a["resource_id"], json.dumps(a["details"], sort_keys=True), a["ip_address"], int(a["success"]),
              a["prev_hash"], a["hash"]) for a in sealed(audit, head[0], bytes(head[1]))])
        connection.executemany(
            "INSERT INTO policies (id, name, description, category, enabled, weight, updated_at, kind, scope, settings)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(p["id"], p["name"], "", "benchmark", 1, 0, ts(now), p["kind"], "{}", json.dumps(p["settings"], sort_keys=True))
             for p in policies(args.policies)])
    connection.close()
    return lines


def seed_mongo(url, args):
    import pymongo
    client = pymongo.MongoClient(url)
    database = client.get_default_database()
    admin = database.users.find_one({"email": "bench-admin@example.com"})
    if admin is None:
        sys.exit("bench-admin@example.com is missing: create it with `neosc admin create` first")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    users, tokens, workspaces, audit, lines = dataset(args, now, admin["password_hash"])
    database.users.insert_many([{"_id": u.pop("id"), **u} for u in users], ordered=False)
    database.tokens.insert_many([{"_id": t["digest"], **t} for t in tokens], ordered=False)
    base = int(now.timestamp() * 1000)
    database.workspaces.insert_many(
        [{"_id": w.pop("id"), "position": base + index, **w} for index, w in enumerate(workspaces)], ordered=False)
    head = database.audit_logs.find_one({"seq": {"$exists": True}, "hash": {"$exists": True}}, sort=[("seq", -1)])
    audit = sealed(audit, head["seq"] if head else 0, bytes.fromhex(head["hash"]) if head else bytes(32))
    documents = [{"_id": a["id"], "timestamp": datetime.datetime.fromtimestamp(a["milliseconds"] / 1000, datetime.timezone.utc),
                  "user_id": a["user_id"], "user_email": a["user_email"], "action": a["action"],
                  "resource_type": a["resource_type"], "resource_id": a["resource_id"], "details": a["details"],
                  "ip_address": a["ip_address"], "success": a["success"], "seq": a["seq"],
                  "prev_hash": a["prev_hash"].hex(), "hash": a["hash"].hex()} for a in audit]
    for start in range(0, len(documents), 5000):
        database.audit_logs.insert_many(documents[start:start + 5000], ordered=False)
    client.close()
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("store", choices=["sqlite", "mongo"])
    parser.add_argument("target")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=200)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--tokens-out", required=True)
    parser.add_argument("--policies", type=int, default=0, help="enabled policies that refuse nothing (embedded store)")
    args = parser.parse_args()
    lines = seed_sqlite(args.target, args) if args.store == "sqlite" else seed_mongo(args.target, args)
    with open(args.tokens_out, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"seeded {args.users} users, {args.users} tokens, {args.workspaces} workspaces, {args.audit} audit entries",
          file=sys.stderr)


if __name__ == "__main__":
    main()
