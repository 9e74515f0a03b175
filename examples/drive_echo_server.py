#!/usr/bin/env python3
"""Drives 13_echo_server (or 23_multicore_echo, the same server on every core) for ctest: reads the
port it prints, echoes through three concurrent clients, then stops it with SIGINT (Ctrl-C) and checks
it exits cleanly. Bounded everywhere."""
import re
import signal
import socket
import subprocess
import sys
import threading

exe = sys.argv[1]
# SIGINT at its default action in the child (a shell's background job would inherit it ignored,
# and trio handles Ctrl-C only when SIGINT is at its default).
proc = subprocess.Popen([exe, "0"], stdout=subprocess.PIPE, text=True,
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
try:
    line = proc.stdout.readline()
    assert line.startswith("Echo server listening on port "), line
    port = int(re.search(r"port (\d+)", line).group(1))
    multicore = "runners" in line  # 23_multicore_echo: no line per connection; a count at the end
    errors = []

    def client(i):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                for k in range(3):
                    msg = f"client {i} message {k}".encode()
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        chunk = s.recv(1024)
                        assert chunk, "server closed early"
                        got += chunk
                    assert got == msg, (got, msg)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    if not multicore:
        connections = [proc.stdout.readline() for _ in range(6)]  # 3 "connection from", 3 "closed"
        assert sum("connection from 127.0.0.1:" in c for c in connections) == 3, connections
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=10)[0]
    assert proc.returncode == 0, proc.returncode
    expected = "Stopped by Ctrl-C\nServed 3 connections" if multicore else "Stopped by Ctrl-C"
    assert rest.strip() == expected, rest
    print("echo server: 3 clients echoed, stopped by Ctrl-C")
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
