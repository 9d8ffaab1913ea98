"""Tests of the installed Python package, on the real module and on tiny hand-written ones."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path

import pytest
import wasmtime
from breaker_wasm import (
    AbiVersionError,
    Breaker,
    BreakerDiagnostic,
    BreakerLoadError,
    BreakerOpen,
    BreakerTrapped,
    ProtocolError,
    SystemClock,
)
from conftest import TRANSCRIPT, FakeClock


def tiny_module(version: int = 1, handle: str = "i64.const 0") -> bytes:
    """A module with the breaker's exports whose breaker_handle runs `handle`."""
    return bytes(
        wasmtime.wat2wasm(
            f"""
        (module
          (memory (export "memory") 1)
          (func (export "breaker_abi_version") (result i32) i32.const {version})
          (func (export "breaker_alloc") (param i32) (result i32) i32.const 1024)
          (func (export "breaker_free") (param i32 i32))
          (func (export "breaker_handle") (param i32 i32 i64) (result i64) {handle})
          (func (export "breaker_diagnostics") (result i64) i64.const 0))
        """
        )
    )


# -- the shared transcript -------------------------------------------------------------------


def test_conformance_transcript_byte_for_byte(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path)
    lines = [line for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 50
    for n, line in enumerate(lines, 1):
        step = json.loads(line)
        send = json.dumps(step["send"], separators=(",", ":"), ensure_ascii=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BreakerDiagnostic)  # one line has an unusable msg_id
            out, _ = breaker.handle_raw(send, step["now_ms"])
        want = "".join(e + "\n" for e in step["expect"]).encode("utf-8")
        assert out == want, f"conformance.jsonl line {n}: {send}"


def test_guard_rejections_carry_the_transcripts_replies(wasm_path: Path) -> None:
    """Every rejected ``acquire`` of the transcript, made through a guard instead: the error's
    reply is the transcript's reply with ``in_reply_to`` 0 (ABI.md, "The typed fast path"), and
    the node ends as the JSON-only one does."""
    clock = FakeClock()
    json_only, guarded = Breaker(wasm_path, clock=clock), Breaker(wasm_path, clock=clock)
    checked = 0
    for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines():
        step = json.loads(line)
        send = json.dumps(step["send"], separators=(",", ":"), ensure_ascii=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BreakerDiagnostic)
            json_only.handle_raw(send, step["now_ms"])
            body = step["send"].get("body")
            rejected = [json.loads(e)["body"] for e in step["expect"] if '"code":11' in e]
            if not (isinstance(body, dict) and body.get("type") == "acquire" and rejected):
                guarded.handle_raw(send, step["now_ms"])
                continue
        clock.now = step["now_ms"]
        with pytest.raises(BreakerOpen) as info, guarded.guard(rejected[0]["service"]):
            pytest.fail("a rejected call must not run")
        assert info.value.reply == {**rejected[0], "in_reply_to": 0}
        checked += 1
    assert checked >= 3
    assert guarded.snapshot() == json_only.snapshot()


def test_the_tasks_three_examples_as_dicts(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path)
    env = {"src": "service-a", "dest": "service-b"}
    r1 = breaker.handle({**env, "body": {"type": "call", "msg_id": 1, "force_failures": 5}}, 0)
    r2 = breaker.handle({**env, "body": {"type": "call", "msg_id": 2, "state": "open"}}, 0)
    r3 = breaker.handle(
        {**env, "body": {"type": "call", "msg_id": 3, "state": "half_open", "force_success": True}},
        0,
    )
    assert r1[0]["body"] == {
        "type": "circuit_breaker_open",
        "in_reply_to": 1,
        "service": "service-b",
        "failures": 5,
    }
    assert r2[0]["body"]["error"] == "Circuit breaker OPEN"
    assert r3[0]["body"]["type"] == "circuit_breaker_closed"
    assert r1[0]["src"] == "service-b" and r1[0]["dest"] == "service-a"


def test_handle_takes_text_with_several_documents_and_lists(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path)
    text = (
        '{"src":"a","dest":"b","body":{"type":"init","msg_id":1}}\n'
        '{\n "src": "a", "dest": "b",\n "body": {"type": "init", "msg_id": 2}\n}'
    )
    assert [r["body"]["in_reply_to"] for r in breaker.handle(text, 0)] == [1, 2]
    msgs = [{"src": "a", "dest": "b", "body": {"type": "init", "msg_id": i}} for i in (3, 4)]
    assert [r["body"]["in_reply_to"] for r in breaker.handle(msgs, 0)] == [3, 4]
    assert breaker.handle({"src": "a", "dest": "b", "body": {"type": "init"}}, 0) == []


# -- guard, acquire/record, clock ------------------------------------------------------------


def test_guard_opens_fails_fast_probes_and_closes(wasm_path: Path) -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(wasm_path, clock=clock)
    breaker.configure({"failure_threshold": 2, "open_timeout_ms": 500}, service="db")
    guard = breaker.guard("db")
    ran: list[object] = []

    for _ in range(2):
        with pytest.raises(ConnectionError), guard:
            ran.append(1)
            raise ConnectionError("down")
    assert breaker.status("db")["state"] == "open"

    clock.now += 100
    with pytest.raises(BreakerOpen) as info, guard:
        ran.append("must not run")
    assert info.value.retry_after_ms == 400
    assert info.value.service == "db"
    assert "retry after 400 ms" in str(info.value)
    assert ran == [1, 1]

    clock.now += 400
    with guard:  # the probe
        assert breaker.status("db")["state"] == "half_open"
    assert breaker.status("db")["state"] == "closed"
    reasons = [(e["from"], e["to"]) for e in breaker.events(service="db")]
    assert reasons == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_guard_records_duration_and_ignored_exceptions(wasm_path: Path) -> None:
    clock = FakeClock(0)
    breaker = Breaker(wasm_path, clock=clock)
    breaker.configure({"failure_threshold": 1})

    class NotFound(Exception):
        pass

    with pytest.raises(NotFound), breaker.guard("users", ignore=(NotFound,)):
        raise NotFound()
    assert breaker.status("users")["state"] == "closed"
    status = breaker.status("users")
    assert status["counts"]["failures"] == 0

    # The duration is measured with the breaker's clock: 49 ms is fast, 50 ms is slow, and a
    # slow success counts as a failure under the consecutive policy.
    breaker.configure({"slow_call_ms": 50}, service="search")
    with breaker.guard("search"):
        clock.now += 49
    assert breaker.status("search")["state"] == "closed"
    with breaker.guard("search"):
        clock.now += 50
    status = breaker.status("search")
    assert status["state"] == "open"
    assert breaker.events(service="search")[0]["reason"] == "1 consecutive failure (threshold 1)"


def test_guard_as_decorator_sync_and_async(wasm_path: Path) -> None:
    clock = FakeClock(0)
    breaker = Breaker(wasm_path, clock=clock)
    breaker.configure({"failure_threshold": 1, "open_timeout_ms": 1000})

    @breaker.guard("sync")
    def fetch(ok: bool) -> str:
        if not ok:
            raise TimeoutError("slow")
        return "data"

    assert fetch(True) == "data"
    assert fetch.__name__ == "fetch"
    with pytest.raises(TimeoutError):
        fetch(False)
    with pytest.raises(BreakerOpen) as info:
        fetch(True)
    assert info.value.retry_after_ms == 1000

    @breaker.guard("async")
    async def afetch(ok: bool) -> str:
        await asyncio.sleep(0)
        if not ok:
            raise TimeoutError("slow")
        return "adata"

    async def main() -> None:
        assert await afetch(True) == "adata"
        with pytest.raises(TimeoutError):
            await afetch(False)
        with pytest.raises(BreakerOpen):
            await afetch(True)

    asyncio.run(main())


def test_acquire_record_and_stale_permits(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path, clock=FakeClock(0))
    permit = breaker.acquire("db")
    assert breaker.record("db", permit, "success", 5)["state"] == "closed"
    assert breaker.record("db", permit, "success")["stale"] is True
    with pytest.raises(ProtocolError) as info:
        breaker.record("db", permit, "maybe")
    assert info.value.code == 12 and "outcome" in info.value.text


def test_system_clock_never_goes_backwards() -> None:
    times = iter([10.0, 9.0, 11.5])
    clock = SystemClock(lambda: next(times))
    assert [clock(), clock(), clock()] == [10_000, 10_000, 11_500]


def test_default_clock_is_epoch_milliseconds(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path)
    assert breaker.snapshot()["now_ms"] > 1_600_000_000_000


def test_options_no_fixtures_and_manual_clock(wasm_path: Path) -> None:
    strict = Breaker(wasm_path, fixtures=False)
    body = strict.request({"type": "call", "force_failures": 1}, dest="svc", now_ms=0)
    assert body["code"] == 12 and "fixtures are disabled" in body["text"]
    manual = Breaker(wasm_path, manual_clock=True)
    assert manual.request({"type": "advance_clock", "ms": 42}, now_ms=999_999)["now_ms"] == 42


# -- snapshot / restore ----------------------------------------------------------------------


def test_snapshot_to_a_file_and_back(wasm_path: Path, tmp_path: Path) -> None:
    clock = FakeClock(10_000)
    first = Breaker(wasm_path, clock=clock)
    first.configure({"failure_threshold": 1, "open_timeout_ms": 3000})
    with pytest.raises(OSError), first.guard("db"):
        raise OSError("down")
    path = tmp_path / "state.json"
    first.save(path)
    assert json.loads(path.read_text())["version"] == 1

    clock.now += 1000
    second = Breaker(wasm_path, clock=clock)
    assert second.load(path) == 1
    with pytest.raises(BreakerOpen) as info:
        second.acquire("db")
    assert info.value.retry_after_ms == 2000
    assert second.status("db")["config"]["open_timeout_ms"] == 3000


def test_invalid_snapshot_is_refused(wasm_path: Path, tmp_path: Path) -> None:
    breaker = Breaker(wasm_path, clock=FakeClock(0))
    with pytest.raises(ProtocolError) as info:
        breaker.restore({"version": 99})
    assert info.value.code == 12
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(json.JSONDecodeError):
        breaker.load(bad)


# -- bad use ---------------------------------------------------------------------------------


def test_wrong_path(tmp_path: Path) -> None:
    with pytest.raises(BreakerLoadError, match="cannot read the breaker module"):
        Breaker(tmp_path / "nope.wasm")


def test_not_a_wasm_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.wasm"
    path.write_bytes(b"this is not wasm")
    with pytest.raises(BreakerLoadError, match="not a valid WebAssembly module"):
        Breaker(path)


def test_wrong_abi_version() -> None:
    with pytest.raises(AbiVersionError, match="ABI version 2") as info:
        Breaker(tiny_module(version=2))
    assert info.value.version == 2


def test_missing_exports() -> None:
    with pytest.raises(BreakerLoadError, match="missing export"):
        Breaker(wasmtime.wat2wasm('(module (memory (export "memory") 1))'))


def test_invalid_json_gives_diagnostics_as_warnings(wasm_path: Path) -> None:
    breaker = Breaker(wasm_path)
    with pytest.warns(BreakerDiagnostic, match="line 1"):
        assert breaker.handle("{not json", 0) == []
    assert len(breaker.last_diagnostics) == 1 and breaker.last_diagnostics[0].startswith("line 1")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BreakerDiagnostic)
        with pytest.raises(BreakerDiagnostic):
            breaker.handle('{"src":"a","dest":"b","body":{"type":"nope"}}', 0)
    # The instance carries on.
    assert (
        breaker.handle({"src": "a", "dest": "b", "body": {"type": "init", "msg_id": 1}}, 0)[0][
            "body"
        ]["type"]
        == "init_ok"
    )
    assert breaker.last_diagnostics == []


def test_a_guest_trap_poisons_the_instance() -> None:
    breaker = Breaker(tiny_module(handle="unreachable"))
    with pytest.raises(BreakerTrapped, match="trapped"):
        breaker.handle({"src": "a", "dest": "b", "body": {"type": "init", "msg_id": 1}}, 0)
    assert breaker.trapped
    for _ in range(2):
        with pytest.raises(BreakerTrapped, match="unusable"):
            breaker.handle({"src": "a", "dest": "b", "body": {"type": "init", "msg_id": 2}}, 0)
    with pytest.raises(BreakerTrapped):
        breaker.acquire("db")


def test_a_trap_in_a_batch_stops_local_admissions() -> None:
    """A module whose second breaker_sync traps: guarded calls admitted within the grant must
    stop once the instance is gone, not carry on locally."""
    wasm = wasmtime.wat2wasm(
        """
        (module
          (memory (export "memory") 1)
          (global $synced (mut i32) (i32.const 0))
          (func (export "breaker_abi_version") (result i32) i32.const 1)
          (func (export "breaker_alloc") (param i32) (result i32) i32.const 1024)
          (func (export "breaker_free") (param i32 i32))
          (func (export "breaker_handle") (param i32 i32 i64) (result i64) i64.const 0)
          (func (export "breaker_diagnostics") (result i64) i64.const 0)
          (func (export "breaker_slot") (param i32 i32) (result i32) i32.const 0)
          (func (export "breaker_grant") (param i32) (result i64) i64.const 1000)
          (func (export "breaker_failure_texts") (param i32 i32) (result i32) i32.const 0)
          (func (export "breaker_sync_ticks") (param i32 i32 i64) (result i64)
            global.get $synced
            if unreachable end
            i32.const 1
            global.set $synced
            i64.const 1)
          (func (export "breaker_last_permit") (result f64) f64.const 0)
          (func (export "breaker_event_seq") (result f64) f64.const 0)
          (func (export "breaker_events_after") (param f64) (result i64) i64.const 0))
        """
    )
    breaker = Breaker(bytes(wasm), clock=FakeClock(0))
    guard = breaker.guard("db")
    with guard:  # crosses once for the permit and the grant
        pass
    with guard:  # within the grant: no crossing
        pass
    with pytest.raises(BreakerTrapped, match="trapped"):
        breaker.handle_raw("", 0)  # reports the two calls first: the module traps
    ran: list[int] = []
    with pytest.raises(BreakerTrapped, match="unusable"), guard:
        ran.append(1)
    assert ran == [], "a dead instance admits nothing"


def test_bad_now_ms(wasm_path: Path) -> None:
    with pytest.raises(ValueError):
        Breaker(wasm_path).handle_raw("", -1)


def test_guard_takes_the_batch_path_and_agrees_with_the_json_messages(wasm_path: Path) -> None:
    clock = FakeClock(1_000)
    breaker = Breaker(wasm_path, clock=clock)
    assert breaker._batch is not None, "the real module exports the batch path"
    breaker.configure({"failure_threshold": 2, "open_timeout_ms": 3_000})
    guard = breaker.guard("db")
    with guard:
        pass
    for _ in range(2):
        with pytest.raises(ConnectionError), guard:
            raise ConnectionError("down")
    status = breaker.status("db")
    assert status["state"] == "open"
    assert status["counts"] == {"successes": 1, "failures": 2, "rejections": 0, "opened": 1}
    with pytest.raises(BreakerOpen) as fast, guard:
        pass
    with pytest.raises(BreakerOpen) as json_path:
        breaker.acquire("db")
    assert fast.value.retry_after_ms == json_path.value.retry_after_ms == 3_000
    assert fast.value.text == "Circuit breaker OPEN"
    # The message's reply names the last failure, which a typed rejection does not carry.
    expected = dict(json_path.value.reply)
    assert expected.pop("last_failure") == {"at_ms": 1_000, "error": "ConnectionError: down"}
    assert fast.value.reply == {**expected, "in_reply_to": 0}
    breaker.request({"type": "force", "service": "db", "mode": "open"})
    with pytest.raises(BreakerOpen) as forced, guard:
        pass
    assert forced.value.retry_after_ms is None
    # A name that is not a service goes the JSON way, which says why.
    with pytest.raises(ProtocolError), breaker.guard(""):
        pass
