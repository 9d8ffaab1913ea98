#!/usr/bin/env python3
"""The fleet's figures on one Redis (loopback): `fleet.py HOST REDIS_PORT [TRIPS] [CALLS]`.

(a) Propagation: two breaker-host nodes of one fleet; TRIPS times (default 1,000), node A trips
a fresh service (`call` with `force_failures: 5`) and node B is asked about that service
(`call`) until it rejects it. The delay runs from the moment A's trip is sent to B's first
rejection, so it includes A handling the trip, the stream, B's reader and one round trip to B.
(b) For contrast, pybreaker with `CircuitRedisStorage` on the same Redis: CALLS (default 20,000)
successful calls through one breaker, each of which reads (and writes) its state in Redis.
Prints `name value` lines.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time

import pybreaker
import redis

host = sys.argv[1]
port = int(sys.argv[2])
trips = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 20_000
url = f"redis://127.0.0.1:{port}/0"
fleet = f"bench-propagation-{time.time_ns()}"
logs = tempfile.mkdtemp(prefix="fleet-bench-")


class Node:
    """One breaker-host of the fleet, asked one message at a time."""

    def __init__(self, instance: str) -> None:
        args = [
            host,
            "--fleet",
            url,
            "--fleet-name",
            fleet,
            "--instance",
            instance,
            "--log-format",
            "off",
        ]
        with open(f"{logs}/{instance}.err", "wb") as err:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )
        self.next_id = 1

    def ask(self, body: dict[str, object]) -> str:
        body = {**body, "msg_id": self.next_id}
        self.next_id += 1
        doc = json.dumps({"src": "c", "dest": "bench", "body": body}) + "\n"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(doc.encode())
        self.proc.stdin.flush()
        return self.proc.stdout.readline().decode()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


a, b = Node("a"), Node("b")
delays = []
for i in range(trips):
    service = f"s{i}"
    assert "call_ok" in b.ask({"type": "call", "service": service})
    started = time.perf_counter()
    assert "circuit_breaker_open" in a.ask(
        {"type": "call", "service": service, "force_failures": 5}
    )
    while "Circuit breaker OPEN" not in b.ask({"type": "call", "service": service}):
        pass
    delays.append((time.perf_counter() - started) * 1000)
a.close()
b.close()
delays.sort()
print(f"fleet.propagation.trips {trips}")
print(f"fleet.propagation.p50_ms {statistics.median(delays):.3f}")
print(f"fleet.propagation.p99_ms {delays[int(len(delays) * 0.99) - 1]:.3f}")

storage = pybreaker.CircuitRedisStorage(
    pybreaker.STATE_CLOSED, redis.Redis(port=port), namespace=f"bench-{time.time_ns()}"
)
breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, state_storage=storage)
started = time.perf_counter()
for _ in range(calls):
    breaker.call(lambda: None)
elapsed = time.perf_counter() - started
print(f"fleet.pybreaker_redis.calls_per_s {calls / elapsed:.0f}")
