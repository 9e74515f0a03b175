#!/usr/bin/env python3
"""Turns trio_bench's Google Benchmark JSON into the comparison table (and a CSV for the chart).

usage: report.py BENCH.json [MORE.json ...] [--trio-python TRIO.json] [--csv OUT.csv]
                 [--openssl-speed KBPS]   (`openssl speed -evp aes-128-gcm -bytes 16384`'s figure, 1000s of B/s)
ns/op = median real time per iteration / operations per iteration.
"""
import json
import re
import statistics
import sys
from collections import defaultdict

WORKLOADS = [
    ("spawn_join", "spawn + join a child (1M no-op children)"),
    ("checkpoint", "checkpoint, one task (2M)"),
    ("checkpoint_100_tasks", "checkpoint, 100 tasks (2M)"),
    ("await_task", "co_await a task<int> that returns at once"),
    ("deadline_scope", "move_on_after around an instant body (Asio: timer arm + cancel)"),
    ("clock_read", "one clock read, the floor under the line above"),
    ("sleepers", "100k tasks with distinct deadlines, woken"),
    ("cancel_parked", "cancel 100k parked tasks, cancel() to nursery exit"),
    ("event_pingpong", "event ping-pong round trip (Asio: channels)"),
    ("channel/0", "memory channel, buffer 0, per item"),
    ("channel/64", "memory channel, buffer 64, per item"),
    ("idle_task_memory", "1M sleeping tasks: resident bytes per task"),
    ("pipe_roundtrip", "wait_readable on a pipe, round trip"),
    ("to_thread", "to_thread::run_sync of an empty function (Asio: post to a thread_pool and back)"),
    ("from_thread", "from_thread::run_sync from a worker (Asio: post to the io_context, wait on a future)"),
    ("tcp_echo/1", "TCP echo over loopback, 64 B, 1 connection, per round trip"),
    ("tcp_echo/50", "TCP echo over loopback, 64 B, 50 connections, per round trip"),
    ("tcp_bulk", "1 GiB over one loopback connection, per 64 KiB read"),
    ("accept_close", "accept + close a short loopback connection"),
]

# trio-cpp against the plain blocking calls (lib "floor"): files and subprocesses.
FLOOR_WORKLOADS = [
    ("file_lines", "256 MiB file line by line, per line: read_line(std::string&) vs std::getline"),
    ("file_lines_opt", "the same through read_line() -> std::optional<std::string>"),
    ("file_seq_read", "1 GiB in 1 MiB reads, per read (floor: a read(2) loop)"),
    ("file_random_read", "4 KiB reads at random offsets, 64 tasks, per read (floor: one pread loop)"),
    ("file_random_read_cold", "the same from the device (pages evicted first)"),
    ("run_process", "run_process({\"/bin/true\"}) (floor: posix_spawn + waitpid)"),
]


def load(paths):
    benchmarks = []
    for path in paths:
        with open(path) as f:
            benchmarks += json.load(f)["benchmarks"]
    runs = defaultdict(list)
    for b in benchmarks:
        if b.get("run_type") == "aggregate":
            continue
        name = re.sub(r"/iterations:\d+", "", b["run_name"].split("/manual_time")[0])
        lib, _, workload = name.partition("_")
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        ops = b.get("ops", 1.0) or 1.0
        runs[(lib, workload)].append(
            {"ns_per_op": b["real_time"] * unit / ops, "allocs": b.get("allocs_per_op", 0.0),
             "bytes": b.get("bytes_per_task"), "server_cpu": b.get("server_user_ns_per_op"),
             "client_cpu": b.get("client_cpu_ns_per_op")})
    out = {}
    for key, rs in runs.items():
        out[key] = {
            "ns_per_op": statistics.median(r["ns_per_op"] for r in rs),
            "allocs": statistics.median(r["allocs"] for r in rs),
            "bytes": statistics.median(r["bytes"] for r in rs) if rs[0]["bytes"] is not None else None,
            "server_cpu": statistics.median(r["server_cpu"] for r in rs) if rs[0]["server_cpu"] is not None else None,
            "client_cpu": statistics.median(r["client_cpu"] for r in rs) if rs[0]["client_cpu"] is not None else None,
        }
    return out


def fmt_value(workload, r):
    if r is None:
        return "n/a"
    if workload == "idle_task_memory":
        return f"{r['bytes']:.0f} B"
    v = r["ns_per_op"]
    return f"{v:.1f} ns" if v < 100 else f"{v:.0f} ns"


def http_table(bench):
    """HTTP: trio::http::client vs bare libcurl loops (the floors) vs the curl program."""
    rows = [("1,000 GETs of 1 KiB, 50 in flight, keep-alive", "http_get/0"),
            ("the same, a new connection per request", "http_get/1")]
    if not any(bench.get(("trio", k)) for _, k in rows):
        return
    us = lambda r: f"{r['client_cpu'] / 1000:.1f} µs" if r and r.get("client_cpu") is not None else "n/a"
    print()
    print("| HTTP client, CPU per request | trio::http | bare multi-socket loop (floor) | bare curl_multi_perform loop "
          "| curl --parallel (CLI) | Python httpx on Trio | trio / multi-socket floor | trio / perform loop | CLI / trio "
          "| httpx / trio | trio allocs/request | trio requests/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, k in rows:
        t, fs, f, c, hx = (bench.get((lib, k)) for lib in ("trio", "floorsock", "floor", "curlcli", "httpx"))
        if not t:
            continue
        ratio = lambda a, b: f"{a['client_cpu'] / b['client_cpu']:.2f}x" if a and b else "n/a"
        print(f"| {label} | {us(t)} | {us(fs)} | {us(f)} | {us(c)} | {us(hx)} | {ratio(t, fs)} | {ratio(t, f)} "
              f"| {ratio(c, t)} | {ratio(hx, t)} | {t['allocs']:.1f} | {1e9 / t['ns_per_op']:.0f} |")


def tls_table(bench, openssl_speed):
    """TLS: trio::ssl_stream vs asio::ssl::stream vs blocking OpenSSL, and the cipher's own speed."""
    hs = [bench.get((lib, "tls_handshake")) for lib in ("trio", "asio", "floor")]
    bulks = [("256 MiB sent in 64 KiB send_all", [bench.get((lib, "tls_bulk/0")) for lib in ("trio", "asio", "floor")]),
             ("256 MiB received in 64 KiB receive_some",
              [bench.get((lib, "tls_bulk/1")) for lib in ("trio", "asio", "floor")])]
    if not hs[0] and not bulks[0][1][0]:
        return
    rate = lambda r: f"{1e9 / r['ns_per_op']:.0f}/s" if r else "n/a"
    gbps = lambda r: f"{65536 / r['ns_per_op']:.2f} GB/s" if r else "n/a"
    cpu_gbps = lambda r: f"{65536 / r['server_cpu']:.2f} GB/s" if r and r.get("server_cpu") else "n/a"
    us = lambda r: f"{r['server_cpu'] / 1000:.0f} µs" if r and r.get("server_cpu") else "n/a"
    ratio = lambda a, b: f"{b['ns_per_op'] / a['ns_per_op']:.2f}x" if a and b else "n/a"
    print()
    print("| TLS 1.3 (AES-128-GCM, ECDSA P-256) | trio-cpp | Asio 1.22 | blocking OpenSSL (floor) | trio-cpp / Asio "
          "| server CPU: trio-cpp | Asio | floor | trio-cpp allocs/op |")
    print("|---|---|---|---|---|---|---|---|---|")
    if hs[0]:
        print(f"| handshakes on loopback (server side) | {rate(hs[0])} | {rate(hs[1])} | {rate(hs[2])} | "
              f"{ratio(hs[0], hs[1])} | {us(hs[0])} | {us(hs[1])} | {us(hs[2])} | {hs[0]['allocs']:.2f} |")
    for label, bulk in bulks:
        if not bulk[0]:
            continue
        print(f"| {label} | {gbps(bulk[0])} | {gbps(bulk[1])} | {gbps(bulk[2])} | "
              f"{ratio(bulk[0], bulk[1])} | {cpu_gbps(bulk[0])} | {cpu_gbps(bulk[1])} | {cpu_gbps(bulk[2])} "
              f"| {bulk[0]['allocs']:.2f} |")
    cipher = bench.get(("floor", "tls_cipher"))
    parts = []
    if cipher:
        parts.append(f"AES-128-GCM alone on 16 KiB records (EVP, in process) {gbps(cipher)}")
    if openssl_speed:
        parts.append(f"`openssl speed -evp aes-128-gcm -bytes 16384` {openssl_speed / 1e9:.2f} GB/s")
    if parts:
        print("\nThe cipher (the floor under the server's CPU per byte): " + "; ".join(parts))


def main(argv):
    inputs = []
    for a in argv[1:]:
        if a.startswith("--"):
            break
        inputs.append(a)
    bench = load(inputs)
    python = {}
    if "--trio-python" in argv:
        with open(argv[argv.index("--trio-python") + 1]) as f:
            python = json.load(f)
    csv_path = argv[argv.index("--csv") + 1] if "--csv" in argv else None
    header = ["workload", "trio-cpp", "allocs/op", "Asio 1.22", "Asio allocs/op", "Asio / trio-cpp"]
    if python:
        header.append("Python Trio")
    rows = []
    csv = ["workload,trio_ns,asio_ns"]
    for key, label in WORKLOADS:
        ours = bench.get(("trio", key))
        theirs = bench.get(("asio", key))
        if ours is None:
            continue
        metric = "bytes" if key == "idle_task_memory" else "ns_per_op"
        ratio = "n/a"
        if theirs and ours[metric]:
            ratio = f"{theirs[metric] / ours[metric]:.1f}x"
        row = [label, fmt_value(key, ours), f"{ours['allocs']:.2f}", fmt_value(key, theirs),
               f"{theirs['allocs']:.2f}" if theirs else "n/a", ratio]
        if python:
            p = python.get(key)
            row.append("n/a" if p is None else (f"{p:.0f} B" if key == "idle_task_memory" else f"{p:.0f} ns"))
        rows.append(row)
        if key != "idle_task_memory":
            csv.append(f"{key},{ours['ns_per_op']:.3f},{theirs['ns_per_op'] if theirs else 0:.3f}")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    echo = [k for k, _ in WORKLOADS if k.startswith("tcp_echo") and ("trio", k) in bench]
    if echo:
        print()
        print("| TCP echo | trio-cpp | Asio 1.22 | raw liburing (floor) | trio-cpp / floor, round trips/s |"
              " server user CPU per round trip: trio-cpp | Asio | floor |")
        print("|---|---|---|---|---|---|---|---|")
        for k in echo:
            t, a, u = bench.get(("trio", k)), bench.get(("asio", k)), bench.get(("uring", k))
            rate = lambda r: f"{1e9 / r['ns_per_op'] / 1000:.0f}k/s" if r else "n/a"
            cpu = lambda r: f"{r['server_cpu']:.0f} ns" if r and r.get("server_cpu") is not None else "n/a"
            floor = f"{u['ns_per_op'] / t['ns_per_op']:.2f}x" if u else "n/a"
            print(f"| {k} | {rate(t)} | {rate(a)} | {rate(u)} | {floor} | {cpu(t)} | {cpu(a)} | {cpu(u)} |")
        two = bench.get(("trio", "tcp_echo_2runners/50"))
        if two:
            print(f"| tcp_echo/50, trio-cpp with two runners (SO_REUSEPORT) | {1e9 / two['ns_per_op'] / 1000:.0f}k/s |"
                  f" | | | {two['server_cpu']:.0f} ns (both threads) | | |")
    bulk = (bench.get(("trio", "tcp_bulk")), bench.get(("asio", "tcp_bulk")))
    if bulk[0]:
        gbps = lambda r: f"{65536 / r['ns_per_op']:.2f} GB/s" if r else "n/a"
        print(f"\nBulk transfer: trio-cpp {gbps(bulk[0])}, Asio {gbps(bulk[1])}")
    floors = [(k, label) for k, label in FLOOR_WORKLOADS if ("trio", k) in bench]
    if floors:
        print()
        print("| files and processes | trio-cpp | blocking floor | trio-cpp / floor (speed) |")
        print("|---|---|---|---|")
        for k, label in floors:
            t, f = bench.get(("trio", k)), bench.get(("floor", k.removesuffix("_opt")))
            speed = f"{f['ns_per_op'] / t['ns_per_op']:.2f}x" if f else "n/a"
            value = lambda r: "n/a" if r is None else (
                f"{r['ns_per_op']:.1f} ns" if r["ns_per_op"] < 100 else
                f"{r['ns_per_op'] / 1000:.1f} µs" if r["ns_per_op"] >= 10000 else f"{r['ns_per_op']:.0f} ns")
            print(f"| {label} | {value(t)} | {value(f)} | {speed} |")
    http_table(bench)
    tls_table(bench, float(argv[argv.index("--openssl-speed") + 1].rstrip("k")) * 1000
              if "--openssl-speed" in argv else None)
    if csv_path:
        with open(csv_path, "w") as f:
            f.write("\n".join(csv) + "\n")


if __name__ == "__main__":
    main(sys.argv)
