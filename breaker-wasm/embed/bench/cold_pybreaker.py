"""Cold-start peer: reads one protocol message on stdin, runs it through a pybreaker breaker
(force_failures: n failing calls of a no-op function; 5 consecutive failures open it) and
prints the same reply line breaker-host prints.

    python cold_pybreaker.py < target/bench/cold.json    (the task's first message, from .ci/bench)
"""

import json
import sys

import pybreaker

msg = json.loads(sys.stdin.read())
body_in = msg["body"]
service = body_in.get("service", msg["dest"])
breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=5)


def downstream() -> None:
    raise RuntimeError("failed")


failures = 0
body = {"type": "call_ok", "in_reply_to": body_in["msg_id"], "service": service, "state": "closed"}
for _ in range(body_in.get("force_failures", 0)):
    if breaker.current_state == "open":
        break
    try:
        breaker.call(downstream)
    except (RuntimeError, pybreaker.CircuitBreakerError):
        failures += 1
    if breaker.current_state == "open":
        body = {
            "type": "circuit_breaker_open",
            "in_reply_to": body_in["msg_id"],
            "service": service,
            "failures": failures,
        }
    else:
        body = {
            "type": "call_failed",
            "in_reply_to": body_in["msg_id"],
            "service": service,
            "state": "closed",
            "failures": failures,
        }
print(json.dumps({"src": msg["dest"], "dest": msg["src"], "body": body}, separators=(",", ":")))
