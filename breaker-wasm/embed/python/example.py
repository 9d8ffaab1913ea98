#!/usr/bin/env python3
"""A circuit breaker protecting a real HTTP downstream on 127.0.0.1.

Starts a small HTTP server on a free port that fails (503) on demand, then calls it through
``Breaker.guard``: the breaker opens after 3 failures, fails fast while open, lets a probe
through after 1 s (which fails while the server is still down, re-opening it), and closes on
the first successful probe once the server has recovered. Every transition is printed.

    pip install target/dist/breaker_wasm-*.whl && python example.py
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from breaker_wasm import Breaker, BreakerOpen, Transition

SERVICE = "inventory"


class Downstream(BaseHTTPRequestHandler):
    failing = False
    hits = 0

    def do_GET(self) -> None:
        Downstream.hits += 1
        status, text = (503, b"unavailable\n") if Downstream.failing else (200, b"42 widgets\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:  # keep the example's output readable
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stock"
    print(f"downstream listening on {url}")

    breaker = Breaker(failure_threshold=3, open_timeout_ms=1000)  # the packaged module

    def transition(t: Transition) -> None:
        print(f"  TRANSITION {t.from_state} -> {t.to_state} ({t.reason})")

    breaker.add_listener(transition, service=SERVICE)

    @breaker.guard(SERVICE)
    def get_stock() -> str:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: bytes = response.read()
        return body.decode().strip()

    def attempt(label: str) -> None:
        try:
            print(f"{label}: ok, {get_stock()}")
        except BreakerOpen as e:
            after = f"retry after {e.retry_after_ms} ms; downstream not called"
            print(f"{label}: failed fast, breaker open ({after})")
        except urllib.error.HTTPError as e:
            print(f"{label}: downstream error HTTP {e.code}")

    started = time.monotonic()
    for i in range(2):
        attempt(f"call {i + 1}")
    print("-- the downstream starts failing")
    Downstream.failing = True
    for i in range(2, 7):
        attempt(f"call {i + 1}")
    hits = Downstream.hits
    print(f"   (the downstream saw {hits} requests for 7 calls)")

    time.sleep(1.05)
    attempt("probe 1 (still down)")
    print("-- the downstream recovers")
    Downstream.failing = False
    attempt("call while open")
    time.sleep(1.05)
    attempt("probe 2")
    attempt("call after closing")
    print(f"state: {breaker.status(SERVICE)['state']}, {time.monotonic() - started:.1f} s")
    server.shutdown()


if __name__ == "__main__":
    main()
