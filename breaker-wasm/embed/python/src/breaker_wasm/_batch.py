"""The batch path (ABI.md, "Grants and batched reports"): calls admitted and their outcomes
logged here within the module's grant, and replayed by the module in one call.

The wrapper decides nothing: the module says, per service, how many outcomes (and how many
failures) can certainly not move the breaker; within that, acquires are numbered as the module
numbers permits and logged with the outcomes, each with its own time. Anything beyond the grant
is logged and the whole log is replayed at once (``breaker_sync``), so the call that might open
the breaker is decided by the module before it returns, and its transition reaches the listeners
first.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ._instance import Instance
from .errors import BreakerError, BreakerTrapped, rejection

#: i64 numbers per log entry: op, slot, permit, start, now (times in clock ticks; start -1
#: when there is none, and an acquire's own time, which the module ignores, so that its record
#: can take its entry by changing the op and the time). ``breaker_sync_ticks`` turns ticks
#: into milliseconds.
_WORDS = 5
_ACQUIRE = 3
#: Plus the outcome: an acquire at ``now - duration`` of ``permit`` and its record at ``now``.
_CALL = 4
#: A grant is packed as outcomes | failures << 21 | rearm << 42.
_BITS = 21
_MASK = (1 << _BITS) - 1
#: ``breaker_sync`` results at or below this say an entry was refused (i64::MIN + index).
_MISMATCH = -(1 << 63) + (1 << 32)
#: Entries kept before a flush even when the grants allow more: bounds the log's memory.
FLUSH_AT = 4096

OUTCOME_CODES = {"success": 0, "failure": 1, "ignored": 2}


class Service:
    """What the wrapper may still do locally for one service."""

    __slots__ = ("failures", "last", "name", "outcomes", "rearm", "slot")

    def __init__(self, name: str, slot: int) -> None:
        self.name = name
        self.slot = slot
        #: What the grant still allows: outcomes, failures among them, and what ``failures``
        #: becomes after the success of ``last``, the newest permit since the grant.
        self.outcomes = 0
        self.failures = 0
        self.rearm = 0
        self.last = 0


#: The handle of a guard whose service is not looked up yet (no grant until then).
UNRESOLVED = Service("", -1)


class Batch:
    """The log, the grants and the permit numbering of one instance."""

    __slots__ = (
        "_after_sync",
        "_buffer",
        "_instance",
        "_log",
        "_services",
        "_ticks_per_ms",
        "last_permit",
        "texts",
    )

    def __init__(
        self, instance: Instance, ticks_per_ms: int, after_sync: Callable[[], None]
    ) -> None:
        self._instance = instance
        self._ticks_per_ms = ticks_per_ms
        self._after_sync = after_sync
        self._services: dict[str, Service | None] = {}
        self._log: list[int] = []
        #: The failure texts of the log: (entry index, text), indices increasing. Appended with
        #: the entry, under the same lock; a flush hands them over and clears them.
        self.texts: list[tuple[int, str]] = []
        self._buffer = (0, 0, 0)  # (address from breaker_alloc, aligned address, capacity)
        self.last_permit = int(instance.call("breaker_last_permit"))

    def service(self, name: str) -> Service | None:
        """The batch-path handle of ``name`` (``None`` when it is not a service name)."""
        if name in self._services:
            return self._services[name]
        encoded = name.encode("utf-8")
        slot = -1
        if 1 <= len(encoded) <= 256:
            ptr = self._instance.alloc(len(encoded))
            self._instance.write(encoded, ptr)
            slot = self._instance.call("breaker_slot", ptr, len(encoded))
            self._instance.call("breaker_free", ptr, len(encoded))
        service = Service(name, slot) if slot >= 0 else None
        self._services[name] = service
        return service

    def acquire(self, s: Service, now: int) -> int:
        """A permit for one call to ``s`` at ``now``: numbered here within the grant, else
        decided by the module (the caller holds the breaker's lock).

        :raises BreakerOpen: when the module rejects the call.
        """
        if s.outcomes > 0:
            if len(self._log) >= FLUSH_AT * _WORDS:
                self.flush()
            self.last_permit = s.last = permit = self.last_permit + 1
            self._log += (_ACQUIRE, s.slot, permit, now, now)
            return permit
        self._log += (_ACQUIRE, s.slot, 0, now, now)
        result = self.flush()
        if result <= 0:
            raise rejection(s.name, result)
        self.last_permit = result
        self._regrant(s)
        s.last = result
        return result

    def record(
        self, s: Service, permit: int, outcome: int, started: int, now: int, text: str | None
    ) -> None:
        """The outcome (0 success, 1 failure, 2 ignored) of a permit from :meth:`acquire` at
        ``started``, a failure with its ``text`` (or none): kept within the grant, else replayed
        with the log before this returns (the caller holds the breaker's lock)."""
        self._log += (outcome, s.slot, permit, started, now)
        if text is not None:
            self.texts.append((len(self._log) // _WORDS - 1, text))
        if s.outcomes > 0 and (outcome != 1 or s.failures > 0):
            s.outcomes -= 1
            if outcome == 1:
                s.failures -= 1
            elif outcome == 0 and permit == s.last:
                s.failures = s.rearm  # the grant's rule for a success (ABI.md)
            if len(self._log) >= FLUSH_AT * _WORDS:
                self.flush()
            return
        self.flush()
        self._regrant(s)

    def _regrant(self, s: Service) -> None:
        packed = self._instance.call("breaker_grant", s.slot)
        s.outcomes, s.failures = packed & _MASK, (packed >> _BITS) & _MASK
        s.rearm, s.last = packed >> 2 * _BITS, 0

    def flush(self) -> int:
        """Replays the log in the module, with its failure texts; returns the last entry's
        result (0 when empty)."""
        count = len(self._log) // _WORDS
        if count == 0:
            return 0
        # The texts go in the same buffer, after the log: the module copies them at once.
        texts = encode_texts(self.texts) if self.texts else b""
        # struct converts a list of ints about twice as fast as array("q") does.
        data = struct.pack(f"<{len(self._log)}q", *self._log)
        self._log.clear()
        self.texts.clear()
        at = len(data)
        data += texts
        raw, ptr, capacity = self._buffer
        if capacity < len(data):
            if raw:
                self._instance.call("breaker_free", raw, capacity + 8)
            # Room to spare: the texts make the bytes of a full log vary from flush to flush.
            capacity = max(2 * len(data), FLUSH_AT * _WORDS * 8)
            raw = self._instance.alloc(capacity + 8)  # f64s need 8-byte alignment
            ptr = (raw + 7) & ~7
            self._buffer = (raw, ptr, capacity)
        self._instance.write(data, ptr)
        try:
            kept = (
                self._instance.call("breaker_failure_texts", ptr + at, len(texts)) if texts else 0
            )
            result = self._instance.call("breaker_sync_ticks", ptr, count, self._ticks_per_ms)
        except BreakerTrapped:
            self.void()  # no call is admitted here by an instance that is gone
            raise
        self._after_sync()
        if result <= _MISMATCH:
            raise BreakerError(
                f"the module refused entry {result - (-(1 << 63))} of a batch: a local "
                "decision disagreed with it (please report this)"
            )
        if kept < 0:
            # The log was replayed all the same, without the texts: no call is lost.
            raise BreakerError("the module refused a batch's failure texts (please report this)")
        return result

    def invalidate(self) -> None:
        """After anything else crossed (a message): every grant is void, permits re-read."""
        self.void()
        self.last_permit = int(self._instance.call("breaker_last_permit"))

    def void(self) -> None:
        """Every grant is void: the next call of every service crosses into the module."""
        for s in self._services.values():
            if s is not None:
                s.outcomes = s.failures = s.rearm = s.last = 0


_FLUSH_WORDS = FLUSH_AT * _WORDS


def encode_texts(texts: list[tuple[int, str]]) -> bytes:
    """Failure texts as ``breaker_failure_texts`` takes them: per text, its entry's index and its
    length in bytes (two little-endian u32s), then its UTF-8 bytes."""
    out = bytearray()
    for index, text in texts:
        encoded = text.encode("utf-8", "replace")  # guards' texts are valid already
        out += _TEXT_HEADER.pack(index, len(encoded))
        out += encoded
    return bytes(out)


_TEXT_HEADER = struct.Struct("<II")
