#!/usr/bin/env python3
"""Turns the wrk results of one run.sh into a section of docs/benchmarks.md and checks targets.

Fails (exit 1, with the reason) when, at 1,024 connections, auth p99 exceeds 100 ms or an API
scenario's p99 exceeds 200 ms (list, audit, launch-stop; login is bcrypt-bound and reported in
logins/s per core instead), or when the 10,000-connection run had socket errors.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys

SCENARIOS = ["bare", "floor", "about", "auth", "list", "bytes", "audit", "launch-stop", "login", "dashboard"]
# Issue #16's goals, as shares of the bare framework's throughput at 64 connections.
SHARE_GOALS = [("about", 0.85, "`GET /api/`"), ("auth", 0.70, "auth (`GET /api/auth/me`)"),
               ("list", 0.60, "list (`GET /api/workspaces`)"), ("audit", 0.25, "audit (`GET /api/audit-logs?limit=100`)")]
API = ["list", "audit", "launch-stop"]


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1024 / 1024
    except OSError:
        memory = 0
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser()
    for name in ["results", "store", "rss-kib", "users", "workspaces", "audit", "duration", "list-bytes", "command", "out"]:
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--pair-seconds", default="4")
    args = parser.parse_args()
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    by = {(r["scenario"], r["connections"]): r["result"] for r in rows if "round" not in r}
    # Paired rounds at 64 connections: {round: {scenario: result}}.
    rounds = {}
    for r in rows:
        if "round" in r:
            rounds.setdefault(r["round"], {})[r["scenario"]] = r["result"]

    def rps(result):
        return result["requests"] / (result["duration_us"] / 1e6) if result["duration_us"] else 0

    lines = [f"<!-- store:{args.store} -->",
             f"## {'Embedded store (SQLite)' if args.store == 'embedded' else 'MongoDB (SecantusDB)'}",
             "",
             f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}; "
             f"NeoSC and wrk share the machine. Dataset: {args.users} users with one live token each, "
             f"{args.workspaces} workspaces (+ the default catalogue), {args.audit} audit entries. "
             f"{args.duration} s per run, wrk -t2. Command: `{args.command.strip()}`.",
             "",
             "| scenario | connections | requests/s | × bare | × floor | p50 ms | p99 ms | p99.9 ms | non-2xx | socket errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def share(result, of):
        return f"{rps(result) / rps(of):.2f}" if of and rps(of) else "–"

    for connections in (64, 256, 1024):
        floor = by.get(("floor", connections))
        bare = by.get(("bare", connections))
        for scenario in SCENARIOS:
            result = by.get((scenario, connections))
            if not result:
                continue
            lines.append(f"| {scenario} | {connections} | {rps(result):,.0f} | {share(result, bare)} | {share(result, floor)} | "
                         f"{result['p50_us'] / 1000:.2f} | "
                         f"{result['p99_us'] / 1000:.2f} | {result['p999_us'] / 1000:.2f} | {result['non2xx']} | "
                         f"{result['socket_errors'] + result['timeouts']} |")
    held = by.get(("auth", 10000))
    if held:
        lines.append(f"| auth | 10000 | {rps(held):,.0f} | – | – | {held['p50_us'] / 1000:.2f} | {held['p99_us'] / 1000:.2f} | "
                     f"{held['p999_us'] / 1000:.2f} | {held['non2xx']} | {held['socket_errors'] + held['timeouts']} |")
    lines += ["", f"Peak resident memory of NeoSC over the whole run: {int(args.rss_kib) / 1024:.0f} MiB.", ""]

    failures, goals = [], []
    # A run that completed nothing, or answered errors where none are expected, is a failure
    # whatever its (empty) latency says.
    for (scenario, connections), result in sorted(by.items()):
        if result["requests"] == 0:
            failures.append(f"{scenario} at {connections} connections completed no request")
        elif scenario in ("bare", "floor", "about", "auth", "list", "bytes", "audit", "dashboard") and result["non2xx"] > 0:
            failures.append(f"{scenario} at {connections} connections answered {result['non2xx']} errors")
    auth = by.get(("auth", 1024))
    if auth and auth["p99_us"] > 100_000:
        failures.append(f"auth p99 {auth['p99_us'] / 1000:.1f} ms > 100 ms at 1,024 connections")
    for scenario in API:
        result = by.get((scenario, 1024))
        if result and result["p99_us"] > 200_000:
            failures.append(f"{scenario} p99 {result['p99_us'] / 1000:.1f} ms > 200 ms at 1,024 connections")
    if held and held["socket_errors"] + held["timeouts"] > 0:
        failures.append(f"10,000 connections: {held['socket_errors'] + held['timeouts']} socket errors or timeouts")
    login = by.get(("login", 64))
    if login:
        cores = os.cpu_count() or 1
        lines.append(f"Logins: {rps(login):,.0f}/s at 64 connections, {rps(login) / cores:,.0f}/s per core "
                     f"(bcrypt cost 10; see docs/configuration.md for NEOSC_BCRYPT_COST).")
    # An empty run meets nothing: its latency figures are zeros, not measurements.
    def ran(result):
        return bool(result) and result["requests"] > 0
    list_ = by.get(("list", 1024))
    floor = by.get(("floor", 1024))
    goals.append(("auth p99 ≤ 10 ms at 1,024 connections", ran(auth) and auth["p99_us"] <= 10_000))
    goals.append(("list p99 ≤ 20 ms at 1,024 connections", ran(list_) and list_["p99_us"] <= 20_000))
    goals.append(("auth throughput ≥ 50 % of the floor's at 1,024",
                  ran(auth) and ran(floor) and rps(auth) >= 0.5 * rps(floor)))
    bare = by.get(("bare", 64))

    def paired_shares(scenario):
        return [rps(taken[scenario]) / rps(taken["bare"]) for taken in rounds.values()
                if ran(taken.get(scenario)) and ran(taken.get("bare"))]

    for scenario, goal, name in SHARE_GOALS:
        shares = paired_shares(scenario)
        if rounds:
            # Judged on the median of the paired rounds' shares (a missing round is not a share).
            met = len(shares) == len(rounds) and statistics.median(shares) >= goal
            goals.append((f"{name} ≥ {goal:.0%} of bare Hummingbird at 64 connections (median of paired rounds)", met))
        else:
            result = by.get((scenario, 64))
            goals.append((f"{name} ≥ {goal:.0%} of bare Hummingbird at 64 connections",
                          ran(result) and ran(bare) and rps(result) >= goal * rps(bare)))
    as_large = by.get(("bytes", 64))
    list_64 = by.get(("list", 64))
    launch_stop = by.get(("launch-stop", 64))
    goals.append(("launch + stop ≥ 3,000 changes/s at 64 connections",
                  ran(launch_stop) and rps(launch_stop) >= 3_000))
    dashboard = by.get(("dashboard", 64))
    goals.append(("dashboard page p99 ≤ 20 ms at 64 connections (issue #12)",
                  ran(dashboard) and dashboard["non2xx"] == 0 and dashboard["p99_us"] <= 20_000))
    goals.append(("10,000 keep-alive connections with no errors",
                  held and held["socket_errors"] + held["timeouts"] + held["non2xx"] == 0))
    if rounds:
        lines += ["", f"Shares of bare Hummingbird at 64 connections, paired: {len(rounds)} rounds in which bare and each "
                  f"scenario ran {args.pair_seconds} s (after 2 s of warm-up), in an order reversed every other round; "
                  "each share is of the same round's bare.", "",
                  "| scenario | goal | median share | range | median requests/s |", "| --- | ---: | ---: | ---: | ---: |"]
        goal_of = {scenario: goal for scenario, goal, _ in SHARE_GOALS}
        for scenario in ["bare", "about", "auth", "list", "bytes", "audit"]:
            taken = [rps(r[scenario]) for r in rounds.values() if ran(r.get(scenario))]
            if not taken:
                continue
            shares = paired_shares(scenario)
            if not shares:  # bare completed nothing in the rounds this scenario did
                continue
            goal = f"{goal_of[scenario]:.2f}" if scenario in goal_of else ""
            spread = f"{min(shares):.2f}–{max(shares):.2f}" if scenario != "bare" else "–"
            lines.append(f"| {scenario} | {goal} | {statistics.median(shares):.2f} | {spread} | "
                         f"{statistics.median(taken):,.0f} |")
        list_of_bytes = [rps(r["list"]) / rps(r["bytes"]) for r in rounds.values() if ran(r.get("list")) and ran(r.get("bytes"))]
        if list_of_bytes:
            lines += ["", f"The list over bare answering as many bytes, same round: median {statistics.median(list_of_bytes):.2f} "
                      f"({min(list_of_bytes):.2f}–{max(list_of_bytes):.2f})."]
        for taken in rounds.values():
            for scenario, result in taken.items():
                if result["requests"] == 0 or result["non2xx"] > 0:
                    failures.append(f"{scenario} in a paired round answered {result['non2xx']} errors of {result['requests']}")
    lines += ["", "Goals: " + "; ".join(f"{name}: {'met' if ok else 'not met'}" for name, ok in goals) + "."]
    if ran(as_large) and ran(bare) and ran(list_64):
        lines += ["", f"The list's ceiling: bare Hummingbird answering a body of the list's mean size ({int(args.list_bytes):,} "
                  f"bytes, the `bytes` row) reached {rps(as_large) / rps(bare):.2f} of its own `{{\"ok\":true}}` at 64 "
                  f"connections; the list reached {rps(list_64) / rps(as_large):.2f} of that."]
    if ran(floor):
        # Little's law: with N closed-loop connections, mean latency = N / throughput. What the
        # no-work floor reaches bounds what any handler can reach on this machine.
        lines += ["", f"The floor itself, doing no work, has p99 {floor['p99_us'] / 1000:.1f} ms at 1,024 connections "
                  f"({rps(floor):,.0f} requests/s, so a mean of {1024 / rps(floor) * 1000:.1f} ms by Little's law): "
                  "latency goals below that cannot be met on this machine by any handler."]
    lines += [

              "", f"Seed targets at 1,024 connections: {'missed: ' + '; '.join(failures) if failures else 'met'}.",
              f"<!-- /store:{args.store} -->"]
    section = "\n".join(lines)

    header = ("# Benchmarks\n\nLoad: `Benchmarks/load/run.sh` (wrk on loopback, see its header). Each scenario is also "
              "given as a share of the bare framework's throughput at the same concurrency (`× bare`: Hummingbird "
              "with no application code, Benchmarks/bare, in the same run) and of NeoSC's floor route (`× floor`). Numbers are relative to this "
              "machine; SecantusDB is a Python test server, so its figures say nothing about MongoDB itself.\n")
    text = open(args.out).read() if os.path.exists(args.out) else header
    pattern = re.compile(rf"<!-- store:{args.store} -->.*?<!-- /store:{args.store} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    with open(args.out, "w") as out:
        out.write(text)
    print(section)
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
