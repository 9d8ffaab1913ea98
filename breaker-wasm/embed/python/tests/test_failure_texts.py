"""A guarded failure's text becomes the breaker's last failure (ABI.md, "What a guard records"):
``status(service)["last_failure"]`` shows ``"TypeName: message"`` (the type name alone when the
message is empty), a timeout's and a counted cancellation's text, and an ignored outcome leaves
the text before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from breaker_wasm import Breaker, BreakerError, Guard
from breaker_wasm.guard import failure_text
from conftest import FakeClock


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class Excluded(Exception):
    pass


def last_failure(breaker: Breaker, service: str = "db") -> Any:
    return breaker.status(service).get("last_failure")


def fail(guard: Guard, exc: BaseException) -> None:
    with pytest.raises(type(exc)), guard:
        raise exc


def fail_decorated(guard: Guard, exc: BaseException) -> None:
    @guard
    def call() -> None:
        raise exc

    with pytest.raises(type(exc)):
        call()


@pytest.mark.parametrize("run", [fail, fail_decorated], ids=["with", "decorated"])
@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (ConnectionError("connection refused"), "ConnectionError: connection refused"),
        (ConnectionError(), "ConnectionError"),
        (KeyError("sku-1"), "KeyError: 'sku-1'"),
        (Unprintable("x"), "Unprintable"),
        (ValueError("d\u00e9j\u00e0 vu"), "ValueError: d\u00e9j\u00e0 vu"),
        (ValueError("\ud800 lone"), "ValueError: ? lone"),  # a lone surrogate is not UTF-8
    ],
)
def test_a_guarded_failure_is_the_last_failure(exc: BaseException, text: str, run: Any) -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(clock=clock, failure_threshold=5)
    assert last_failure(breaker) is None
    clock.now = 1_234
    run(breaker.guard("db"), exc)
    assert last_failure(breaker) == {"at_ms": 1_234, "error": text}
    assert breaker.status("db")["counts"]["failures"] == 1


def test_texts_are_cut_to_256_characters_then_256_bytes() -> None:
    breaker = Breaker(failure_threshold=10)
    guard = breaker.guard("db")
    fail(guard, ValueError("x" * 300))
    assert last_failure(breaker)["error"] == ("ValueError: " + "x" * 300)[:256]
    assert failure_text(ValueError("\u00e9" * 300)) == "ValueError: " + "\u00e9" * 244
    # The module keeps 256 bytes, cut at a character boundary.
    fail(guard, ValueError("\u00e9" * 300))
    assert last_failure(breaker)["error"] == "ValueError: " + "\u00e9" * 122
    fail(guard, ValueError("\u20ac" * 100))
    assert last_failure(breaker)["error"] == "ValueError: " + "\u20ac" * 81  # 12 + 243 bytes


def test_every_failure_of_a_log_carries_its_own_text() -> None:
    """Failures within the grant stay in the log; the sync hands the module each one's text
    (and two services' texts do not mix)."""
    breaker = Breaker(failure_threshold=1_000)
    guards = {s: breaker.guard(s) for s in ("a", "b")}
    for i in range(50):
        for service, guard in guards.items():
            fail(guard, ConnectionError(f"{service} {i}"))
        with guards["a"]:
            pass
    assert last_failure(breaker, "a")["error"] == "ConnectionError: a 49"
    assert last_failure(breaker, "b")["error"] == "ConnectionError: b 49"
    assert breaker.status("a")["counts"]["failures"] == 50


def test_a_full_log_of_long_texts_grows_the_buffer() -> None:
    """4,096 failures with 256-byte texts: the log and its texts outgrow the buffer the log
    alone needs, which is replaced by a larger one."""
    breaker = Breaker(failure_threshold=100_000)
    guard = breaker.guard("db")
    for i in range(10_000):
        fail(guard, ValueError(f"{i:05} " + "x" * 300))
    assert last_failure(breaker)["error"] == ("ValueError: 09999 " + "x" * 300)[:256]
    assert breaker.status("db")["counts"]["failures"] == 10_000


def test_the_text_shows_in_rejections_until_the_breaker_closes() -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(clock=clock, failure_threshold=2, open_timeout_ms=100)
    guard = breaker.guard("db")
    fail(guard, ConnectionError("first"))
    clock.now += 5
    fail(guard, ConnectionError("second"))
    assert breaker.status("db")["state"] == "open"
    rejected = breaker.request({"type": "acquire", "service": "db"})
    assert rejected["last_failure"] == {"at_ms": 1_005, "error": "ConnectionError: second"}
    clock.now += 100
    with guard:  # the probe closes it: the text is forgotten
        pass
    assert breaker.status("db")["state"] == "closed"
    assert last_failure(breaker) is None


def test_ignored_outcomes_leave_the_text_before_them() -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(clock=clock, failure_threshold=10)
    guard = breaker.guard("db", ignore=(Excluded,), exclude=lambda e: isinstance(e, LookupError))
    fail(guard, ConnectionError("counted"))
    clock.now += 10
    for exc in (Excluded("by type"), KeyError("by predicate"), KeyboardInterrupt()):
        fail(guard, exc)
        fail_decorated(guard, exc)
    with guard:
        pass
    assert last_failure(breaker) == {"at_ms": 1_000, "error": "ConnectionError: counted"}
    assert breaker.status("db")["counts"]["failures"] == 1


async def hang() -> None:
    await asyncio.Event().wait()


def test_a_timeout_is_a_failure_with_the_timeouts_text() -> None:
    breaker = Breaker(failure_threshold=10)
    slow = breaker.guard("db", timeout=0.01)(hang)
    with pytest.raises(TimeoutError):
        asyncio.run(slow())
    assert last_failure(breaker)["error"] == "TimeoutError"


@pytest.mark.parametrize(("message", "text"), [(None, "CancelledError"), ("gave up", None)])
def test_a_counted_cancellation_carries_the_cancellations_text(
    message: str | None, text: str | None
) -> None:
    breaker = Breaker(failure_threshold=10)
    counted = breaker.guard("db")(hang)
    ignored = breaker.guard("db", cancellation="ignored")(hang)

    async def cancel(call: Any) -> None:
        task = asyncio.ensure_future(call())
        await asyncio.sleep(0.005)
        task.cancel(message)
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel(counted))
    expected = text or f"CancelledError: {message}"
    assert last_failure(breaker)["error"] == expected
    asyncio.run(cancel(ignored))
    assert last_failure(breaker)["error"] == expected
    assert breaker.status("db")["counts"]["failures"] == 1


def test_async_with_carries_the_text() -> None:
    breaker = Breaker(failure_threshold=10)

    async def call() -> None:
        async with breaker.guard("db"):
            raise ConnectionError("reset by peer")

    with pytest.raises(ConnectionError):
        asyncio.run(call())
    assert last_failure(breaker)["error"] == "ConnectionError: reset by peer"


def test_the_message_path_sends_the_text_as_the_records_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A guard on a node without the batch path acquires and records by message."""
    breaker = Breaker(failure_threshold=10)
    monkeypatch.setattr(breaker, "_batch", None)
    guard = breaker.guard("db")
    fail(guard, ConnectionError("by message"))
    fail_decorated(guard, ConnectionError())
    assert guard._handle.slot == -1, "the guard took the message path"
    fail(guard, KeyboardInterrupt())  # ignored: no text
    assert last_failure(breaker)["error"] == "ConnectionError"
    assert breaker.status("db")["counts"]["failures"] == 2


def test_record_takes_a_failure_text() -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(clock=clock)
    permit = breaker.acquire("db")
    with pytest.raises(TypeError, match="error must be a str"):
        breaker.record("db", permit, "failure", 3, error=503)  # type: ignore[arg-type]
    # Nothing was recorded: the permit is still outstanding.
    assert "stale" not in breaker.record("db", permit, "failure", 3, error="HTTP 503")
    assert last_failure(breaker) == {"at_ms": 1_000, "error": "HTTP 503"}
    permit = breaker.acquire("db")
    breaker.record("db", permit, "failure")  # no text: the one before stays
    assert last_failure(breaker) == {"at_ms": 1_000, "error": "HTTP 503"}


def test_texts_the_module_refuses_are_a_bug_that_loses_no_call() -> None:
    """Texts out of order (which a guard never logs) make ``breaker_failure_texts`` return -1:
    the sync raises :class:`BreakerError`, and the log is replayed all the same, without them."""
    breaker = Breaker(failure_threshold=10)
    guard = breaker.guard("db")
    fail(guard, ConnectionError("one"))
    fail(guard, ConnectionError("two"))
    assert breaker._batch is not None
    texts = breaker._batch.texts
    assert [text for _, text in texts] == ["ConnectionError: one", "ConnectionError: two"]
    texts.reverse()
    with pytest.raises(BreakerError, match="refused a batch's failure texts"):
        breaker.status("db")
    assert breaker._batch.texts == []
    status = breaker.status("db")
    assert status["counts"]["failures"] == 2 and "last_failure" not in status
