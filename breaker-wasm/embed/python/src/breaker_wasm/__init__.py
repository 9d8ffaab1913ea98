"""A deterministic circuit breaker, compiled to WebAssembly, for Python.

>>> from breaker_wasm import Breaker
>>> breaker = Breaker(failure_threshold=3, open_timeout_ms=5000)   # the packaged module
>>> @breaker.guard("inventory", timeout=2.0)
... async def get_stock(): ...

Every decision is made by the module (the same one ``breaker-host``, the browser page and the
Node package run), so a breaker behaves here exactly as the protocol says. See the project's
README and ``breaker-wasm/ABI.md``.
"""

from ._instance import ABI_VERSION
from .breaker import Breaker, Listener, SystemClock, Transition
from .errors import (
    AbiVersionError,
    BreakerDiagnostic,
    BreakerError,
    BreakerLoadError,
    BreakerOpen,
    BreakerTrapped,
    ProtocolError,
)
from .guard import Guard

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
    "Listener",
    "ProtocolError",
    "SystemClock",
    "Transition",
]
