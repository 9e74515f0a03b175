#!/usr/bin/env python3
"""The echo servers' user-space CPU per round trip, measured by sampling (the server-CPU goal).

Why not getrusage: this VM's kernel accounts CPU time by ticks (CONFIG_TICK_CPU_ACCOUNTING, HZ=250):
a thread's exact run time is split into user and system by the mode each 4 ms tick finds it in. An
echo server spends 1-5% of its time in user space, so over one benchmark iteration its user time is a
handful of ticks: 200 ns per round trip per tick at 20,000 round trips. Instead: the exact run time
of the server thread (CLOCK_THREAD_CPUTIME_ID, the benchmark's server_cpu_ns_per_op) times the share
of perf's samples (cpu-clock, 4 kHz, in a second run) that land in user space in the server threads.

Usage: benchmarks/user_cpu.py BUILD/benchmarks/trio_bench [REPETITIONS]  (needs perf; run as root
or with perf_event_paranoid <= 1). Prints one line per row and a table for the README.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROWS = ["trio_tcp_echo/1", "asio_tcp_echo/1", "uring_tcp_echo/1",
        "trio_tcp_echo/50", "asio_tcp_echo/50", "uring_tcp_echo/50"]


def measure(binary, row, tmp):
    data, out = os.path.join(tmp, "perf.data"), os.path.join(tmp, "bench.json")
    # The exact CPU time from a run without perf (sampling slows the kernel paths it interrupts)...
    subprocess.run([binary, f"--benchmark_filter=^{row}/", "--benchmark_out=" + out, "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench = json.load(open(out))["benchmarks"][0]
    # ...the user share from a run under perf at its default rate (4 kHz).
    subprocess.run(["perf", "record", "-q", "-o", data, "--", binary, f"--benchmark_filter=^{row}/",
                    "--benchmark_min_time=2"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "pid,dso", "--stdio",
                             "-F", "sample,pid,dso"], check=True, capture_output=True, text=True).stdout
    main_pid, user, kernel = None, 0, 0
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+):\S+\s+(.*\S)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    main_pid = min(pid for _, pid, _ in rows)  # the client: the process's main thread
    for n, pid, dso in rows:
        if pid == main_pid:
            continue  # every other thread is a server (one per iteration)
        if dso.startswith("[kernel"):
            kernel += n
        else:
            user += n
    share = user / max(1, user + kernel)
    cpu = bench["server_cpu_ns_per_op"]
    return cpu, share, cpu * share, bench.get("server_user_ns_per_op")


def main():
    binary = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row in ROWS:
            runs = sorted((measure(binary, row, tmp) for _ in range(reps)), key=lambda r: r[2])
            cpu, share, user, rusage = runs[len(runs) // 2]  # the median by user ns
            results[row] = user
            print(f"{row:20s} server CPU {cpu:7.0f} ns/round trip, user share {share * 100:5.2f}% "
                  f"-> user {user:6.0f} ns (getrusage said {rusage:.0f})")
    print()
    print("| server user CPU per round trip (sampled) | trio-cpp | Asio 1.22 | raw liburing | trio / Asio |")
    print("|---|---|---|---|---|")
    for conns in (1, 50):
        t, a, u = (results[f"{lib}_tcp_echo/{conns}"] for lib in ("trio", "asio", "uring"))
        print(f"| {conns} connection{'s' if conns > 1 else ''} | {t:.0f} ns | {a:.0f} ns | {u:.0f} ns | {t / a:.2f}x |")


if __name__ == "__main__":
    main()
