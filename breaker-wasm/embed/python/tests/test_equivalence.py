"""The batch path against one ``acquire`` and one ``record`` message per call.

A seeded random sequence of guarded calls (outcomes, durations, failure texts, calls nested in
calls), clock steps, config changes and status reads runs through a guard on one instance, and
through the two-step messages on another, whose ``record`` carries the text a guard passes as
its ``error``. Both must give the same listener events (times and reasons), the same status
replies, snapshots and metrics (with the breakers' last failures in them); and each transition
must reach the guard's listeners before the guarded call that caused it returns.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from breaker_wasm import Breaker, BreakerOpen, Transition
from conftest import FakeClock

SERVICES = ["a", "b", "c"]
CONFIGS: list[dict[str, Any]] = [
    {"failure_threshold": 3},
    {"failure_threshold": 5, "slow_call_ms": 40},
    {"window": {"kind": "count", "size": 10, "minimum_calls": 4, "failure_rate": 50}},
    {
        "window": {"kind": "count", "size": 8, "minimum_calls": 20, "failure_rate": 30},
        "slow_call_ms": 30,
        "slow_call_rate": 50,
    },
    {
        "window": {"kind": "time", "size_ms": 500, "minimum_calls": 5, "failure_rate": 40},
        "open_timeout_ms": 300,
    },
]


class Down(Exception):
    pass


class Skipped(Exception):
    """Excluded by the guard: recorded as ignored."""


#: The messages of failures: none, plain, non-ASCII, and over 256 characters (cut by the guard,
#: then by the module to 256 bytes at a character boundary).
MESSAGES = ["", "connection refused", "d\u00e9j\u00e0 vu \u2014 503", "x" * 300, "\u00e9" * 300]


@dataclass(frozen=True)
class Call:
    """One guarded call: its downstream takes ``ms`` (after ``inner``, a call it makes under
    another guard, if any) and ends as ``kind``, a failure raising ``Down(message)``."""

    service: str
    kind: str
    ms: int
    message: str
    inner: Call | None = None

    def text(self) -> str | None:
        """The failure text a guard passes: what the message side's record sends."""
        if self.kind != "failure":
            return None
        return f"Down: {self.message}"[:256] if self.message else "Down"


def random_call(rng: random.Random, nested: bool) -> Call:
    return Call(
        rng.choice(SERVICES),
        rng.choice(["success", "success", "success", "failure", "failure", "ignored"]),
        rng.choice([0, 1, 5, 35, 60]),
        rng.choice(MESSAGES),
        random_call(rng, False) if nested and rng.random() < 0.2 else None,
    )


def guarded_call(breaker: Breaker, clock: FakeClock, call: Call, decorated: bool) -> None:
    """``call`` under a guard. A nested call's record is not its acquire's neighbour in the log,
    so it takes an entry of its own, and its text that entry's index."""
    guard = breaker.guard(call.service, ignore=(Skipped,))

    def downstream() -> None:
        if call.inner is not None:
            guarded_call(breaker, clock, call.inner, not decorated)
        clock.now += call.ms
        if call.kind == "failure":
            raise Down(call.message) if call.message else Down()
        if call.kind == "ignored":
            raise Skipped()

    with contextlib.suppress(BreakerOpen, Down, Skipped):
        if decorated:
            guard(downstream)()
        else:
            with guard:
                downstream()


def two_step_call(breaker: Breaker, clock: FakeClock, call: Call) -> None:
    try:
        permit = breaker.acquire(call.service)
    except BreakerOpen:
        return
    started = clock.now
    if call.inner is not None:
        two_step_call(breaker, clock, call.inner)
    clock.now += call.ms
    breaker.record(call.service, permit, call.kind, clock.now - started, error=call.text())


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Replies alike but for ``in_reply_to`` (the two instances number messages apart)."""
    return {**a, "in_reply_to": 0} == {**b, "in_reply_to": 0}


def run(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    clocks = FakeClock(1_000), FakeClock(1_000)
    fast, slow = Breaker(clock=clocks[0]), Breaker(clock=clocks[1])
    seen: tuple[list[Transition], list[Transition]] = ([], [])
    texts = 0  # status replies compared with a last failure in them
    fast.add_listener(seen[0].append)
    slow.add_listener(seen[1].append)
    for step in range(steps):
        roll = rng.random()
        if roll < 0.8:
            call = random_call(rng, nested=True)
            guarded_call(fast, clocks[0], call, decorated=rng.random() < 0.5)
            two_step_call(slow, clocks[1], call)
            # Before the guarded call returned, its transitions reached the listeners.
            assert seen[0] == seen[1], f"seed {seed}, step {step}"
        elif roll < 0.9:
            step_ms = rng.choice([1, 50, 200, 400])
            clocks[0].now += step_ms
            clocks[1].now += step_ms
        elif roll < 0.95:
            config = rng.choice(CONFIGS)
            target = rng.choice([None, *SERVICES])
            assert same(fast.configure(config, target), slow.configure(config, target))
        else:
            service = rng.choice(SERVICES)
            status = fast.status(service)
            assert same(status, slow.status(service)), f"seed {seed}, step {step}"
            texts += "last_failure" in status
    assert seen[0] == seen[1]
    assert fast.snapshot() == slow.snapshot()
    assert same(fast.status(), slow.status())
    # Slow and ignored calls are counted for metrics however they were recorded.
    assert fast.metrics() == slow.metrics()
    assert len(seen[0]) > 10, "the sequence should move the breakers"
    assert texts >= 10, "the status reads should show failure texts"


@pytest.mark.parametrize("seed", range(8))
def test_the_batch_path_and_the_messages_agree(wasm_path: Path, seed: int) -> None:
    run(seed, 600)


def test_the_default_nanosecond_clock_reaches_the_module_as_whole_milliseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guards log ``time.time_ns()`` as it is and the module divides: each call must arrive at
    the milliseconds, and with the duration, that two millisecond readings would have given,
    including calls that straddle a millisecond (slow calls here count from 2 ms)."""
    now = [1_700_000_000_000_999_000]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    # The default clock (the patched time.time_ns), against the same time in milliseconds.
    fast = Breaker(failure_threshold=3, slow_call_ms=2)
    slow = Breaker(clock=lambda: now[0] // 1_000_000, failure_threshold=3, slow_call_ms=2)
    rng = random.Random(7)
    for _ in range(300):
        service = rng.choice(SERVICES)
        kind = rng.choice(["success", "success", "failure"])
        took = rng.choice([0, 400_000, 1_000_000, 1_999_999, 2_000_001, 2_600_000])
        start = now[0]
        with contextlib.suppress(Down, Exception), fast.guard(service):
            now[0] += took
            if kind == "failure":
                raise Down()
        end, now[0] = now[0], start
        try:
            permit = slow.acquire(service)
        except Exception:
            permit = 0
        now[0] = end
        if permit:
            duration = end // 1_000_000 - start // 1_000_000
            slow.record(
                service, permit, kind, duration, error="Down" if kind == "failure" else None
            )
        now[0] += rng.choice([0, 1_000, 700_000, 5_000_000_000])
    assert fast.snapshot() == slow.snapshot()
    assert fast.events() == slow.events()
    assert len(fast.events()) > 5
