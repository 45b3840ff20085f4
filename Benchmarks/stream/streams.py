#!/usr/bin/env python3
"""Drives the stream benchmark (run by Benchmarks/stream/run.sh, which starts everything it needs).

  streams.py --api URL --tokens FILE --upstream-port PORT --upstream-stats FILE --neosc-pid PID
             [--streams 100] [--duration 20] [--pause 15]

Creates a workspace streaming from the benchmark's workspace (upstream.py, `vnc://`), launches
one session per four streams (NeoSC's limit per session) for as many `neosc` users of the token
file, and runs, in one invocation:

  1. 1 stream through NeoSC (ticket, WebSocket, relay) beside 1 direct viewer (reading the
     workspace's TCP socket itself);
  2. N streams through NeoSC at 1 MB/s each beside N/10 direct viewers, NeoSC's memory sampled
     every second;
  3. N slow readers through NeoSC: they read for 3 s, stop reading for --pause s while the
     workspace pushes as fast as it can, then read again.

The direct viewers run at the same time as the ones through NeoSC, so both see the same machine
(the viewers' and the workspace's Python, NeoSC's own load): the difference between their
latencies at a percentile is what NeoSC adds, not what the moment did. Each viewer sends 8 bytes
of "input" every 100 ms (as a mouse would; it keeps the session active) and checks that the
records arrive whole and in order. The latency of a record is the time from
the workspace handing it to its socket to the viewer holding its last byte. Prints Markdown
tables and the verdict on the issue's targets; exits 1 when one is missed.
"""
import argparse
import asyncio
import json
import math
import os
import struct
import sys
import time
import urllib.request

import websockets

BANNER = b"RFB 003.008\n"
HEADER = struct.Struct(">QQ")
WARM_UP = 2.0
INPUT_EVERY = 0.1
TARGET_ADDED_P99_MS = 2.0
PAGE = os.sysconf("SC_PAGE_SIZE")


class Records:
    """Reassembles the workspace's records from whatever pieces the transport delivers."""

    def __init__(self, size):
        self.size = size
        self.skip = len(BANNER)
        self.position = 0
        self.head = b""
        self.expected = 0
        self.out_of_order = 0
        self.received = 0
        self.measured_bytes = 0
        self.latencies = None  # a list while the phase measures

    def feed(self, data, now):
        self.received += len(data)
        if self.latencies is not None:
            self.measured_bytes += len(data)
        view = memoryview(data)
        index, end = 0, len(data)
        if self.skip:
            index = min(self.skip, end)
            self.skip -= index
        while index < end:
            if self.position < HEADER.size:
                self.head += bytes(view[index:index + HEADER.size - self.position])
            step = min(self.size - self.position, end - index)
            self.position += step
            index += step
            if self.position == self.size:
                stamp, sequence = HEADER.unpack(self.head)
                if sequence != self.expected:
                    self.out_of_order += 1
                self.expected = sequence + 1
                if self.latencies is not None:
                    self.latencies.append(now - stamp)
                self.position, self.head = 0, b""


class Memory:
    """NeoSC's resident memory and CPU time, from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def rss_mib(self):
        with open(f"/proc/{self.pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(base, method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read() or b"null")


async def send_input(send):
    while True:
        await asyncio.sleep(INPUT_EVERY)
        await send(b"\x05\x00" + struct.pack(">HHH", 1, 2, 3))  # an RFB PointerEvent's size


class Viewer:
    """One stream: direct (TCP) or through NeoSC (a ticket, then a WebSocket)."""

    def __init__(self, record_size):
        self.records = Records(record_size)
        self.reading = asyncio.Event()
        self.reading.set()
        self.ready = asyncio.Event()
        self.error = None

    async def direct(self, port, mode):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            self.records.feed(await reader.readexactly(len(BANNER)), time.monotonic_ns())
            writer.write(mode)

            async def send(data):
                writer.write(data)
                await writer.drain()

            inputs = asyncio.create_task(send_input(send))
            self.ready.set()
            try:
                while True:
                    await self.reading.wait()
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionError("the workspace closed the connection")
                    self.records.feed(data, time.monotonic_ns())
            finally:
                inputs.cancel()
        finally:
            writer.close()

    async def through_neosc(self, stream_url, mode):
        async with websockets.connect(
            stream_url, compression=None, max_size=2**20, max_queue=16, ping_interval=None, open_timeout=15,
            close_timeout=5,
        ) as socket:
            while self.records.skip:
                self.records.feed(await socket.recv(), time.monotonic_ns())
            await socket.send(mode)
            inputs = asyncio.create_task(send_input(socket.send))
            self.ready.set()
            try:
                while True:
                    await self.reading.wait()
                    self.records.feed(await socket.recv(), time.monotonic_ns())
            finally:
                inputs.cancel()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(math.ceil(fraction * len(sorted_values))) - 1)]


def slope_mib_per_minute(samples):
    if len(samples) < 3:
        return math.nan
    xs = [t for t, _ in samples]
    ys = [v for _, v in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    denominator = sum((x - mean_x) ** 2 for x in xs)
    return numerator / denominator * 60


class Bench:
    def __init__(self, args):
        self.args = args
        self.memory = Memory(args.neosc_pid)
        self.sessions = []  # (token, session id)
        self.results = []

    def upstream_stats(self):
        with open(self.args.upstream_stats) as stats:
            return json.load(stats)

    def prepare(self):
        lines = [line.split() for line in open(self.args.tokens) if line.strip()]
        admin = next(token for token, role, _ in lines if role == "admin")
        members = [token for token, role, _ in lines if role == "neosc"]
        needed = math.ceil(self.args.streams / 4)
        if len(members) < needed:
            sys.exit(f"{self.args.streams} streams need {needed} neosc users; the token file has {len(members)}")
        workspace = "ws-stream-bench"
        api(self.args.api, "POST", "/api/workspaces", admin, {
            "id": workspace, "name": "Stream benchmark desktop", "type": "linux", "url": f"/workspaces/{workspace}",
            "stream_upstream": f"vnc://127.0.0.1:{self.args.upstream_port}", "allowed_roles": ["admin", "neosc"],
        })
        for token in members[:needed]:
            launched = api(self.args.api, "POST", f"/api/workspaces/{workspace}/launch", token)
            self.sessions.append((token, launched["session_id"]))

    async def open_viewers(self, count, through_neosc, mode):
        viewers = [Viewer(self.args.record) for _ in range(count)]
        tasks = []
        for index, viewer in enumerate(viewers):
            if through_neosc:
                token, session = self.sessions[index // 4]
                grant = await asyncio.to_thread(api, self.args.api, "POST", f"/api/sessions/{session}/stream-ticket", token)
                run = viewer.through_neosc(grant["stream_url"], mode)
            else:
                run = viewer.direct(self.args.upstream_port, mode)
            tasks.append(asyncio.create_task(self.guard(viewer, run)))
        await asyncio.wait_for(asyncio.gather(*(viewer.ready.wait() for viewer in viewers)), 60)
        return viewers, tasks

    @staticmethod
    async def guard(viewer, run):
        try:
            await run
        except Exception as error:  # reported with the phase, never silently
            viewer.error = f"{type(error).__name__}: {error}"
            viewer.ready.set()

    async def close(self, viewers, tasks):
        for task in tasks:
            task.cancel()  # a viewer closes its connection on the way out
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)

    async def sample(self, samples, stop):
        start = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - start, self.memory.rss_mib()))
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except TimeoutError:
                pass

    async def paced(self, count, probes):
        """`count` viewers through NeoSC and `probes` direct ones at the same time: both see the
        same machine (the viewers' and the workspace's Python, NeoSC), so their difference is
        NeoSC's, not the moment's."""
        rss_before = self.memory.rss_mib()
        viewers, tasks = await self.open_viewers(count, True, b"P")
        direct, direct_tasks = await self.open_viewers(probes, False, b"P")
        await asyncio.sleep(WARM_UP)
        for viewer in viewers + direct:
            viewer.records.latencies = []
        samples, stop_sampling = [], asyncio.Event()
        sampler = asyncio.create_task(self.sample(samples, stop_sampling))
        cpu_before, started = self.memory.cpu_seconds(), time.monotonic()
        await asyncio.sleep(self.args.duration)
        for viewer in viewers + direct:
            viewer.records.latencies, viewer.measured = None, viewer.records.latencies
        elapsed, cpu = time.monotonic() - started, self.memory.cpu_seconds() - cpu_before
        stop_sampling.set()
        await sampler
        rss_end = self.memory.rss_mib()
        await self.close(viewers + direct, tasks + direct_tasks)
        await asyncio.sleep(2)
        self.results.append(dict(
            streams=count, neosc=self.summary(viewers, elapsed), direct=self.summary(direct, elapsed),
            cpu=cpu / elapsed * 100, rss_before=rss_before, rss_first=samples[0][1],
            rss_peak=max(v for _, v in samples), rss_end=rss_end, rss_after=self.memory.rss_mib(),
            slope=slope_mib_per_minute(samples), samples=samples,
        ))

    @staticmethod
    def summary(viewers, elapsed):
        latencies = sorted(value / 1e6 for viewer in viewers for value in viewer.measured)
        return dict(
            streams=len(viewers),
            mb_per_stream=sum(v.records.measured_bytes for v in viewers) / elapsed / len(viewers) / 1e6,
            p50=percentile(latencies, 0.50), p99=percentile(latencies, 0.99), p999=percentile(latencies, 0.999),
            max=latencies[-1] if latencies else math.nan, records=len(latencies),
            out_of_order=sum(v.records.out_of_order for v in viewers), errors=[v.error for v in viewers if v.error],
        )

    async def slow_readers(self, count):
        rss_before = self.memory.rss_mib()
        viewers, tasks = await self.open_viewers(count, True, b"F")
        await asyncio.sleep(3)
        pushed_before = self.upstream_stats()["flood_bytes"]
        received_before = sum(v.records.received for v in viewers)
        for viewer in viewers:
            viewer.reading.clear()
        await asyncio.sleep(1)  # what was in flight lands in the buffers
        rss_paused = self.memory.rss_mib()
        samples, stop_sampling = [], asyncio.Event()
        sampler = asyncio.create_task(self.sample(samples, stop_sampling))
        await asyncio.sleep(self.args.pause - 1)
        stop_sampling.set()
        await sampler
        time.sleep(0.6)  # the workspace's next stats line
        pushed = self.upstream_stats()["flood_bytes"] - pushed_before
        received = sum(v.records.received for v in viewers) - received_before
        for viewer in viewers:
            viewer.reading.set()
        await asyncio.sleep(3)
        rss_resumed = self.memory.rss_mib()
        await self.close(viewers, tasks)
        await asyncio.sleep(2)
        self.slow = dict(
            streams=count, pause=self.args.pause, pushed=pushed / 2**20, received=received / 2**20,
            rss_before=rss_before, rss_paused=rss_paused, rss_peak=max(v for _, v in samples), rss_resumed=rss_resumed,
            rss_after=self.memory.rss_mib(), slope=slope_mib_per_minute(samples), samples=samples,
            out_of_order=sum(v.records.out_of_order for v in viewers), errors=[v.error for v in viewers if v.error],
        )

    async def run(self):
        self.prepare()
        n = self.args.streams
        await self.paced(1, 1)
        await self.paced(n, max(1, n // 10))
        await self.slow_readers(n)
        return self.report()

    def report(self):
        a = self.args
        print(f"Records of {a.record} bytes every {a.interval * 1000:g} ms per stream "
              f"({a.record / a.interval / 1e6:.2f} MB/s), {a.duration} s measured after {WARM_UP:g} s, "
              f"8 bytes of input every {INPUT_EVERY * 1000:g} ms per stream.\n")
        print("| phase | path | streams | received MB/s per stream | p50 ms | p99 ms | p99.9 ms | max ms | records | out of order |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in self.results:
            for path, row in (("NeoSC", r["neosc"]), ("direct", r["direct"])):
                print(f"| {r['streams']} through NeoSC | {path} | {row['streams']} | {row['mb_per_stream']:.3f} | "
                      f"{row['p50']:.3f} | {row['p99']:.3f} | {row['p999']:.3f} | {row['max']:.3f} | {row['records']:,} | "
                      f"{row['out_of_order']} |")
        print()
        verdicts = []
        print("| streams through NeoSC | NeoSC CPU % | added p50 ms | added p99 ms | added p99.9 ms | target (p99) |")
        print("| ---: | ---: | ---: | ---: | ---: | --- |")
        for r in self.results:
            added = {k: r["neosc"][k] - r["direct"][k] for k in ("p50", "p99", "p999")}
            met = added["p99"] <= TARGET_ADDED_P99_MS
            verdicts.append(met)
            print(f"| {r['streams']} | {r['cpu']:.0f} | {added['p50']:.3f} | {added['p99']:.3f} | {added['p999']:.3f} | "
                  f"≤ {TARGET_ADDED_P99_MS:g} ms: {'met' if met else 'missed'} |")
        print()
        neosc = self.results[-1]
        print("NeoSC's resident memory (MiB), sampled every second while the streams ran:\n")
        print("| phase | before the streams | first sample | peak | last sample | 2 s after closing | slope MiB/min |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in self.results:
            print(f"| {r['streams']} paced stream(s) | {r['rss_before']:.1f} | {r['rss_first']:.1f} | {r['rss_peak']:.1f} | "
                  f"{r['rss_end']:.1f} | {r['rss_after']:.1f} | {r['slope']:+.2f} |")
        s = self.slow
        print(f"| {s['streams']} slow readers, paused {s['pause']} s | {s['rss_before']:.1f} | {s['rss_paused']:.1f} | "
              f"{s['rss_peak']:.1f} | {s['rss_resumed']:.1f} | {s['rss_after']:.1f} | {s['slope']:+.2f} |")
        print()
        for label, series in ((f"{neosc['streams']} paced streams", neosc["samples"]), ("slow readers", s["samples"])):
            print(f"RSS every second, {label} (MiB): {' '.join(f'{v:.1f}' for _, v in series)}  ")
        print()
        held = s["pushed"] - s["received"]
        print(f"Slow readers: while the viewers did not read, the workspace could push {s['pushed']:.1f} MiB and they "
              f"received {s['received']:.1f} MiB; {held:.1f} MiB ({held / s['streams'] * 1024:.0f} KiB per stream) sat in "
              f"the kernel's socket buffers, NeoSC and the viewers' WebSocket library. Out of order after resuming: "
              f"{s['out_of_order']}.\n")
        growth = neosc["rss_peak"] - neosc["rss_first"]
        stalled = s["samples"][len(s["samples"]) // 2:]
        late_growth = max(v for _, v in stalled) - stalled[0][1]
        flat = growth <= 4 and late_growth <= 1
        verdicts.append(flat)
        print(f"Memory flat with {neosc['streams']} streams (paced: peak within 4 MiB of the first sample; stalled "
              f"readers: the buffers fill, then no more than 1 MiB of growth over the pause's second half): "
              f"{'met' if flat else 'missed'} (paced: peak − first {growth:.1f} MiB; stalled: "
              f"{(s['rss_peak'] - s['rss_before']) / s['streams'] * 1024:.0f} KiB per stream at the peak, "
              f"{late_growth:.1f} MiB over the second half).")
        stats = self.upstream_stats()
        print(f"The workspace's paced schedule ran at worst {stats['worst_lateness_ms']:.1f} ms late.")
        rows = [row for r in self.results for row in (r["neosc"], r["direct"])]
        errors = [e for row in rows for e in row["errors"]] + s["errors"]
        broken = sum(row["out_of_order"] for row in rows) + s["out_of_order"]
        for error in errors[:5]:
            print(f"stream error: {error}", file=sys.stderr)
        paced_ok = all(row["mb_per_stream"] >= 0.95 * a.record / a.interval / 1e6 for row in rows)
        if not paced_ok:
            print("Some phase received less than 95% of the offered rate: the figures above are not at full load.")
        return 0 if all(verdicts) and not errors and not broken and paced_ok else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--upstream-stats", required=True)
    parser.add_argument("--neosc-pid", type=int, required=True)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--pause", type=float, default=15)
    parser.add_argument("--record", type=int, default=16384)
    parser.add_argument("--interval", type=float, default=0.016)
    sys.exit(asyncio.run(Bench(parser.parse_args()).run()))


if __name__ == "__main__":
    main()
