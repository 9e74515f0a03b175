#!/usr/bin/env python3
"""The HTTP rows' Python column: httpx's AsyncClient on Trio, the library trio::http::client
is modelled on. Usage: httpx_bench.py URL N IN_FLIGHT keepalive|close. Makes IN_FLIGHT requests first
(the pool's connections), then N requests IN_FLIGHT at a time, and prints the process CPU time per
request of those N in nanoseconds (time.process_time: the interpreter's start-up is not counted)."""
import sys
import time

import httpx
import trio


async def main(url, n, in_flight, close):
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=in_flight)
    headers = {"Connection": "close"} if close else {}
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:
        left = 0

        async def worker():
            nonlocal left
            while left > 0:
                left -= 1
                r = await client.get(url)
                if r.status_code != 200 or len(r.content) != 1024:
                    raise SystemExit(f"bad response: {r.status_code}, {len(r.content)} bytes")

        async def round(count):
            nonlocal left
            left = count
            async with trio.open_nursery() as nursery:
                for _ in range(in_flight):
                    nursery.start_soon(worker)

        await round(in_flight)  # warm
        t0 = time.process_time()
        await round(n)
        print(int((time.process_time() - t0) * 1e9 / n), flush=True)


trio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "close")
