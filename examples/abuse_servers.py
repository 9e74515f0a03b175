#!/usr/bin/env python3
"""Abuses an example server for ctest, the way clients on a network do, and after each abuse checks
that the server still serves a well-behaved client:

  echo EXE   13_echo_server: resets, garbage, 200 KiB without a newline, 500 connections then all
             reset, a client resetting again and again while another talks
  chat EXE   14_chat_server: the same, and a line over 64 KiB
  tls EXE    17_tls_echo (server mode): garbage instead of a ClientHello, a client that closes
             without close_notify, a reset after the handshake, 20 stalled handshakes

Loopback only, every wait bounded; the server is stopped with Ctrl-C (SIGINT), killed by its pid if
it does not stop. Python's standard library only."""
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
rng = random.Random(1234)


class Server:
    """The program under test; its stdout and stderr lines are collected by two threads."""

    def __init__(self, argv, ready_prefix):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace",
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=self._drain, args=(f, lines), daemon=True)
                        for f, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.readers:
            t.start()
        line = self.wait_for(lambda: next((l for l in self.out if l.startswith(ready_prefix)), None), 30)
        assert line, f"no line starting with {ready_prefix!r}; stderr: {''.join(self.err)}"
        self.port = int(line.split()[-1])

    @staticmethod
    def _drain(f, lines):
        for line in f:
            lines.append(line)

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            assert self.proc.poll() is None, f"the server died ({self.proc.returncode}): {''.join(self.err)[-3000:]}"
            time.sleep(0.02)
        return predicate()

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def alive(self, what):
        assert self.proc.poll() is None, \
            f"the server died after {what} ({self.proc.returncode}): {''.join(self.err)[-3000:]}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        """Ctrl-C; returns the rest of stdout. Killed by pid if it does not stop in 10 s."""
        try:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)
            for t in self.readers:
                t.join(5)
            assert self.proc.returncode == 0, (self.proc.returncode, "".join(self.err)[-3000:])
            return "".join(self.out)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


def connect(port, timeout=5):
    return socket.create_connection((HOST, port), timeout=timeout)


def reset(s):
    """Closes with SO_LINGER 0: the peer gets a TCP reset (RST), not a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_until_closed(s, timeout=5):
    """Reads until the peer's FIN or reset; returns what came. Fails if neither comes in time."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


def timed(name, fn, server):
    start = time.monotonic()
    fn(server)
    server.alive(name)
    print(f"  {name}: {time.monotonic() - start:.2f} s", flush=True)


def abuse(label, server, well_behaved, abuses, stop_line, check_log=None):
    """Each abuse in turn, a well-behaved client served after each, then Ctrl-C stops the server."""
    try:
        well_behaved(server)
        for name, fn in abuses:
            timed(name, fn, server)
        if check_log:
            check_log(server)
        rest = server.stop()
        assert rest.strip().endswith(stop_line), rest[-200:]
    finally:
        server.kill()
    print(f"{label}: served a well-behaved client after each abuse, stopped by Ctrl-C")


def five_hundred_then_reset(server, after_connect=None):
    baseline = server.fds()
    socks = [connect(server.port) for _ in range(500)]
    if after_connect:
        after_connect(socks)
    server.wait_for(lambda: server.fds() >= baseline + 400, 30)  # accepted (most of them at least)
    for s in socks:
        reset(s)
    # Every connection's fd is closed again (nothing leaks, nothing hangs). The bounds leave room for
    # a sanitizer build on a loaded machine: an ASan chat takes 3 to 5 s here (500 broadcasts).
    assert server.wait_for(lambda: server.fds() <= baseline, 30), (server.fds(), baseline)


# ---- echo ----

def echo_ok(server, msg=b"still serving?"):
    with connect(server.port) as s:
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(65536)
            assert chunk, "the server closed early"
            got += chunk
        assert got == msg, (got[:100], msg[:100])


def echo_reset_at_once(server):
    for _ in range(20):
        reset(connect(server.port))
    echo_ok(server)


def echo_reset_mid_echo(server):
    # 4 MiB that we never read: the server blocks sending its echo, then our reset breaks it.
    for _ in range(5):
        s = connect(server.port, timeout=0.3)
        try:
            s.sendall(b"x" * (4 << 20))
        except socket.timeout:
            pass
        reset(s)
    assert server.wait_for(lambda: any("Connection reset by peer" in l or "Broken pipe" in l for l in server.err), 5)
    echo_ok(server)


def echo_garbage(server):
    blob = bytes(rng.getrandbits(8) for _ in range(65536))
    echo_ok(server, blob)
    echo_ok(server)


def echo_long_line(server):
    echo_ok(server, b"a" * (200 << 10))
    echo_ok(server)


def echo_500_then_reset(server):
    five_hundred_then_reset(server)
    echo_ok(server)


def echo_reset_while_another_talks(server):
    errors = []
    stop = threading.Event()

    def talker():
        try:
            with connect(server.port) as s:
                for i in range(200):
                    msg = f"round {i}".encode()
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        chunk = s.recv(1024)
                        assert chunk, "the server closed the talker"
                        got += chunk
                    assert got == msg
        except Exception as e:  # reported below
            errors.append(repr(e))
        stop.set()

    t = threading.Thread(target=talker)
    t.start()
    while not stop.is_set():
        s = connect(server.port)
        s.sendall(b"bye")
        reset(s)
    t.join(10)
    assert not errors, errors
    echo_ok(server)


def run_echo(exe):
    def logged_with_peer(server):  # each failed connection was logged with its peer
        assert any(l.startswith(HOST + ":") and "Connection reset by peer" in l for l in server.err), server.err[:5]

    abuse("echo server", Server([exe, "0"], "Echo server listening on port "), echo_ok,
          [("resets at once", echo_reset_at_once), ("resets mid-echo", echo_reset_mid_echo),
           ("garbage", echo_garbage), ("200 KiB without a newline", echo_long_line),
           ("500 connections then all reset", echo_500_then_reset),
           ("resets while another client talks", echo_reset_while_another_talks)],
          "Stopped by Ctrl-C", logged_with_peer)


# ---- chat ----

class ChatClient:
    def __init__(self, port):
        self.s = connect(port)
        self.buf = b""

    def line(self, timeout=5):
        self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            assert chunk, "the server closed this client"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def expect(self, text, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.line(max(0.01, deadline - time.monotonic()))
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}")

    def hears(self, speaker, text, server, timeout=5):
        """Whether this client hears `text` from speaker, who repeats it every 0.1 s: the chat drops
        lines for a client whose outbox is full (a burst of joins and leaves), by design."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            speaker.send(text)
            try:
                while True:
                    if text in self.line(0.1):
                        return
            except socket.timeout:
                pass
        raise AssertionError(f"never heard {text!r}; the server said: {''.join(server.err)[-2000:]}")

    def send(self, text):
        self.s.sendall(text.encode() + b"\n")

    def close(self):
        self.s.close()


def chat_ok(server):
    a, b = ChatClient(server.port), ChatClient(server.port)
    try:
        a.expect("joined")  # b's arrival
        word = f"ping {rng.getrandbits(32)}"
        a.send(word)
        b.expect(word)
    finally:
        a.close()
        b.close()


def chat_resets(server):
    for _ in range(20):
        reset(connect(server.port))
    chat_ok(server)


def chat_garbage(server):
    watcher = ChatClient(server.port)
    s = connect(server.port)
    s.sendall(bytes(rng.getrandbits(8) for _ in range(65536)))
    s.close()
    watcher.expect(" left")  # the garbage client's end was seen; the watcher got its "lines" meanwhile
    watcher.close()
    chat_ok(server)


def chat_long_line(server):
    s = connect(server.port)
    try:
        s.sendall(b"a" * (70 << 10) + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    read_until_closed(s)  # the server ends this client
    s.close()
    assert server.wait_for(lambda: any("longer than max_line_length" in l for l in server.err), 5), server.err[-5:]
    chat_ok(server)


def chat_500_then_reset(server):
    five_hundred_then_reset(server)
    chat_ok(server)


def chat_leave_while_another_talks(server):
    talker, listener = ChatClient(server.port), ChatClient(server.port)
    errors = []
    done = threading.Event()

    def talk():
        try:
            for i in range(300):
                talker.send(f"talk {i}")
        except Exception as e:  # reported below
            errors.append(repr(e))
        done.set()

    def listen():  # keeps reading, so that the talker's lines do not pile up in the server
        try:
            while not done.is_set():
                try:
                    listener.line(0.2)
                except socket.timeout:
                    pass
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=talk), threading.Thread(target=listen)]
    for t in threads:
        t.start()
    k = 0
    while not done.is_set() or k < 40:
        c = connect(server.port)
        reset(c) if k % 2 else c.close()
        k += 1
    for t in threads:
        t.join(10)
    assert not errors, errors
    # The talker is still in the room: it hears a newcomer.
    newcomer = ChatClient(server.port)
    talker.hears(newcomer, "after the storm", server)
    for c in (talker, listener, newcomer):
        c.close()
    chat_ok(server)


def run_chat(exe):
    abuse("chat server", Server([exe, "0"], "chat server on port "), chat_ok,
          [("resets", chat_resets), ("garbage", chat_garbage), ("a line over 64 KiB", chat_long_line),
           ("500 connections then all reset", chat_500_then_reset),
           ("clients leaving while another talks", chat_leave_while_another_talks)],
          "chat server stopped")


# ---- TLS ----

HANDSHAKE_TIMEOUT = 2.0  # given to the server (a good handshake under ASan on a loaded machine: well under)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a throwaway CA; the demo mode checks certificates
    return ctx


def tls_ok(server, msg=b"still serving over TLS?"):
    with connect(server.port) as raw:
        s = tls_context().wrap_socket(raw, server_hostname="localhost")
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(65536)
            assert chunk, "the server closed early"
            got += chunk
        assert got == msg
        s.unwrap()  # close_notify both ways: a well-behaved client


def tls_garbage(server):
    # Plain HTTP, and bytes that are no TLS record (not even the start of a long one to wait for).
    for payload in (b"GET / HTTP/1.0\r\n\r\n", b"\0" * 5 + bytes(rng.getrandbits(8) for _ in range(4096))):
        s = connect(server.port)
        s.sendall(payload)
        read_until_closed(s)  # an alert perhaps, then the end
        s.close()
    assert server.wait_for(lambda: sum("the TLS handshake failed" in l for l in server.err) >= 2, 5), server.err[-5:]
    tls_ok(server)


def tls_no_close_notify(server):
    for _ in range(3):
        raw = connect(server.port)
        s = tls_context().wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"hi")
        assert s.recv(16) == b"hi"
        s.close()  # Python's ssl: no close_notify, the TCP connection just ends
    tls_ok(server)


def tls_reset_after_handshake(server):
    for _ in range(3):
        raw = connect(server.port)
        s = tls_context().wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"hi")
        reset(s)
    tls_ok(server)


def tls_stalled_handshakes(server):
    baseline = server.fds()
    start = time.monotonic()
    stalled = [connect(server.port, timeout=10) for _ in range(20)]
    for s in stalled[::2]:
        s.sendall(b"\x16\x03\x01")  # the first bytes of a handshake record, then nothing
    tls_ok(server)  # served at once meanwhile
    served = time.monotonic() - start
    assert served < HANDSHAKE_TIMEOUT, served
    for s in stalled:
        read_until_closed(s, timeout=10)
        closed = time.monotonic() - start
        assert HANDSHAKE_TIMEOUT * 0.9 <= closed < HANDSHAKE_TIMEOUT + 4, closed
        s.close()
    assert server.wait_for(lambda: server.fds() <= baseline, 5), (server.fds(), baseline)
    assert any(f"its TLS handshake did not finish within {HANDSHAKE_TIMEOUT:g} s" in l for l in server.err), server.err[-5:]
    tls_ok(server)


def run_tls(exe):
    abuse("TLS echo server", Server([exe, "0", str(HANDSHAKE_TIMEOUT)], "TLS echo server listening on port "), tls_ok,
          [("garbage instead of a ClientHello", tls_garbage), ("ends without close_notify", tls_no_close_notify),
           ("resets after the handshake", tls_reset_after_handshake),
           ("20 stalled handshakes", tls_stalled_handshakes)],
          "Stopped by Ctrl-C")


if __name__ == "__main__":
    {"echo": run_echo, "chat": run_chat, "tls": run_tls}[sys.argv[1]](sys.argv[2])
