#!/usr/bin/env python3
"""A TCP relay that behaves like a WAN link (this kernel has no netem): every byte is delayed by
half the round-trip time in each direction and each direction is capped at a bit rate, like a
link with a serialisation delay and a propagation delay. One relay is one link (a hospital's
line to the coordinator); several connections through it share its capacity.

    wan-relay.py --listen 127.0.0.1:7101 --target 127.0.0.1:7070 --rtt-ms 50 --mbit 20 [--stats FILE]

Model: a chunk read at time t leaves the link at max(t, link_free) + len·8/rate (the link is
busy until then) and arrives rtt/2 later. At most --buffer bytes are in flight per direction;
beyond it the relay stops reading, so TCP flow control pushes back on the sender as a full
bottleneck queue would. Runs until SIGTERM/SIGINT (or --seconds), then writes byte counts to
--stats as JSON.
"""
import argparse, asyncio, json, signal, time

class Link:
    """One direction of the link: rate limit plus propagation delay."""
    def __init__(self, rate_bps, delay_s):
        self.rate, self.delay, self.free_at, self.bytes = rate_bps, delay_s, 0.0, 0

    def schedule(self, n):
        now = time.monotonic()
        self.free_at = max(now, self.free_at) + n * 8 / self.rate
        self.bytes += n
        return self.free_at + self.delay

async def pump(reader, writer, link, buffer):
    queue = asyncio.Queue(maxsize=max(1, buffer // 16384))
    async def deliver():
        while True:
            item = await queue.get()
            if item is None:
                break
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass
    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            await queue.put((link.schedule(len(data)), data))
    except (ConnectionError, OSError):
        pass
    await queue.put(None)
    try:
        await task
    except (ConnectionError, OSError):
        pass

async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--rtt-ms", type=float, default=50)
    ap.add_argument("--mbit", type=float, default=20)
    ap.add_argument("--buffer", type=int, default=1 << 20, help="bytes in flight per direction (default 1 MiB)")
    ap.add_argument("--stats", default=None)
    ap.add_argument("--seconds", type=float, default=3600, help="stop after this long (a bound, default 1 h)")
    a = ap.parse_args()
    lhost, lport = a.listen.rsplit(":", 1)
    thost, tport = a.target.rsplit(":", 1)
    up, down = Link(a.mbit * 1e6, a.rtt_ms / 2000), Link(a.mbit * 1e6, a.rtt_ms / 2000)
    async def handle(creader, cwriter):
        try:
            treader, twriter = await asyncio.open_connection(thost, int(tport))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, twriter, up, a.buffer), pump(treader, cwriter, down, a.buffer))
        for w in (twriter, cwriter):
            w.close()
    server = await asyncio.start_server(handle, lhost, int(lport))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), a.seconds)
    except asyncio.TimeoutError:
        pass
    server.close()
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump({"listen": a.listen, "rtt_ms": a.rtt_ms, "mbit": a.mbit, "bytes_up": up.bytes, "bytes_down": down.bytes}, f)

if __name__ == "__main__":
    asyncio.run(main())
