"""The :class:`Breaker`: one node of circuit breakers, by service name, in this process."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ._batch import Batch
from ._decorated import sync_decorator
from ._instance import BATCH_EXPORTS, OPTION_MANUAL_CLOCK, OPTION_NO_FIXTURES, Instance, Source
from .errors import BreakerDiagnostic, BreakerError, BreakerOpen, ProtocolError

if TYPE_CHECKING:
    from .guard import Guard

Message = Mapping[str, Any] | str | bytes
Reply = dict[str, Any]

#: The config fields of the protocol (README, "Configuration"), as keyword arguments.
CONFIG_FIELDS = (
    "failure_threshold",
    "open_timeout_ms",
    "half_open_max_calls",
    "success_threshold",
    "window",
    "slow_call_ms",
    "slow_call_rate",
    "probe_timeout_ms",
    "backoff",
    "max_services",
)


@dataclass(frozen=True)
class Transition:
    """One state change, as the module logged it (the ``events`` entry)."""

    seq: int
    at_ms: int
    service: str
    from_state: str
    to_state: str
    reason: str


Listener = Callable[[Transition], None]


def system_now() -> int:
    """Unix epoch milliseconds: the default clock. The module treats a time behind the latest
    it has seen as that one, so a clock step back changes no decision."""
    return time.time_ns() // 1_000_000


class SystemClock:
    """Unix epoch milliseconds from ``time.time()``, never going backwards."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._last = 0

    def __call__(self) -> int:
        # No lock: callers hold the breaker's lock, and the module treats a time behind the
        # latest it has seen as that one anyway.
        now = int(self._source() * 1000)
        if now > self._last:
            self._last = now
            return now
        return self._last


class Breaker:
    """One instance of the module: one node holding any number of breakers by service name.

    :param module: ``breaker.wasm`` as a path or bytes; by default the one in this package.
    :param clock: returns the current time in ms (default :func:`system_now`).
    :param manual_clock: the node's time moves only on ``advance_clock`` messages.
    :param fixtures: keep the test fixtures of ``call`` and ``force`` (``False`` in production).
    :param src: the ``src`` of envelopes the helpers build.
    :param config: any config field of the protocol (``failure_threshold=3``, ...), set as
        the defaults with ``configure``.

    Calls are serialized with a lock, so one instance may be shared between threads.
    """

    def __init__(
        self,
        module: Source = None,
        *,
        clock: Callable[[], int] | None = None,
        manual_clock: bool = False,
        fixtures: bool = True,
        src: str = "python",
        **config: Any,
    ) -> None:
        unknown = sorted(set(config) - set(CONFIG_FIELDS))
        if unknown:
            raise TypeError(f"unknown config field(s): {', '.join(unknown)}")
        self._clock: Callable[[], int] = clock if clock is not None else system_now
        #: The guards' clock, in ticks, ``_ticks_per_ms`` of them a millisecond: by default
        #: ``time.time_ns`` as it is (the module divides, so a guarded call does not).
        self._ticks: Callable[[], int] = clock if clock is not None else time.time_ns
        self._ticks_per_ms = 1 if clock is not None else 1_000_000
        self._src = src
        # Not re-entrant (cheaper, and every guarded call takes it twice): nothing holding it
        # calls back into the breaker, and listeners run after it is released.
        self._lock = threading.Lock()
        self._msg_ids = itertools.count(1)
        self._pending: list[Transition] = []
        self._listeners: list[tuple[Listener, str | None]] = []
        self._seen_seq = 0
        #: Diagnostics lines of the last message handled (empty when none).
        self.last_diagnostics: list[str] = []
        self._instance = Instance(module)
        self._instance.set_options(
            (OPTION_MANUAL_CLOCK if manual_clock else 0) | (0 if fixtures else OPTION_NO_FIXTURES)
        )
        self._batch = (
            Batch(self._instance, self._ticks_per_ms, self._collect)
            if self._instance.has(*BATCH_EXPORTS)
            else None
        )
        #: Decorates a plain function with a guard (``Guard.__call__``).
        self._decorate = sync_decorator(self)
        if config:
            self.configure(config)

    @property
    def trapped(self) -> bool:
        """Whether the guest has trapped (the instance is then unusable)."""
        return self._instance.trapped is not None

    # -- messages --------------------------------------------------------------------------------

    def handle_raw(self, data: str | bytes, now_ms: int | None = None) -> tuple[bytes, list[str]]:
        """Hands ``data`` (one or more complete JSON documents) to the module.

        Returns the reply bytes (each a compact document plus ``\\n``) and the diagnostics
        lines. Does not warn; :meth:`handle` does. Guarded calls not yet reported to the
        module are reported first, so the message sees everything.
        """
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with self._lock:
            now = self._clock() if now_ms is None else int(now_ms)
            if not 0 <= now < 2**63:
                raise ValueError(f"now_ms must be an integer from 0 to 2^63-1, not {now}")
            if self._batch is not None:
                self._batch.flush()
            try:
                out, diagnostics = self._instance.handle(raw, now)
            finally:
                if self._batch is not None and self.trapped:
                    self._batch.void()
                elif self._batch is not None:
                    self._batch.invalidate()
            self.last_diagnostics = lines = diagnostics.splitlines()
            self._collect()
        if self._pending:
            self._deliver()
        return out, list(lines)

    def handle(
        self, message: Message | Iterable[Mapping[str, Any]], now_ms: int | None = None
    ) -> list[Reply]:
        """Handles a message (a dict, JSON text/bytes with one or more documents, or a list of
        dicts) at ``now_ms`` (default: the clock); returns the parsed replies in order.

        Diagnostics are stored in :attr:`last_diagnostics` and issued as
        :class:`BreakerDiagnostic` warnings.
        """
        if isinstance(message, str | bytes | bytearray):
            data: str | bytes = bytes(message) if isinstance(message, bytearray) else message
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

    def request(
        self, body: Mapping[str, Any], *, dest: str = "breaker", now_ms: int | None = None
    ) -> Reply:
        """Sends one body (a fresh ``msg_id`` is added) and returns the reply's body."""
        msg_id = next(self._msg_ids)
        envelope = {"src": self._src, "dest": dest, "body": {**body, "msg_id": msg_id}}
        replies = self.handle(envelope, now_ms)
        for reply in replies:
            if reply.get("body", {}).get("in_reply_to") == msg_id:
                return cast(Reply, reply["body"])
        said = "; ".join(self.last_diagnostics) or "nothing said"
        raise BreakerError(f"no reply to {body.get('type')!r}: {said}")

    def _checked(self, body: Mapping[str, Any], **kw: Any) -> Reply:
        reply = self.request(body, **kw)
        if reply.get("type") == "error":
            text = str(reply.get("text", reply.get("error")))
            raise ProtocolError(int(reply.get("code", 0)), text, reply)
        return reply

    # -- two-step calls --------------------------------------------------------------------------

    def acquire(self, service: str, now_ms: int | None = None) -> int:
        """Asks permission for one call to ``service`` (the ``acquire`` message); the permit.

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
        *,
        error: str | None = None,
    ) -> Reply:
        """Reports the result of a call admitted by :meth:`acquire` (``outcome`` is
        ``"success"``, ``"failure"`` or ``"ignored"``); returns the ``record_ok`` body.

        ``error``: a failure's text, which the breaker keeps as its last failure (cut to 256
        bytes; ignored for other outcomes). A guard passes ``"TypeName: message"``.
        """
        body: dict[str, Any] = {
            "type": "record",
            "service": service,
            "permit": permit,
            "outcome": outcome,
        }
        if duration_ms is not None:
            body["duration_ms"] = max(0, int(duration_ms))
        if error is not None:
            if not isinstance(error, str):
                raise TypeError(f"error must be a str, not {type(error).__name__}")
            body["error"] = error
        return self._checked(body, now_ms=now_ms)

    def guard(
        self,
        service: str,
        *,
        ignore: tuple[type[BaseException], ...] = (),
        exclude: Callable[[BaseException], bool] | None = None,
        timeout: float | None = None,
        fallback: Callable[[BreakerOpen], Any] | None = None,
        cancellation: str = "failure",
    ) -> Guard:
        """Runs code under the breaker of ``service``: a context manager (``with``, ``async
        with``) and a decorator (plain and ``async`` functions). See :class:`Guard`."""
        from .guard import Guard

        return Guard(self, service, ignore, exclude, timeout, fallback, cancellation)

    # -- admin -----------------------------------------------------------------------------------

    def status(self, service: str | None = None) -> Reply:
        """The ``status_ok`` body for ``service``, or for every breaker."""
        return self._checked(
            {"type": "status", **({} if service is None else {"service": service})}
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

    def metrics(self) -> str:
        """This node's metrics as OpenMetrics text (what Prometheus scrapes), ending in ``# EOF``:
        the text ``breaker-host --listen`` serves, without the host's own series."""
        return str(self._checked({"type": "metrics"})["text"])

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume this node (the ``snapshot`` object)."""
        return cast("dict[str, Any]", self._checked({"type": "snapshot"})["snapshot"])

    def restore(self, snapshot: Mapping[str, Any]) -> int:
        """Replaces this node's state with ``snapshot``; returns the number of services."""
        return int(self._checked({"type": "restore", "snapshot": dict(snapshot)})["services"])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes a snapshot to ``path`` atomically (a temporary file, then a rename)."""
        target = Path(path)
        data = _dumps(self.snapshot()) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path: str | os.PathLike[str]) -> int:
        """Restores the snapshot saved at ``path``; returns the number of services.

        :raises ProtocolError: (code 12) when the snapshot is invalid; nothing changes then.
        """
        return self.restore(json.loads(Path(path).read_text(encoding="utf-8")))

    # -- listeners -------------------------------------------------------------------------------

    def add_listener(self, listener: Listener, service: str | None = None) -> Callable[[], None]:
        """Calls ``listener`` with every :class:`Transition` (of ``service`` only, if given),
        from the events the module logs, before the call that caused it returns. Returns a
        function that removes it."""
        entry = (listener, service)
        with self._lock:
            if not self._listeners and self._batch is not None:
                self._seen_seq = int(self._instance.call("breaker_event_seq"))
            self._listeners.append(entry)

        def remove() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return remove

    def _collect(self) -> None:
        """Queues the transitions logged since the last look (the lock is held)."""
        if not self._listeners or self._batch is None:
            return
        seq = int(self._instance.call("breaker_event_seq"))
        if seq <= self._seen_seq:
            return
        packed = self._instance.call("breaker_events_after", float(self._seen_seq))
        self._seen_seq = seq
        for e in json.loads(self._instance.read(packed))["body"]["events"]:
            t = Transition(e["seq"], e["at_ms"], e["service"], e["from"], e["to"], e["reason"])
            self._pending.append(t)

    def _deliver(self) -> None:
        """Hands the queued transitions to the listeners, in order, outside the lock (so a
        listener may use the breaker). A listener that raises does not keep the others from
        hearing: the first error is raised once all have been called."""
        with self._lock:
            # The same list object for the breaker's life: the decorated call's common case
            # holds it.
            pending = self._pending.copy()
            self._pending.clear()
            listeners = list(self._listeners)
        failed: BaseException | None = None
        for t in pending:
            for listener, service in listeners:
                if service is None or service == t.service:
                    try:
                        listener(t)
                    except Exception as e:  # every listener still hears of every transition
                        failed = failed or e
        if failed is not None:
            raise failed


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
