"""One breaker shared by threads: every guarded call reaches the module once, in permit order,
whatever the interleaving (the lock around the log and the grants). Without the lock this fails:
two threads number the same permit, or log permits out of order, and the module refuses the
batch (or its failure texts)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from breaker_wasm import Breaker


class Boom(Exception):
    pass


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads switch every microsecond, so the guarded calls interleave as much as they can."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("switch_often")
def test_threads_sharing_guards_report_every_call_once() -> None:
    breaker = Breaker(failure_threshold=1_000_000)
    services = ["a", "b", "c"]
    guards = [breaker.guard(s) for s in services]
    calls, per_thread = 20_000, 4

    def ok() -> None:
        pass

    def bad(text: str) -> None:
        raise Boom(text)

    decorated = [(g(ok), g(bad)) for g in guards]
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            for i in range(calls):
                k, fails = (seed + i) % 3, (seed * 7 + i) % 10 == 0
                if i % 2 and fails:
                    with pytest.raises(Boom), guards[k]:
                        raise Boom(f"{seed} {i}")
                elif i % 2:
                    with guards[k]:
                        pass
                elif fails:
                    with pytest.raises(Boom):
                        decorated[k][1](f"{seed} {i}")
                else:
                    decorated[k][0]()
        except BaseException as e:  # handed to the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(per_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = failures = 0
    for s in services:
        counts = breaker.status(s)["counts"]
        total += counts["successes"] + counts["failures"]
        failures += counts["failures"]
    assert total == calls * per_thread
    assert failures == sum(
        1 for t in range(per_thread) for i in range(calls) if (t * 7 + i) % 10 == 0
    )
    # Each failure's text went with its own entry: the last one is a failure of that service.
    for k, s in enumerate(services):
        seed, i = map(
            int, breaker.status(s)["last_failure"]["error"].removeprefix("Boom: ").split()
        )
        assert (seed + i) % 3 == k and (seed * 7 + i) % 10 == 0
