"""Python embedding of the circuit-breaker WebAssembly module (``target/breaker.wasm``).

The module is the raw build of ``breaker-wasm`` (PROTOCOL.md §8): no imports, one node per
instance, JSON messages in, compact JSON replies out. This file loads it with the ``wasmtime``
package and adds Python helpers on top of the wire protocol:

>>> breaker = Breaker("target/breaker.wasm")
>>> breaker.handle({"src": "a", "dest": "db", "body": {"type": "acquire", "msg_id": 1}})
[{'src': 'db', 'dest': 'a', 'body': {'type': 'acquire_ok', 'in_reply_to': 1, ...}}]

>>> with breaker.guard("db"):          # acquire, run, record (success/failure, duration_ms)
...     query_the_database()

Errors are host-language exceptions, never interpreter crashes:

- :class:`BreakerLoadError` -- the file is missing, is not WebAssembly, or lacks an export;
  :class:`AbiVersionError` (a subclass) when ``breaker_abi_version()`` is not 1.
- :class:`BreakerTrapped` -- the guest trapped. The instance is then *poisoned*: this call and
  every later call on the same :class:`Breaker` raise :class:`BreakerTrapped`. The wrapper does
  not re-instantiate on its own (that would silently drop every breaker's state); build a new
  :class:`Breaker`, or restore a snapshot into one.
- :class:`BreakerOpen` -- raised by :meth:`Breaker.acquire` / :meth:`Breaker.guard` when the
  breaker rejects the call; carries ``retry_after_ms``.
- :class:`ProtocolError` -- a helper got an error reply (code 10/12/13) it cannot act on.

Documents the module could not answer (invalid JSON, a bad message without ``msg_id``) produce
no reply. Their diagnostics lines (``"line L: ..."``) are kept in
:attr:`Breaker.last_diagnostics` and each is also issued as a :class:`BreakerDiagnostic`
warning (see the ``warnings`` module; turn it into an exception with
``warnings.simplefilter("error", BreakerDiagnostic)``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping, TypeVar, Union, cast

import wasmtime

__all__ = [
    "ABI_VERSION",
    "AbiVersionError",
    "Breaker",
    "BreakerDiagnostic",
    "BreakerError",
    "BreakerLoadError",
    "BreakerOpen",
    "BreakerTrapped",
    "Guard",
    "ProtocolError",
    "SystemClock",
]

#: The ABI version this wrapper speaks (``breaker_abi_version()``).
ABI_VERSION = 1

#: ``breaker_set_options`` bits.
OPTION_MANUAL_CLOCK = 1
OPTION_NO_FIXTURES = 2

_EXPORTS = (
    "memory",
    "breaker_abi_version",
    "breaker_alloc",
    "breaker_free",
    "breaker_handle",
    "breaker_diagnostics",
)

Message = Union[Mapping[str, Any], str, bytes]
Reply = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


class BreakerError(Exception):
    """Base class of every error this module raises."""


class BreakerLoadError(BreakerError):
    """The module could not be loaded: wrong path, not WebAssembly, or a missing export."""


class AbiVersionError(BreakerLoadError):
    """The module exports a ``breaker_abi_version`` other than :data:`ABI_VERSION`."""

    def __init__(self, message: str, version: int) -> None:
        super().__init__(message)
        self.version = version


class BreakerTrapped(BreakerError):
    """The guest trapped; the instance is unusable from then on (every later call raises this)."""


class ProtocolError(BreakerError):
    """An error reply (``{"type":"error","code":C,"text":...}``) a helper could not act on."""

    def __init__(self, code: int, text: str, reply: Mapping[str, Any]) -> None:
        super().__init__(f"code {code}: {text}")
        self.code = code
        self.text = text
        self.reply = reply


class BreakerOpen(BreakerError):
    """The breaker rejected the call without running it (an ``acquire`` answered with code 11).

    ``retry_after_ms`` is how long until a call may be admitted again, or ``None`` when the
    breaker is forced open (no deadline).
    """

    def __init__(
        self, service: str, text: str, retry_after_ms: int | None, reply: Mapping[str, Any]
    ) -> None:
        after = "" if retry_after_ms is None else f"; retry after {retry_after_ms} ms"
        super().__init__(f"{text} for {service!r}{after}")
        self.service = service
        self.text = text
        self.retry_after_ms = retry_after_ms
        self.reply = reply


class BreakerDiagnostic(UserWarning):
    """A document the module could not answer (issued through ``warnings``)."""


class SystemClock:
    """Unix epoch milliseconds from ``time.time()``, never going backwards."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(self._last, int(self._source() * 1000))
            return self._last


def _unpack(packed: int) -> tuple[int, int]:
    packed &= 0xFFFF_FFFF_FFFF_FFFF
    return packed >> 32, packed & 0xFFFF_FFFF


class Breaker:
    """One instance of the module: one node holding any number of breakers by service name.

    :param module: path to ``breaker.wasm``, or the module's bytes.
    :param clock: returns the current time in ms; defaults to :class:`SystemClock`. Used when a
        call does not pass ``now_ms``. Inject a fake for tests.
    :param manual_clock: the node's time moves only on ``advance_clock`` messages.
    :param fixtures: keep the test fixtures of ``call`` and ``force`` (``False`` in production).
    :param src: the ``src`` of envelopes the helpers build.

    Calls are serialized with a lock, so one instance may be shared between threads.
    """

    def __init__(
        self,
        module: Union[str, os.PathLike[str], bytes, bytearray],
        *,
        clock: Callable[[], int] | None = None,
        manual_clock: bool = False,
        fixtures: bool = True,
        src: str = "python",
    ) -> None:
        self._clock: Callable[[], int] = clock if clock is not None else SystemClock()
        self._src = src
        self._lock = threading.RLock()
        self._trapped: str | None = None
        self._msg_id = 0
        #: Diagnostics lines of the last call into the module (empty when none).
        self.last_diagnostics: list[str] = []

        if isinstance(module, (bytes, bytearray)):
            wasm, where = bytes(module), "<bytes>"
        else:
            where = os.fspath(module)
            try:
                wasm = Path(where).read_bytes()
            except OSError as e:
                raise BreakerLoadError(
                    f"cannot read the breaker module {where!r}: {e.strerror or e}"
                ) from None
        self._engine = wasmtime.Engine()
        self._store = wasmtime.Store(self._engine)
        try:
            compiled = wasmtime.Module(self._engine, wasm)
        except wasmtime.WasmtimeError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid module"
            raise BreakerLoadError(
                f"{where!r} is not a valid WebAssembly module: {first}"
            ) from None
        if compiled.imports:
            names = ", ".join(f"{i.module}.{i.name}" for i in compiled.imports)
            raise BreakerLoadError(f"{where!r} imports {names}; the breaker module has no imports")
        try:
            instance = wasmtime.Instance(self._store, compiled, [])
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise BreakerLoadError(f"cannot instantiate {where!r}: {e}") from None
        exports = instance.exports(self._store)
        missing = [name for name in _EXPORTS if name not in exports]
        if missing:
            raise BreakerLoadError(
                f"{where!r} is not a breaker module: missing export(s) {', '.join(missing)}"
            )
        self._memory = cast(wasmtime.Memory, exports["memory"])
        self._fn = {
            name: cast(wasmtime.Func, exports[name]) for name in _EXPORTS if name != "memory"
        }
        self._set_options = (
            exports["breaker_set_options"] if "breaker_set_options" in exports else None
        )
        # The typed fast path (ABI.md): guard() acquires and records without JSON when present.
        self._fast: tuple[wasmtime.Func, wasmtime.Func] | None = None
        if "breaker_acquire" in exports and "breaker_record" in exports:
            self._fast = (
                cast(wasmtime.Func, exports["breaker_acquire"]),
                cast(wasmtime.Func, exports["breaker_record"]),
            )
        self._name_ptr = 0

        version = self._call("breaker_abi_version")
        if version != ABI_VERSION:
            raise AbiVersionError(
                f"{where!r} speaks breaker ABI version {version}; this wrapper needs version {ABI_VERSION}",
                version,
            )
        flags = (OPTION_MANUAL_CLOCK if manual_clock else 0) | (
            0 if fixtures else OPTION_NO_FIXTURES
        )
        if flags:
            if self._set_options is None:
                raise BreakerLoadError(
                    f"{where!r} has no breaker_set_options export; cannot set options"
                )
            if self._call_func(cast(wasmtime.Func, self._set_options), flags) != 0:
                raise BreakerError("breaker_set_options refused the options")

    # -- the raw ABI ---------------------------------------------------------------------------

    @property
    def trapped(self) -> bool:
        """Whether the guest has trapped (the instance is then unusable)."""
        return self._trapped is not None

    def _call(self, name: str, *args: int) -> int:
        return self._call_func(self._fn[name], *args)

    def _call_func(self, func: wasmtime.Func, *args: int) -> int:
        if self._trapped is not None:
            raise BreakerTrapped(
                f"the breaker instance is unusable: it trapped earlier ({self._trapped})"
            )
        try:
            return cast(int, func(self._store, *args))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            reason = _trap_reason(e)
            self._trapped = reason
            raise BreakerTrapped(f"the breaker module trapped: {reason}") from None

    def _read(self, packed: int) -> bytes:
        ptr, length = _unpack(packed)
        if length == 0:
            return b""
        return bytes(self._memory.read(self._store, ptr, ptr + length))

    def handle_raw(
        self, data: Union[str, bytes], now_ms: int | None = None
    ) -> tuple[bytes, list[str]]:
        """Hands ``data`` (one or more complete JSON documents) to the module.

        Returns the reply bytes (each a compact document plus ``\\n``) and the diagnostics
        lines. Does not warn; :meth:`handle` does.
        """
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with self._lock:
            now = self._clock() if now_ms is None else int(now_ms)
            if not 0 <= now < 2**63:
                raise ValueError(f"now_ms must be an integer from 0 to 2^63-1, not {now}")
            ptr = 0
            if raw:
                ptr = self._call("breaker_alloc", len(raw))
                if ptr == 0:
                    raise BreakerError(f"breaker_alloc could not provide {len(raw)} bytes")
                self._memory.write(self._store, raw, ptr)
            try:
                out = self._read(self._call("breaker_handle", ptr, len(raw), now))
            finally:
                if ptr and not self.trapped:
                    self._call("breaker_free", ptr, len(raw))
            diag = self._read(self._call("breaker_diagnostics")).decode("utf-8", "replace")
            self.last_diagnostics = diag.splitlines()
            return out, list(self.last_diagnostics)

    def handle(
        self, message: Union[Message, Iterable[Mapping[str, Any]]], now_ms: int | None = None
    ) -> list[Reply]:
        """Handles a message (a dict, or JSON text/bytes holding one or more documents; or a list
        of dicts) at ``now_ms`` (default: the clock) and returns the parsed replies in order.

        Diagnostics are stored in :attr:`last_diagnostics` and issued as
        :class:`BreakerDiagnostic` warnings.
        """
        if isinstance(message, (str, bytes, bytearray)):
            data: Union[str, bytes] = bytes(message) if isinstance(message, bytearray) else message
        elif isinstance(message, Mapping):
            data = _dumps(message)
        else:
            data = "\n".join(_dumps(m) for m in message)
        out, diagnostics = self.handle_raw(data, now_ms)
        for line in diagnostics:
            warnings.warn(
                f"breaker module could not answer: {line}", BreakerDiagnostic, stacklevel=2
            )
        return [json.loads(line) for line in out.decode("utf-8").splitlines() if line]

    # -- request/reply helpers -----------------------------------------------------------------

    def request(
        self, body: Mapping[str, Any], *, dest: str = "breaker", now_ms: int | None = None
    ) -> Reply:
        """Sends one body (a fresh ``msg_id`` is added) and returns the reply's body."""
        with self._lock:
            self._msg_id += 1
            msg_id = self._msg_id
            replies = self.handle(
                {"src": self._src, "dest": dest, "body": {**body, "msg_id": msg_id}}, now_ms
            )
        for reply in replies:
            if reply.get("body", {}).get("in_reply_to") == msg_id:
                return cast(Reply, reply["body"])
        raise BreakerError(
            f"no reply to {body.get('type')!r}: {'; '.join(self.last_diagnostics) or 'nothing said'}"
        )

    def _checked(self, body: Mapping[str, Any], **kw: Any) -> Reply:
        reply = self.request(body, **kw)
        if reply.get("type") == "error":
            raise ProtocolError(
                int(reply.get("code", 0)), str(reply.get("text", reply.get("error"))), reply
            )
        return reply

    def acquire(self, service: str, now_ms: int | None = None) -> int:
        """Asks permission for one call to ``service``; returns the permit.

        :raises BreakerOpen: when the breaker rejects the call.
        """
        reply = self.request({"type": "acquire", "service": service}, now_ms=now_ms)
        if reply.get("type") == "error" and reply.get("code") == 11:
            raise BreakerOpen(service, str(reply.get("text")), reply.get("retry_after_ms"), reply)
        if reply.get("type") != "acquire_ok":
            raise ProtocolError(int(reply.get("code", 0)), str(reply.get("text")), reply)
        return int(reply["permit"])

    def record(
        self,
        service: str,
        permit: int,
        outcome: str,
        duration_ms: int | None = None,
        now_ms: int | None = None,
    ) -> Reply:
        """Reports the result of a call admitted by :meth:`acquire` (``outcome`` is
        ``"success"``, ``"failure"`` or ``"ignored"``). Returns the ``record_ok`` body, which has
        ``"stale": true`` when the permit no longer counts and a ``transition`` when it moved
        the breaker."""
        body: dict[str, Any] = {
            "type": "record",
            "service": service,
            "permit": permit,
            "outcome": outcome,
        }
        if duration_ms is not None:
            body["duration_ms"] = max(0, int(duration_ms))
        return self._checked(body, now_ms=now_ms)

    def _write_name(self, name: bytes) -> int:
        """Writes a service name into the guest's 256-byte name buffer; returns its address."""
        if self._name_ptr == 0:
            self._name_ptr = self._call("breaker_alloc", _NAME_BYTES)
            if self._name_ptr == 0:
                raise BreakerError(f"breaker_alloc could not provide {_NAME_BYTES} bytes")
        self._memory.write(self._store, name, self._name_ptr)
        return self._name_ptr

    def _guard_acquire(self, service: str) -> int:
        """``acquire`` for :class:`Guard`: the typed fast path when the module has it."""
        name = service.encode("utf-8")
        if self._fast is None or not 1 <= len(name) <= _NAME_BYTES:
            return self.acquire(service)  # the JSON path, which also says why a name is refused
        with self._lock:
            ptr = self._write_name(name)
            r = cast(int, self._call_func(self._fast[0], ptr, len(name), float(self._clock())))
        if r > 0:
            return r
        if r == 0:
            return self.acquire(service)
        v = -1 - r
        text = "Circuit breaker HALF_OPEN" if v & 1 else "Circuit breaker OPEN"
        retry = (v >> 1) - 1 if v >> 1 else None
        reply: Reply = {
            "type": "error",
            "in_reply_to": 0,
            "code": 11,
            "text": text,
            "service": service,
        }
        if retry is not None:
            reply["retry_after_ms"] = retry
        raise BreakerOpen(service, text, retry, reply)

    def _guard_record(self, service: str, permit: int, outcome: str, duration_ms: int) -> None:
        """``record`` for :class:`Guard`: the typed fast path when the module has it."""
        name = service.encode("utf-8")
        if self._fast is None or not 1 <= len(name) <= _NAME_BYTES:
            self.record(service, permit, outcome, duration_ms)
            return
        code = {"success": 0, "failure": 1, "ignored": 2}[outcome]
        with self._lock:
            ptr = self._write_name(name)
            args = (
                ptr,
                len(name),
                float(permit),
                code,
                float(max(0, duration_ms)),
                float(self._clock()),
            )
            if self._call_func(self._fast[1], *args) < 0:
                raise BreakerError(
                    f"breaker_record refused the record of permit {permit} for {service!r}"
                )

    def guard(self, service: str, *, ignore: tuple[type[BaseException], ...] = ()) -> "Guard":
        """A context manager and decorator that runs code under the breaker of ``service``.

        On entry it acquires a permit (raising :class:`BreakerOpen` when rejected); on exit it
        records ``success``, or ``failure`` when an exception escapes (re-raised unchanged), or
        ``ignored`` for exceptions of the types in ``ignore`` (and for cancellation,
        ``KeyboardInterrupt`` and ``SystemExit``), with the elapsed ``duration_ms``.
        As a decorator it works on plain and ``async`` functions.
        """
        return Guard(self, service, ignore)

    def status(self, service: str | None = None) -> Reply:
        """The ``status_ok`` body for ``service``, or for every breaker."""
        return self._checked(
            {"type": "status", **({"service": service} if service is not None else {})}
        )

    def configure(self, config: Mapping[str, Any], service: str | None = None) -> Reply:
        """Changes the defaults, or ``service``'s override; returns the ``configure_ok`` body."""
        body: dict[str, Any] = {"type": "configure", "config": dict(config)}
        if service is not None:
            body["service"] = service
        return self._checked(body)

    def events(self, after: int = 0, service: str | None = None) -> list[dict[str, Any]]:
        """The recorded transitions with ``seq`` greater than ``after``."""
        body: dict[str, Any] = {"type": "events", "after": after}
        if service is not None:
            body["service"] = service
        return list(self._checked(body)["events"])

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume this node (the ``snapshot`` object)."""
        return cast("dict[str, Any]", self._checked({"type": "snapshot"})["snapshot"])

    def restore(self, snapshot: Mapping[str, Any]) -> int:
        """Replaces this node's state with ``snapshot``; returns the number of services."""
        return int(self._checked({"type": "restore", "snapshot": dict(snapshot)})["services"])

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes a snapshot to ``path`` atomically (a temporary file, then a rename)."""
        target = Path(path)
        data = _dumps(self.snapshot()) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def load(self, path: Union[str, os.PathLike[str]]) -> int:
        """Restores the snapshot saved at ``path``; returns the number of services.

        :raises ProtocolError: (code 12) when the snapshot is invalid; nothing changes then.
        """
        snapshot = json.loads(Path(path).read_text(encoding="utf-8"))
        return self.restore(snapshot)


#: Service names are 1 to 256 bytes of UTF-8.
_NAME_BYTES = 256

#: Exceptions that say nothing about the downstream: recorded as ``ignored``.
_NOT_A_RESULT = (GeneratorExit, KeyboardInterrupt, SystemExit, asyncio.CancelledError)


class Guard:
    """See :meth:`Breaker.guard`. Re-entrant: each ``with`` or decorated call gets its own permit."""

    def __init__(
        self, breaker: Breaker, service: str, ignore: tuple[type[BaseException], ...] = ()
    ) -> None:
        self._breaker = breaker
        self._service = service
        self._ignore = ignore
        self._local = threading.local()

    def _stack(self) -> list[tuple[int, float]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return cast("list[tuple[int, float]]", stack)

    def __enter__(self) -> "Guard":
        permit = self._breaker._guard_acquire(self._service)
        self._stack().append((permit, time.monotonic()))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        permit, started = self._stack().pop()
        duration_ms = int((time.monotonic() - started) * 1000)
        if kind is None:
            outcome = "success"
        elif issubclass(kind, self._ignore) or issubclass(kind, _NOT_A_RESULT):
            outcome = "ignored"
        else:
            outcome = "failure"
        self._breaker._guard_record(self._service, permit, outcome, duration_ms)

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with Guard(self._breaker, self._service, self._ignore):
                    return await cast(Callable[..., Awaitable[Any]], fn)(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Guard(self._breaker, self._service, self._ignore):
                return fn(*args, **kwargs)

        return cast(F, wrapper)


def _trap_reason(e: Exception) -> str:
    """The cause line of a wasmtime trap ("wasm trap: wasm `unreachable` instruction executed")."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("wasm trap:")]
    return causes[-1] if causes else (lines[-1] if lines else type(e).__name__)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
