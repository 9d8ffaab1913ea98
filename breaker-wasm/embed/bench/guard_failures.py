"""What a guarded failure costs beside a guarded success, from Python, through the installed
package: CPU nanoseconds per call (the median of the rounds), one guarded call at a time, on a
breaker that never opens (so every call stays on the batch path, within the grant).

    python guard_failures.py [calls per round] [rounds]

Run it with two installs side by side (a venv per version, interleaved) to see what a change
costs each kind of call. CPU time of this process, not wall time, so that other work on the
machine moves the figures less.

Rows (ns per call):
  success            a decorated function that returns
  failure            a decorated function that raises ``Boom("connection refused")``
  with_failure       ``with guard:`` around the same raise
  unguarded_failure  the same raise and catch without a guard: the floor of the two above
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable

from breaker_wasm import Breaker

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 7

breaker = Breaker(failure_threshold=1_000_000)
guard = breaker.guard("db")


class Boom(Exception):
    pass


@guard
def ok() -> None:
    pass


@guard
def bad() -> None:
    raise Boom("connection refused")


def success() -> None:
    for _ in range(N):
        ok()


def failure() -> None:
    for _ in range(N):
        with contextlib.suppress(Boom):
            bad()


def with_failure() -> None:
    for _ in range(N):
        with contextlib.suppress(Boom), guard:
            raise Boom("connection refused")


def unguarded_failure() -> None:
    for _ in range(N):
        with contextlib.suppress(Boom):
            raise Boom("connection refused")


runs: dict[str, Callable[[], None]] = {
    "success": success,
    "failure": failure,
    "with_failure": with_failure,
    "unguarded_failure": unguarded_failure,
}
print(f"python {sys.version.split()[0]}: {N} calls x {ROUNDS} rounds, median CPU ns per call")
for name, run in runs.items():
    run()  # warm-up
    times = []
    for _ in range(ROUNDS):
        t0 = time.process_time_ns()
        run()
        times.append((time.process_time_ns() - t0) / N)
    print(f"python.{name} {statistics.median(times):.0f}")
