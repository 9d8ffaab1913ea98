"""Every error the package raises, and the diagnostics warning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BreakerError(Exception):
    """Base class of every error this package raises."""


class BreakerLoadError(BreakerError):
    """The module could not be loaded: wrong path, not WebAssembly, or a missing export."""


class AbiVersionError(BreakerLoadError):
    """The module exports a ``breaker_abi_version`` other than the one this package speaks."""

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
    breaker is forced open (no deadline). ``reply`` is the body of the ``acquire`` reply.
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


def rejection(service: str, result: int) -> BreakerOpen:
    """The error for a rejected typed ``acquire`` (ABI.md, "The typed fast path").

    Its ``reply`` is the body the ``acquire`` message would have been answered with, with
    ``in_reply_to`` 0, but for the breaker's ``last_failure``, which the result does not carry
    (``status`` shows it).
    """
    v = -1 - result
    text = "Circuit breaker HALF_OPEN" if v & 1 else "Circuit breaker OPEN"
    retry = (v >> 1) - 1 if v >> 1 else None
    reply: dict[str, Any] = {
        "type": "error",
        "in_reply_to": 0,
        "code": 11,
        "text": text,
        "service": service,
    }
    if retry is not None:
        reply["retry_after_ms"] = retry
    return BreakerOpen(service, text, retry, reply)
