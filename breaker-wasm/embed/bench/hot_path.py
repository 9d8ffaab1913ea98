"""Embedded hot path from Python: guarded decisions per second through the installed package
(``breaker_wasm``), against ``pybreaker`` guarding the same no-op function, on the same workload
(1,000 services, 5 % failures, a fixed-seed PRNG), one guarded call at a time, side by side in
one run.

    python hot_path.py [decisions per round] [rounds]

Rows (each the median of the rounds, decisions per second):
  wasm guard   a function decorated with ``@breaker.guard(service)``, called: the batch path
               (ABI.md), as ``pybreaker``'s ``call`` guards a function
  wasm with    ``with breaker.guard(service):`` around the same code
  wasm call    ``breaker.handle({... "type": "call" ...})``: one JSON document per decision
  wasm batch   ``breaker.handle_raw()``: 1,000 ``call`` documents per call into the module
  pybreaker    ``CircuitBreaker(fail_max=5, reset_timeout=5).call(fn)``
"""

from __future__ import annotations

import contextlib
import random
import statistics
import sys
import time
from collections.abc import Callable

import pybreaker
from breaker_wasm import Breaker

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SERVICES = 1000
BATCH = 1000

rng = random.Random(42)
names = [f"svc-{i}" for i in range(SERVICES)]
ops = [(rng.randrange(SERVICES), rng.random() < 0.05) for _ in range(N)]


class Boom(Exception):
    pass


def ok() -> None:
    pass


def bad() -> None:
    raise Boom()


# The guards' node is not the one of the JSON rows: a message voids every grant (ABI.md), which
# would make each round's first guard row pay 1,000 re-grants.
breaker = Breaker()
guards = [breaker.guard(name) for name in names]
messages = Breaker()
guarded = [(guard(ok), guard(bad)) for guard in guards]
pybreakers = [pybreaker.CircuitBreaker(fail_max=5, reset_timeout=5) for _ in names]
msg_id = 0


def wasm_guard() -> None:
    for svc, fails in ops:
        with contextlib.suppress(Exception):
            guarded[svc][fails]()


def wasm_with() -> None:
    for svc, fails in ops:
        with contextlib.suppress(Exception), guards[svc]:
            if fails:
                raise Boom()


def wasm_call() -> None:
    global msg_id
    for svc, fails in ops:
        msg_id += 1
        body = (
            {"type": "call", "msg_id": msg_id, "force_failures": 1}
            if fails
            else {"type": "call", "msg_id": msg_id}
        )
        messages.handle({"src": "bench", "dest": names[svc], "body": body})


def wasm_batch() -> None:
    global msg_id
    answered = 0
    for start in range(0, N, BATCH):
        lines = []
        for svc, fails in ops[start : start + BATCH]:
            msg_id += 1
            extra = ',"force_failures":1' if fails else ""
            lines.append(
                f'{{"src":"bench","dest":"{names[svc]}","body":{{"type":"call","msg_id":{msg_id}{extra}}}}}'
            )
        replies, _ = messages.handle_raw("\n".join(lines))
        answered += replies.count(b"\n")
    assert answered == N, f"batch: {answered} replies for {N} documents"


def py_breaker() -> None:
    for svc, fails in ops:
        with contextlib.suppress(Exception):
            pybreakers[svc].call(bad if fails else ok)


runs: dict[str, Callable[[], None]] = {
    "wasm guard": wasm_guard,
    "wasm with": wasm_with,
    "wasm call": wasm_call,
    "wasm batch": wasm_batch,
    "pybreaker": py_breaker,
}
rates: dict[str, list[float]] = {k: [] for k in runs}
for run in runs.values():
    run()  # warm-up
for _ in range(ROUNDS):
    for name, run in runs.items():
        t0 = time.perf_counter()
        run()
        rates[name].append(N / (time.perf_counter() - t0))
m = {k: statistics.median(v) for k, v in rates.items()}
print(f"python {sys.version.split()[0]}: {N} decisions x {ROUNDS} rounds, median decisions/s")
for k, v in m.items():
    print(f"python.{k.replace(' ', '_')} {round(v)}")
print(f"python.ratio.guard_vs_pybreaker {m['wasm guard'] / m['pybreaker']:.2f}")
print(f"python.ratio.with_vs_pybreaker {m['wasm with'] / m['pybreaker']:.2f}")
print(f"python.ratio.call_vs_pybreaker {m['wasm call'] / m['pybreaker']:.2f}")
print(f"python.ratio.batch_vs_pybreaker {m['wasm batch'] / m['pybreaker']:.2f}")
