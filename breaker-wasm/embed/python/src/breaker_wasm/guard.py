"""The :class:`Guard`: a call under a breaker, recorded as ABI.md's "What a guard records" says.

Acquiring and recording go through the batch path when the module has it (no crossing into
the module for most calls), and through the ``acquire``/``record`` messages otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._batch import _ACQUIRE, _CALL, _FLUSH_WORDS, _WORDS, UNRESOLVED, Batch, Service
from .errors import BreakerOpen

if TYPE_CHECKING:
    from .breaker import Breaker

F = TypeVar("F", bound=Callable[..., Any])

#: Exceptions that say nothing about the downstream: recorded as ``ignored``.
_NOT_A_RESULT = (GeneratorExit, KeyboardInterrupt, SystemExit)

CANCELLATION_CHOICES = ("failure", "ignored")

#: A permit in hand: (permit, acquired at (in the breaker's clock ticks), the batch-path
#: handle, or _NO_BATCH for messages).
_Held = tuple[int, int, Service]

_SUCCESS, _FAILURE, _IGNORED = 0, 1, 2
#: A failure's text is cut to this many characters (the module keeps 256 bytes of it).
TEXT_LIMIT = 256
_OUTCOMES = ("success", "failure", "ignored")
#: The batch-path handle of a guard's service is looked up on first use (no grant until then).
_UNRESOLVED = UNRESOLVED
#: The handle of a guard whose calls go through the messages (no batch path, or a bad name).
_NO_BATCH = Service("", -1)


def failure_text(exc: BaseException) -> str:
    """A failure's text, as the breaker keeps it (ABI.md, "What a guard records"): the error as
    Python prints it, ``"TypeName: message"``, or the type name alone when the message is empty
    (or cannot be had), cut to :data:`TEXT_LIMIT` characters; valid UTF-8 whatever the message
    holds (a lone surrogate becomes ``?``)."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:
        message = ""
    text = f"{name}: {message}"[:TEXT_LIMIT] if message else name[:TEXT_LIMIT]
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


class Guard:
    """Runs code under the breaker of one service (made by :meth:`Breaker.guard`).

    - ``with guard:`` / ``async with guard:`` acquire a permit on entry (raising
      :class:`BreakerOpen`, without running the body, when rejected) and record the outcome on
      exit with the elapsed ``duration_ms``: ``success`` when nothing escapes, ``ignored`` for
      an exception of a type in ``ignore`` or one ``exclude(exc)`` says to leave out (and for
      ``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``), ``failure`` for any other.
      The exception is re-raised unchanged.
    - ``timeout`` (seconds, ``async with`` and async functions only): the body is cancelled
      after it and ``TimeoutError`` is raised; that is a failure.
    - ``cancellation``: an ``asyncio`` cancellation from the caller's side is a ``"failure"``
      (the default: a downstream that hangs until the caller gives up must open the breaker)
      or ``"ignored"``.
    - ``fallback``: as a decorator, a rejected call returns ``fallback(error)`` (awaited when
      it returns an awaitable) instead of raising :class:`BreakerOpen`.

    One ``Guard`` may be shared: each ``with`` (per thread) and each ``async with`` (per task)
    holds its own permit. In a coroutine that awaits inside the block, use ``async with``: a
    plain ``with`` keeps its permits per thread, and tasks of one thread would pair them up
    wrongly.
    """

    __slots__ = (
        "_acquire",
        "_batch",
        "_breaker",
        "_cancel_ignored",
        "_exclude",
        "_fallback",
        "_handle",
        "_ignore",
        "_ignored_types",
        "_local",
        "_lock",
        "_log",
        "_release",
        "_service",
        "_tasks",
        "_ticks",
        "_ticks_per_ms",
        "_timeout",
    )

    def __init__(
        self,
        breaker: Breaker,
        service: str,
        ignore: tuple[type[BaseException], ...] = (),
        exclude: Callable[[BaseException], bool] | None = None,
        timeout: float | None = None,
        fallback: Callable[[BreakerOpen], Any] | None = None,
        cancellation: str = "failure",
    ) -> None:
        if cancellation not in CANCELLATION_CHOICES:
            raise ValueError(f"cancellation must be 'failure' or 'ignored', not {cancellation!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self._breaker = breaker
        self._service = service
        self._ignore = ignore
        self._ignored_types = ignore + _NOT_A_RESULT
        self._exclude = exclude
        self._timeout = timeout
        self._fallback = fallback
        self._cancel_ignored = cancellation == "ignored"
        self._local = threading.local()
        self._handle = _UNRESOLVED
        self._lock = breaker._lock
        self._ticks = breaker._ticks
        self._ticks_per_ms = breaker._ticks_per_ms
        self._batch = cast("Batch", breaker._batch)
        # Held for `with`, which looks them up on every use.
        self._acquire, self._release = self._lock.acquire, self._lock.release
        self._log: list[int] = [] if breaker._batch is None else breaker._batch._log
        self._tasks: dict[asyncio.Task[Any] | None, list[tuple[_Held, Any]]] = {}

    # -- acquire and record ----------------------------------------------------------------------

    def _begin(self) -> _Held:
        """Acquires a permit. Within the grant this is one append to the log, written out here
        because it is every guarded call's cost (see ``Batch.acquire`` for the rule)."""
        s = self._handle
        self._lock.acquire()
        try:
            now = self._ticks()
            if s.outcomes > 0:
                batch = self._batch
                if len(batch._log) >= _FLUSH_WORDS:
                    batch.flush()
                batch.last_permit = s.last = permit = batch.last_permit + 1
                batch._log += (_ACQUIRE, s.slot, permit, now, now)
                return permit, now, s
            if s is _UNRESOLVED:
                self._handle = s = self._resolve()
            rejected: BreakerOpen | None = None
            if s is not _NO_BATCH:
                try:
                    permit = self._batch.acquire(s, now)
                except BreakerOpen as e:
                    rejected = e
        finally:
            self._lock.release()
        if s is _NO_BATCH:
            # Not a service name, or no batch path: the message says why, or decides.
            permit = self._breaker.acquire(self._service, now // self._ticks_per_ms)
            return permit, now, _NO_BATCH
        if self._breaker._pending:
            # What this acquire caused (a probe's half_open) reaches the listeners before the
            # call runs; if a listener raises, the call does not run and its permit is released.
            try:
                self._breaker._deliver()
            except BaseException:
                if rejected is None:
                    self._end((permit, now, s), _IGNORED)
                raise
        if rejected is not None:
            raise rejected
        return permit, now, s

    def _end(self, held: _Held, code: int, text: str | None = None) -> None:
        """Records the outcome ``code`` of ``held``, a failure with its ``text``; within the
        grant, one append to the log (see ``Batch.record`` for the rule)."""
        permit, started, s = held
        self._lock.acquire()
        try:
            now = self._ticks()
            if s.outcomes > 0 and (code != _FAILURE or s.failures > 0):
                s.outcomes -= 1
                if code == _FAILURE:
                    s.failures -= 1
                elif code == _SUCCESS and permit == s.last:
                    s.failures = s.rearm  # the grant's rule for a success (ABI.md)
                log = self._batch._log
                # Permits are unique, so an entry with this permit at [-3] is its acquire or
                # nothing else.
                if log and log[-3] == permit and log[-5] == _ACQUIRE and now >= started:
                    # Its acquire is the last entry: one entry for both (ABI.md, op 4 + outcome).
                    log[-5] = _CALL + code
                    log[-2] = started
                    log[-1] = now
                else:
                    log += (code, s.slot, permit, started, now)
                if text is not None:
                    # The texts belong to the log, indexed by entry (ABI.md, wrapper rule 4).
                    self._batch.texts.append((len(log) // _WORDS - 1, text))
                if len(log) < _FLUSH_WORDS:
                    return
                self._batch.flush()
            elif s is not _NO_BATCH:
                self._batch.record(s, permit, code, started, now, text)
        finally:
            self._lock.release()
        if s is _NO_BATCH:
            unit = self._ticks_per_ms
            now_ms, duration = now // unit, max(0, now // unit - started // unit)
            self._breaker.record(
                self._service, permit, _OUTCOMES[code], duration, now_ms, error=text
            )
        elif self._breaker._pending:
            self._breaker._deliver()

    def _resolve(self) -> Service:
        batch = self._breaker._batch
        handle = None if batch is None else batch.service(self._service)
        return _NO_BATCH if handle is None else handle

    def _raised(self, held: _Held, exc: BaseException) -> None:
        """Records the outcome of ``held``, which raised ``exc``: a failure with its text."""
        code = self._code(exc)
        self._end(held, code, failure_text(exc) if code == _FAILURE else None)

    def outcome(self, exc: BaseException | None) -> str:
        """What a call that ended with ``exc`` (``None``: it returned) is recorded as."""
        return _OUTCOMES[self._code(exc)]

    def _code(self, exc: BaseException | None) -> int:
        if exc is None:
            return _SUCCESS
        if isinstance(exc, asyncio.CancelledError):
            return _IGNORED if self._cancel_ignored else _FAILURE
        if isinstance(exc, self._ignored_types):
            return _IGNORED
        if self._exclude is not None and self._exclude(exc):
            return _IGNORED
        return _FAILURE

    # -- with ------------------------------------------------------------------------------------

    def __enter__(self) -> Guard:
        # The common case of _begin written out (a grant in hand, room in the log), as the
        # decorated call does: every `with` pays for it.
        s = self._handle
        held: _Held | None = None
        if s.outcomes > 0:
            log = self._log
            self._acquire()
            try:
                if s.outcomes > 0 and len(log) < _FLUSH_WORDS:
                    batch = self._batch
                    now = self._ticks()
                    batch.last_permit = s.last = permit = batch.last_permit + 1
                    log.extend((_ACQUIRE, s.slot, permit, now, now))
                    held = (permit, now, s)
            finally:
                self._release()
        if held is None:
            held = self._begin()
        try:
            self._local.stack.append(held)
        except AttributeError:
            self._local.stack = [held]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held = self._local.stack.pop()
        permit, started, s = held
        if exc is None and s.outcomes > 0:
            # A success whose acquire is still the log's last entry, within the grant: recorded
            # in that entry (the common case of _end, written out). Permits are unique, so the
            # entry with this permit at [-3] is its acquire.
            log = self._log
            self._acquire()
            try:
                done = s.outcomes > 0 and log and log[-3] == permit
                if done:
                    now = self._ticks()
                    if now >= started:
                        s.outcomes -= 1
                        if permit == s.last:
                            s.failures = s.rearm
                        log[-5] = _CALL + _SUCCESS
                        log[-2] = started
                        log[-1] = now
                    else:
                        done = False
            finally:
                self._release()
            if done:
                if self._breaker._pending:
                    self._breaker._deliver()
                return
        if exc is None:
            self._end(held, _SUCCESS)
        else:
            self._raised(held, exc)

    # -- async with ------------------------------------------------------------------------------

    async def __aenter__(self) -> Guard:
        held = self._begin()
        limit = asyncio.timeout(self._timeout)
        await limit.__aenter__()
        self._tasks.setdefault(asyncio.current_task(), []).append((held, limit))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = asyncio.current_task()
        held, limit = self._tasks[task].pop()
        if not self._tasks[task]:
            del self._tasks[task]
        try:
            await limit.__aexit__(kind, exc, tb)  # turns its own cancellation into TimeoutError
        except BaseException as raised:
            self._raised(held, raised)  # the timeout's TimeoutError
            raise
        if exc is None:
            self._end(held, _SUCCESS)
        else:
            self._raised(held, exc)

    # -- decorator -------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            run = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    await self.__aenter__()
                except BreakerOpen as e:
                    if self._fallback is None:
                        raise
                    result = self._fallback(e)
                    return await result if inspect.isawaitable(result) else result
                try:
                    value = await run(*args, **kwargs)
                except BaseException as e:
                    await self.__aexit__(type(e), e, e.__traceback__)
                    raise
                await self.__aexit__(None, None, None)
                return value

            return cast(F, async_wrapper)

        return cast(F, self._breaker._decorate(self, fn))
