#!/usr/bin/env python3
"""The workspace of the stream benchmark: a TCP server on 127.0.0.1 that stands in for a VNC desktop.

  upstream.py PORT STATS_FILE [--record BYTES] [--interval SECONDS]

Like an RFB server it speaks first (a 12-byte banner), then it reads one mode byte from the viewer:
  P  paced: one record of --record bytes every --interval seconds (16 KiB every 16 ms: 1 MB/s),
     on an absolute schedule, so a late record is sent at once rather than lost;
  F  flood: records as fast as the connection takes them (the slow-reader phase).
Each record starts with the time it was handed to the kernel's socket (CLOCK_MONOTONIC, in ns,
the clock every process on the machine shares) and its sequence number, 8 bytes each,
big-endian; the rest is padding. Whatever the viewer sends after the mode byte (the benchmark's
"input") is read and dropped. Every half second it writes to STATS_FILE the bytes it has sent in
each mode and how late the paced schedule has run at worst, so the driver can tell what the
workspace produced from what the viewers received.
"""
import argparse
import asyncio
import json
import os
import struct
import time

BANNER = b"RFB 003.008\n"
HEADER = struct.Struct(">QQ")

sent = {"P": 0, "F": 0}
worst_lateness = [0.0]


async def drop_input(reader):
    while await reader.read(65536):
        pass


async def serve(reader, writer, record_size, interval):
    padding = bytes(record_size - HEADER.size)
    drop = None
    try:
        writer.write(BANNER)
        await writer.drain()
        mode = (await reader.readexactly(1)).decode("ascii", "replace")
        if mode not in sent:
            return
        drop = asyncio.create_task(drop_input(reader))
        start = time.monotonic()
        seq = 0
        while True:
            if mode == "P":
                due = start + seq * interval
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    worst_lateness[0] = max(worst_lateness[0], -delay)
            writer.write(HEADER.pack(time.monotonic_ns(), seq) + padding)
            await writer.drain()
            sent[mode] += record_size
            seq += 1
            if mode == "F":
                await asyncio.sleep(0)  # a reader that keeps up must not starve the other streams
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if drop:
            drop.cancel()
        writer.close()


async def report(path):
    while True:
        await asyncio.sleep(0.5)
        temporary = path + ".tmp"
        with open(temporary, "w") as stats:
            json.dump({"paced_bytes": sent["P"], "flood_bytes": sent["F"], "worst_lateness_ms": worst_lateness[0] * 1000}, stats)
        os.replace(temporary, path)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("stats")
    parser.add_argument("--record", type=int, default=16384)
    parser.add_argument("--interval", type=float, default=0.016)
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, args.record, args.interval), "127.0.0.1", args.port, backlog=1024)
    async with server:
        await asyncio.gather(server.serve_forever(), report(args.stats))


if __name__ == "__main__":
    asyncio.run(main())
