#!/usr/bin/env python3
"""The HTTP server test_http.cpp talks to: Python's http.server (ThreadingHTTPServer, a deep accept
queue), on 127.0.0.1 and a free port, which it prints on its first line. Stops on SIGTERM or when
its standard input closes (so it never outlives the test).

Paths:
  /hello                 200 "hello, world" (text/plain), two Set-Cookie headers
  /status/N              status N, body "status N"
  /echo                  any method: JSON-ish text with the method, path+query, a header and the body
  /redirect/CODE/N       CODE redirect to /redirect/CODE/N-1 ... /redirect/CODE/0 -> /hello
  /loop                  302 to itself
  /big/N                 N MiB of deterministic bytes, X-SHA256 header (Content-Length framing)
  /chunked/N             N chunks of "chunk i\n" in chunked transfer encoding
  /stall/S               sleeps S seconds before answering
  /drip                  headers, then a few bytes every 0.2 s for a long time
  /truncated             Content-Length 1000, sends 10 bytes, closes
  http://ANY/...         (an absolute URL: a request sent to a proxy) 200 "proxied METHOD URL", Via header
"""
import hashlib
import http.server
import os
import signal
import sys
import threading
import time


def big_body(mib):
    block = bytes((i * 7 + 3) % 251 for i in range(65536))
    return block * (16 * mib)


BIG = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_text(self, code, text, extra=()):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        if self.path.startswith("http://"):  # the client was told this server is its proxy
            self.send_text(200, f"proxied {self.command} {self.path}", [("Via", "1.1 trio-test-proxy")])
            return
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        data = self.body()
        if parts[0] == "hello":
            self.send_text(200, "hello, world", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        elif parts[0] == "status":
            self.send_text(int(parts[1]), "status " + parts[1])
        elif parts[0] == "echo":
            text = (f"method={self.command}\npath={self.path}\nx-test={self.headers.get('X-Test', '')}\n"
                    f"content-type={self.headers.get('Content-Type', '')}\nuser-agent={self.headers.get('User-Agent', '')}\n"
                    f"body={data.decode(errors='replace')}\n")
            self.send_text(200, text)
        elif parts[0] == "redirect":
            code, n = int(parts[1]), int(parts[2])
            target = "/hello" if n == 0 else f"/redirect/{code}/{n - 1}"
            self.send_text(code, "", [("Location", target)])
        elif parts[0] == "loop":
            self.send_text(302, "", [("Location", "/loop")])
        elif parts[0] == "big":
            mib = int(parts[1])
            if mib not in BIG:
                body = big_body(mib)
                BIG[mib] = (body, hashlib.sha256(body).hexdigest())
            body, digest = BIG[mib]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-SHA256", digest)
            self.end_headers()
            view = memoryview(body)
            for i in range(0, len(body), 1 << 20):
                self.wfile.write(view[i:i + (1 << 20)])
        elif parts[0] == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(parts[1])):
                piece = f"chunk {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif parts[0] == "stall":
            time.sleep(float(parts[1]))
            self.send_text(200, "late")
        elif parts[0] == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(500):
                    self.wfile.write(b"drip\n")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif parts[0] == "truncated":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_text(404, "not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-response (the cancellation tests) are expected


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
