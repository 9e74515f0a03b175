#!/usr/bin/env python3
"""Python Trio's versions of the core workloads, for the comparison column. Prints JSON {workload: ns}.

Sizes are smaller than the C++ ones (Python is ~100x slower); results are per operation.
"""
import json
import os
import resource
import sys
import time

import trio
import trio.testing


def timed(fn, ops, repeat=3):
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        trio.run(fn)
        best.append((time.perf_counter() - t0) / ops * 1e9)
    best.sort()
    return best[len(best) // 2]


async def noop():
    pass


def main():
    n = int(os.environ.get("TRIO_PY_N", "20000"))
    out = {}

    async def spawn_join():
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(noop)
    out["spawn_join"] = timed(spawn_join, n)

    async def checkpoints():
        for _ in range(n):
            await trio.lowlevel.checkpoint()
    out["checkpoint"] = timed(checkpoints, n)

    async def checkpoints_100():
        async def worker():
            for _ in range(n // 100):
                await trio.lowlevel.checkpoint()
        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(worker)
    out["checkpoint_100_tasks"] = timed(checkpoints_100, n)

    async def await_task():
        async def one():
            return 1
        s = 0
        for _ in range(n):
            s += await one()
    out["await_task"] = timed(await_task, n)

    async def deadline_scope():
        for _ in range(n):
            with trio.move_on_after(1):
                pass
    out["deadline_scope"] = timed(deadline_scope, n)

    async def clock_read():
        for _ in range(n):
            trio.current_time()
    out["clock_read"] = timed(clock_read, n)

    async def sleepers():
        base = trio.current_time()
        async def sleeper(t):
            await trio.sleep_until(t)
        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(sleeper, base + i * 1e-9)
    out["sleepers"] = timed(sleepers, n)

    cancel_times = []
    async def cancel_parked():
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio.sleep_forever)
            await trio.testing.wait_all_tasks_blocked()
            cancel_times.append(time.perf_counter())
            nursery.cancel_scope.cancel()
        cancel_times[-1] = time.perf_counter() - cancel_times[-1]
    for _ in range(3):
        trio.run(cancel_parked)
    cancel_times.sort()
    out["cancel_parked"] = cancel_times[1] / n * 1e9

    async def pingpong():
        ping, pong = [trio.Event(), trio.Event()], [trio.Event(), trio.Event()]
        async def other():
            for i in range(n):
                await ping[i % 2].wait()
                pong[i % 2].set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            for i in range(n):
                if i > 0:
                    ping[(i + 1) % 2], pong[(i + 1) % 2] = trio.Event(), trio.Event()
                ping[i % 2].set()
                await pong[i % 2].wait()
    out["event_pingpong"] = timed(pingpong, n)

    for buf in (0, 64):
        async def channel():
            send, receive = trio.open_memory_channel(buf)
            async def producer():
                async with send:
                    for i in range(n):
                        await send.send(i)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(producer)
                async for _ in receive:
                    pass
        out[f"channel/{buf}"] = timed(channel, n)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
