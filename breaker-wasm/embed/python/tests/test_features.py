"""What a user of the package sees: no path needed, keyword config, listeners, timeouts,
``async with``, fallbacks."""

from __future__ import annotations

import asyncio

import breaker_wasm
import pytest
from breaker_wasm import Breaker, BreakerOpen, Transition
from conftest import FakeClock


def test_the_packaged_module_needs_no_path() -> None:
    breaker = Breaker(failure_threshold=2, open_timeout_ms=1234)
    config = breaker.status("db")["config"]
    assert config["failure_threshold"] == 2 and config["open_timeout_ms"] == 1234
    assert breaker_wasm.__file__ is not None and "site-packages" in breaker_wasm.__file__


def test_unknown_keyword_config_is_refused() -> None:
    with pytest.raises(TypeError, match="failure_treshold"):
        Breaker(failure_treshold=2)


def test_listeners_see_open_half_open_closed_with_reasons() -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(clock=clock, failure_threshold=2, open_timeout_ms=500)
    seen: list[Transition] = []
    returned: list[int] = []
    breaker.add_listener(seen.append)
    only_db = breaker.add_listener(lambda t: returned.append(len(seen)), service="db")
    guard = breaker.guard("db")
    for _ in range(2):
        with pytest.raises(ConnectionError), guard:
            raise ConnectionError()
    # The transition reached the listener before the guarded call that caused it returned.
    assert [(t.from_state, t.to_state) for t in seen] == [("closed", "open")]
    assert seen[0].reason == "2 consecutive failures (threshold 2)"
    assert seen[0].at_ms == 1_000 and seen[0].service == "db"
    clock.now += 500
    with guard:
        assert [t.to_state for t in seen] == ["open", "half_open"]
    assert [(t.from_state, t.to_state, t.reason) for t in seen[1:]] == [
        ("open", "half_open", "open timeout of 500 ms elapsed"),
        ("half_open", "closed", "1 successful probe (threshold 1)"),
    ]
    assert [t.seq for t in seen] == [1, 2, 3]
    assert returned == [1, 2, 3]
    only_db()
    breaker.request({"type": "reset", "service": "db"})
    assert returned == [1, 2, 3]


def test_a_hung_call_opens_the_breaker_after_its_timeout() -> None:
    breaker = Breaker(failure_threshold=2)
    opened: list[Transition] = []
    breaker.add_listener(opened.append)

    @breaker.guard("slow", timeout=0.02)
    async def hang() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        for _ in range(2):
            with pytest.raises(TimeoutError):
                await hang()
        with pytest.raises(BreakerOpen):
            await hang()

    asyncio.run(main())
    assert [t.to_state for t in opened] == ["open"]


def test_a_cancelled_call_counts_as_a_failure() -> None:
    breaker = Breaker(failure_threshold=1)

    async def main() -> None:
        async def call() -> None:
            async with breaker.guard("db"):
                await asyncio.Event().wait()

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call(), 0.02)  # the caller gives up: a cancellation

    asyncio.run(main())
    assert breaker.status("db")["state"] == "open"
    assert breaker.status("db")["counts"]["failures"] == 1


def test_async_with_records_success_and_failure() -> None:
    breaker = Breaker(failure_threshold=5)
    guard = breaker.guard("db")

    async def main() -> None:
        async with guard:
            await asyncio.sleep(0)

        async def failing() -> None:
            async with guard:
                await asyncio.sleep(0)
                raise ConnectionError()

        # One shared guard, two tasks at once: each holds its own permit.
        results = await asyncio.gather(failing(), failing(), return_exceptions=True)
        assert all(isinstance(r, ConnectionError) for r in results)

    asyncio.run(main())
    assert breaker.status("db")["counts"] == {
        "successes": 1,
        "failures": 2,
        "rejections": 0,
        "opened": 0,
    }


def test_fallback_when_rejected() -> None:
    breaker = Breaker()
    breaker.request({"type": "force", "service": "db", "mode": "open"})
    calls: list[int] = []

    @breaker.guard("db", fallback=lambda e: f"cached ({e.text})")
    def fetch() -> str:
        calls.append(1)
        return "fresh"

    assert fetch() == "cached (Circuit breaker OPEN)"
    assert calls == []


def test_bad_guard_options_are_refused() -> None:
    breaker = Breaker()
    with pytest.raises(ValueError, match="cancellation"):
        breaker.guard("db", cancellation="maybe")
    with pytest.raises(ValueError, match="timeout"):
        breaker.guard("db", timeout=0)


def test_a_listener_that_raises_loses_nothing() -> None:
    breaker = Breaker(failure_threshold=1)
    heard: list[str] = []

    def buggy(t: Transition) -> None:
        raise RuntimeError("listener bug")

    breaker.add_listener(buggy)
    breaker.add_listener(lambda t: heard.append(t.to_state))
    with pytest.raises(RuntimeError, match="listener bug"), breaker.guard("db"):
        raise ConnectionError()
    assert heard == ["open"]
    assert breaker.status("db")["counts"]["failures"] == 1


def test_the_log_of_unreported_calls_stays_bounded() -> None:
    breaker = Breaker()
    guard = breaker.guard("db")

    @guard
    def decorated() -> None:
        pass

    log = breaker._batch._log if breaker._batch is not None else []
    for use in ("decorated", "with"):
        longest = 0
        for _ in range(10_000):
            if use == "decorated":
                decorated()
            else:
                with guard:
                    pass
            longest = max(longest, len(log))
        assert 0 < longest <= 4096 * 5, use
    assert breaker.status("db")["counts"]["successes"] == 20_000


def test_metrics_are_the_modules_openmetrics_text_and_status_shows_the_policy() -> None:
    breaker = Breaker(clock=FakeClock(1_000))
    breaker.handle({"src": "a", "dest": "db", "body": {"type": "call", "force_failures": 5}})
    text = breaker.metrics()
    assert 'breaker_state{service="db",state="open"} 1\n' in text
    assert 'breaker_calls_total{service="db",outcome="failure"} 5\n' in text
    assert 'breaker_transitions_total{service="db",from="closed",to="open"} 1\n' in text
    assert 'breaker_until_probe_seconds{service="db"} 5.0\n' in text
    assert text.endswith("# EOF\n")
    assert breaker.status("db")["policy"] == {"open_until_ms": 6_000}
    assert breaker.status()["services"][0]["policy"] == {"open_until_ms": 6_000}
