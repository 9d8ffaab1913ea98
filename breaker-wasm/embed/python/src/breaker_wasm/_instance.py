"""One instance of the module on wasmtime: loading, raw calls, memory, traps (ABI.md)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import cast

import wasmtime

from .errors import AbiVersionError, BreakerError, BreakerLoadError, BreakerTrapped

#: The ABI version this package speaks (``breaker_abi_version()``).
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

#: The batch path (ABI.md, "Grants and batched reports"); used when all are there.
BATCH_EXPORTS = (
    "breaker_slot",
    "breaker_grant",
    "breaker_sync_ticks",
    "breaker_failure_texts",
    "breaker_last_permit",
    "breaker_event_seq",
    "breaker_events_after",
)

Source = str | os.PathLike[str] | bytes | bytearray | None


def _read_module(module: Source) -> tuple[bytes, str]:
    """The module's bytes and a name for messages; the packaged module when ``None``."""
    if module is None:
        packaged = resources.files(__package__ or "breaker_wasm").joinpath("breaker.wasm")
        try:
            return packaged.read_bytes(), "the packaged breaker.wasm"
        except OSError as e:
            raise BreakerLoadError(f"the packaged breaker.wasm is missing: {e}") from None
    if isinstance(module, bytes | bytearray):
        return bytes(module), "<bytes>"
    where = os.fspath(module)
    try:
        return Path(where).read_bytes(), repr(where)
    except OSError as e:
        raise BreakerLoadError(
            f"cannot read the breaker module {where!r}: {e.strerror or e}"
        ) from None


class Instance:
    """The module instantiated with no imports; every call into it goes through here."""

    def __init__(self, module: Source) -> None:
        wasm, self.where = _read_module(module)
        self.store = wasmtime.Store(wasmtime.Engine())
        try:
            compiled = wasmtime.Module(self.store.engine, wasm)
        except wasmtime.WasmtimeError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid module"
            raise BreakerLoadError(
                f"{self.where} is not a valid WebAssembly module: {first}"
            ) from None
        if compiled.imports:
            names = ", ".join(f"{i.module}.{i.name}" for i in compiled.imports)
            raise BreakerLoadError(f"{self.where} imports {names}; the breaker module has none")
        try:
            instance = wasmtime.Instance(self.store, compiled, [])
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise BreakerLoadError(f"cannot instantiate {self.where}: {e}") from None
        exports = instance.exports(self.store)
        missing = [name for name in _EXPORTS if name not in exports]
        if missing:
            raise BreakerLoadError(
                f"{self.where} is not a breaker module: missing export(s) {', '.join(missing)}"
            )
        self.memory = cast(wasmtime.Memory, exports["memory"])
        self.funcs = {
            name: cast(wasmtime.Func, exports[name])
            for name in (*_EXPORTS[1:], "breaker_set_options", *BATCH_EXPORTS)
            if name in exports
        }
        self.trapped: str | None = None
        version = self.call("breaker_abi_version")
        if version != ABI_VERSION:
            raise AbiVersionError(
                f"{self.where} speaks breaker ABI version {version}; "
                f"this package needs version {ABI_VERSION}",
                version,
            )

    def has(self, *names: str) -> bool:
        return all(name in self.funcs for name in names)

    def set_options(self, flags: int) -> None:
        if not flags:
            return
        if not self.has("breaker_set_options"):
            raise BreakerLoadError(f"{self.where} has no breaker_set_options export")
        if self.call("breaker_set_options", flags) != 0:
            raise BreakerError("breaker_set_options refused the options")

    def call(self, name: str, *args: int | float) -> int:
        """Calls an export; a trap poisons the instance (:class:`BreakerTrapped`)."""
        if self.trapped is not None:
            raise BreakerTrapped(
                f"the breaker instance is unusable: it trapped earlier ({self.trapped})"
            )
        try:
            return cast(int, self.funcs[name](self.store, *args))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            self.trapped = _trap_reason(e)
            raise BreakerTrapped(f"the breaker module trapped: {self.trapped}") from None

    def alloc(self, length: int) -> int:
        ptr = self.call("breaker_alloc", length)
        if ptr == 0:
            raise BreakerError(f"breaker_alloc could not provide {length} bytes")
        return ptr

    def write(self, data: bytes, ptr: int) -> None:
        self.memory.write(self.store, data, ptr)

    def read(self, packed: int) -> bytes:
        """The bytes at ``(ptr << 32) | len``, copied out of guest memory."""
        packed &= 0xFFFF_FFFF_FFFF_FFFF
        ptr, length = packed >> 32, packed & 0xFFFF_FFFF
        if length == 0:
            return b""
        return bytes(self.memory.read(self.store, ptr, ptr + length))

    def handle(self, raw: bytes, now: int) -> tuple[bytes, str]:
        """``breaker_handle`` of ``raw`` at ``now``: the reply bytes and the diagnostics text."""
        ptr = 0
        if raw:
            ptr = self.alloc(len(raw))
            self.write(raw, ptr)
        try:
            out = self.read(self.call("breaker_handle", ptr, len(raw), now))
        finally:
            if ptr and self.trapped is None:
                self.call("breaker_free", ptr, len(raw))
        diagnostics = self.read(self.call("breaker_diagnostics")).decode("utf-8", "replace")
        return out, diagnostics


def _trap_reason(e: Exception) -> str:
    """The cause line of a wasmtime trap ("wasm trap: wasm `unreachable` instruction executed")."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("wasm trap:")]
    return causes[-1] if causes else (lines[-1] if lines else type(e).__name__)
