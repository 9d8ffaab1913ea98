"""A decorated function's common case, written out: a grant in hand, and the record right after
its acquire. This is every decorated call's cost, so it looks nothing up that it can hold.

The objects every guard of a breaker shares (its lock, clock, batch and log) are bound once per
breaker, in :func:`sync_decorator`'s scope: all the wrappers it makes share those closure cells,
so a call touches few objects of its own (with a thousand guarded functions, each wrapper's own
cells would be another cache miss per call). Everything else goes to the guard's general path
(:meth:`Guard._begin` and :meth:`Guard._end`), which follows the same rules (ABI.md, "Grants
and batched reports").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._batch import _ACQUIRE, _CALL, _FLUSH_WORDS, UNRESOLVED
from .errors import BreakerOpen

if TYPE_CHECKING:
    from .breaker import Breaker
    from .guard import Guard

_SUCCESS = 0
_CALL_SUCCESS = _CALL + _SUCCESS

Decorate = Callable[["Guard", Callable[..., Any]], Callable[..., Any]]


def sync_decorator(breaker: Breaker) -> Decorate:
    """What decorates a plain function with one of ``breaker``'s guards."""
    acquire, release = breaker._lock.acquire, breaker._lock.release
    ticks, batch = breaker._ticks, breaker._batch
    # The same objects for the breaker's life (the log is cleared, never replaced).
    log: list[int] = [] if batch is None else batch._log
    extend = log.extend
    pending = breaker._pending

    def decorate(guard: Guard, fn: Callable[..., Any]) -> Callable[..., Any]:
        # The guard's handle, held here once it is resolved, so that the common case does not
        # touch the guard at all (a handle never changes once resolved).
        handle = guard._handle

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal handle
            s = handle
            acquire()
            try:
                if s.outcomes > 0 and len(log) < _FLUSH_WORDS:
                    started = ticks()
                    batch.last_permit = s.last = permit = batch.last_permit + 1  # type: ignore[union-attr]
                    # The acquire's start is its own time (ignored by the module): a success
                    # below then only changes the op and the time.
                    extend((_ACQUIRE, s.slot, permit, started, started))
                else:
                    s = UNRESOLVED  # the general path, which also flushes a long log
            finally:
                release()
            if s is UNRESOLVED:
                try:
                    permit, started, s = guard._begin()
                except BreakerOpen as e:
                    if guard._fallback is None:
                        raise
                    return guard._fallback(e)
                finally:
                    handle = guard._handle
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:
                guard._raised((permit, started, s), e)
                raise
            acquire()
            try:
                # Permits are unique, so the entry with this permit at [-3] is its acquire (no
                # record of it is logged before this): one entry for both, op 4 (ABI.md).
                done = s.outcomes > 0 and log and log[-3] == permit
                if done:
                    now = ticks()
                    if now >= started:
                        s.outcomes -= 1
                        if permit == s.last:
                            s.failures = s.rearm
                        log[-5] = _CALL_SUCCESS
                        log[-1] = now
                    else:
                        done = False
            finally:
                release()
            if done:
                if pending:
                    breaker._deliver()
                return result
            guard._end((permit, started, s), _SUCCESS)
            return result

        return wrapper

    return decorate
