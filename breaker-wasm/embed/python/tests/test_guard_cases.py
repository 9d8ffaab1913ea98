"""The shared table of guard behaviour (``embed/guard-cases.json``), run on the Python guard,
as ``async`` functions (every case) and as plain functions (the cases without hanging)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from breaker_wasm import Breaker, BreakerOpen, Guard
from conftest import GUARD_CASES

CASES: list[dict[str, Any]] = json.loads(GUARD_CASES.read_text(encoding="utf-8"))["cases"]


class Excluded(Exception):
    """The error a case tells the guard to exclude (by type, and by predicate below)."""


def counts_after(breaker: Breaker, service: str) -> str | None:
    """The one outcome the module counted for ``service`` (None when nothing ran)."""
    counts = breaker.status(service)["counts"]
    counted = [k for k in ("successes", "failures") if counts[k]]
    assert len(counted) <= 1, counts
    if counted:
        return {"successes": "success", "failures": "failure"}[counted[0]]
    return None if counts["rejections"] else "ignored"


def make_guard(breaker: Breaker, case: dict[str, Any], by_predicate: bool) -> Guard:
    if case.get("state") == "open":
        breaker.request({"type": "force", "service": "svc", "mode": "open"})
    timeout = case.get("timeout_ms")
    return breaker.guard(
        "svc",
        ignore=() if by_predicate else (Excluded,),
        exclude=(lambda e: isinstance(e, Excluded)) if by_predicate else None,
        timeout=None if timeout is None else timeout / 1000,
        fallback=(lambda e: "fallback") if case.get("fallback") else None,
        cancellation=case.get("cancellation", "failure"),
    )


async def run_async(guard: Guard, case: dict[str, Any], ran: list[str]) -> str:
    @guard
    async def body() -> str:
        ran.append(case["body"])
        if case["body"] == "raise":
            raise ConnectionError("down")
        if case["body"] == "raise_excluded":
            raise Excluded()
        if case["body"] == "hang":
            await asyncio.Event().wait()
        return "value"

    task = asyncio.ensure_future(body())
    if "cancel_after_ms" in case:
        await asyncio.sleep(case["cancel_after_ms"] / 1000)
        task.cancel()
    try:
        return await task
    except BreakerOpen:
        return "rejected"
    except TimeoutError:
        return "timeout"
    except asyncio.CancelledError:
        return "cancelled"
    except (ConnectionError, Excluded):
        return "error"


@pytest.mark.parametrize("by_predicate", [False, True])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_async_guard(wasm_path: Path, case: dict[str, Any], by_predicate: bool) -> None:
    breaker = Breaker(wasm_path)
    ran: list[str] = []
    result = asyncio.run(run_async(make_guard(breaker, case, by_predicate), case, ran))
    assert result == case["result"]
    assert counts_after(breaker, "svc") == case["records"]
    assert ran == ([] if case["records"] is None else [case["body"]])


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["body"] != "hang"], ids=lambda c: str(c["name"])
)
def test_sync_guard(wasm_path: Path, case: dict[str, Any]) -> None:
    breaker = Breaker(wasm_path)
    ran: list[str] = []

    @make_guard(breaker, case, by_predicate=False)
    def body() -> str:
        ran.append(case["body"])
        if case["body"] == "raise":
            raise ConnectionError("down")
        if case["body"] == "raise_excluded":
            raise Excluded()
        return "value"

    try:
        result = body()
    except BreakerOpen:
        result = "rejected"
    except (ConnectionError, Excluded):
        result = "error"
    assert result == case["result"]
    assert counts_after(breaker, "svc") == case["records"]
    assert ran == ([] if case["records"] is None else [case["body"]])
