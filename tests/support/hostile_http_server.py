#!/usr/bin/env python3
"""A hostile HTTP/1.1 server for test_http.cpp: raw sockets, one path per way a server can break
HTTP. Listens on 127.0.0.1 and a free port, which it prints on its first line. Stops on SIGTERM or
when its standard input closes (so it never outlives the test). Every loop is bounded.

Paths (the query string is ignored unless a path says otherwise):
  /ok                    a correct 200 "fine" (to show the client still works)
  /bad-status            a status line that is not one ("HTTP/1.1 OK-ish")
  /garbage               random bytes instead of a response
  /huge-header           a 1 MB header line
  /conflicting-length    two Content-Length headers, 5 and 7
  /conflicting-length-list  one Content-Length header "5, 7"
  /same-length-twice     two Content-Length headers, both 5 (allowed: the same value)
  /short-length          Content-Length 100, 10 bytes, close
  /long-length           Content-Length 5, 50 bytes sent
  /chunk-bad-size        a chunk size that is not hexadecimal
  /chunk-truncated       a chunk of 100 bytes cut after 10, close
  /endless               a body with no length, as fast as the socket takes it (at most 64 GiB)
  /endless-length        Content-Length 64 GiB, then as fast as the socket takes it
  /gzip-bomb             Content-Encoding: gzip, ~1 MB on the wire that decodes to 1 GiB of zeros
  /gzip/N                Content-Encoding: gzip of N MiB of deterministic bytes (X-SHA256 of the decoded)
  /plain/N               the same N MiB uncompressed (X-SHA256)
  /deflate-raw/N         Content-Encoding: deflate as raw deflate (no zlib header) of /plain/N's bytes
  /deflate-zlib/N        Content-Encoding: deflate with zlib's header, of /plain/N's bytes
  /gzip-truncated        Content-Encoding: gzip, the first half of /gzip/1 (its Content-Length says so)
  /echo-head             the request's head as it arrived, as the body
  /gzip-twice-headers    two Content-Encoding: gzip headers over a body gzip'd once
  /drip                  headers, then one byte every 0.1 s (at most 600)
  /reset-mid-body        Content-Length 1000, 100 bytes, then a TCP reset
  /redirect-ftp?PORT     302 to ftp://127.0.0.1:PORT/x
  /redirect-file         302 to file:///etc/passwd
  /redirect-loop         302 to itself
"""
import gzip
import hashlib
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import zlib

CACHE = {}
CACHE_LOCK = threading.Lock()


def cached(key, make):
    with CACHE_LOCK:
        if key not in CACHE:
            CACHE[key] = make()
        return CACHE[key]


def deterministic(mib):
    block = bytes((i * 13 + 5) % 256 for i in range(65536))
    text = b"".join(b"line %d of the body, with some words to compress\n" % i for i in range(2048))
    unit = (block[:32768] + text)[: 1 << 16]
    return unit * (16 * mib)


def raw_body(mib):
    """/plain/N's bytes and their SHA-256, made once."""
    def make():
        body = deterministic(mib)
        return body, hashlib.sha256(body).hexdigest()
    return cached(("raw", mib), make)


def gzip_bomb():
    # 1 GiB of zeros as ~1 MB of gzip, made fast: after a full flush a deflate stream forgets its
    # history, so every 1 MiB block of zeros compresses to the same bytes.
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(zeros) + c.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + block + again * 1022 + last + struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)


def head(status, headers):
    lines = [status] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, None
        data += chunk
        if len(data) > 1 << 20:
            return None, None
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return (parts[1] if len(parts) >= 2 else "/"), data.split(b"\r\n\r\n", 1)[0]


def send_forever(conn, piece, limit):
    sent = 0
    while sent < limit:
        conn.sendall(piece)
        sent += len(piece)


def handle(conn):
    conn.settimeout(60)
    target, request_head = read_request(conn)
    if target is None:
        return
    path, _, query = target.partition("?")
    close = [("Connection", "close")]
    if path == "/ok":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "4")] + close) + b"fine")
    elif path == "/bad-status":
        conn.sendall(b"HTTP/1.1 OK-ish\r\nContent-Length: 2\r\n\r\nhi")
    elif path == "/garbage":
        rnd = random.Random(7)
        conn.sendall(bytes(rnd.randrange(256) for _ in range(4096)))
    elif path == "/huge-header":
        conn.sendall(head("HTTP/1.1 200 OK", [("X-Huge", "a" * (1 << 20)), ("Content-Length", "2")] + close) + b"hi")
    elif path == "/conflicting-length":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "5"), ("Content-Length", "7")] + close) + b"abcdefg")
    elif path == "/conflicting-length-list":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "5, 7")] + close) + b"abcdefg")
    elif path == "/same-length-twice":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "5"), ("Content-Length", "5")] + close) + b"abcde")
    elif path == "/short-length":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "100")] + close) + b"0123456789")
    elif path == "/long-length":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "5")] + close) + b"x" * 50)
    elif path == "/chunk-bad-size":
        conn.sendall(head("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")] + close) + b"5\r\nhello\r\nzz\r\nxx\r\n")
    elif path == "/chunk-truncated":
        conn.sendall(head("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")] + close) + b"64\r\n0123456789")
    elif path == "/endless":
        conn.sendall(head("HTTP/1.1 200 OK", close))
        send_forever(conn, b"e" * 65536, 64 << 30)
    elif path == "/endless-length":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", str(64 << 30))] + close))
        send_forever(conn, b"e" * 65536, 64 << 30)
    elif path == "/gzip-bomb":
        body = cached("bomb", gzip_bomb)
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))] + close))
        conn.sendall(body)
    elif path.startswith("/gzip/") or path.startswith("/plain/"):
        mib = int(path.rsplit("/", 1)[1])
        raw, digest = raw_body(mib)
        if path.startswith("/gzip/"):
            body = cached(("gzip", mib), lambda: gzip.compress(raw, 6))
            extra = [("Content-Encoding", "gzip")]
        else:
            body, extra = raw, []
        conn.sendall(head("HTTP/1.1 200 OK", extra + [("Content-Length", str(len(body))), ("X-SHA256", digest)] + close))
        conn.sendall(body)
    elif path.startswith("/deflate-raw/") or path.startswith("/deflate-zlib/"):
        mib = int(path.rsplit("/", 1)[1])
        raw, digest = raw_body(mib)
        wbits = -15 if path.startswith("/deflate-raw/") else 15
        c = zlib.compressobj(6, zlib.DEFLATED, wbits)
        body = cached((path, mib), lambda: c.compress(raw) + c.flush())
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Encoding", "deflate"), ("Content-Length", str(len(body))),
                                              ("X-SHA256", digest)] + close))
        conn.sendall(body)
    elif path == "/gzip-truncated":
        raw, _ = raw_body(1)
        body = gzip.compress(raw, 6)
        body = body[: len(body) // 2]
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))] + close))
        conn.sendall(body)
    elif path == "/gzip-twice-headers":
        body = gzip.compress(b"only once", 6)
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Encoding", "gzip"), ("Content-Encoding", "gzip"),
                                              ("Content-Length", str(len(body)))] + close) + body)
    elif path == "/echo-head":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", str(len(request_head)))] + close) + request_head)
    elif path == "/drip":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "600")] + close))
        for _ in range(600):
            conn.sendall(b"d")
            time.sleep(0.1)
    elif path == "/reset-mid-body":
        conn.sendall(head("HTTP/1.1 200 OK", [("Content-Length", "1000")]) + b"r" * 100)
        time.sleep(0.05)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif path == "/redirect-ftp":
        conn.sendall(head("HTTP/1.1 302 Found", [("Location", f"ftp://127.0.0.1:{query}/x"), ("Content-Length", "0")] + close))
    elif path == "/redirect-file":
        conn.sendall(head("HTTP/1.1 302 Found", [("Location", "file:///etc/passwd"), ("Content-Length", "0")] + close))
    elif path == "/redirect-loop":
        conn.sendall(head("HTTP/1.1 302 Found", [("Location", "/redirect-loop"), ("Content-Length", "0")] + close))
    else:
        conn.sendall(head("HTTP/1.1 404 Not Found", [("Content-Length", "0")] + close))


def serve(conn):
    try:
        handle(conn)
    except OSError:
        pass  # the client went away: expected for the endless paths
    finally:
        conn.close()


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    print(listener.getsockname()[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
