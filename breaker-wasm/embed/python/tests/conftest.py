"""Shared fixtures. The package under test is the installed one (``pip install`` of the wheel
that ``.ci/setup`` builds); these tests never import from the source folder."""

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EMBED = HERE.parents[1]
#: The raw module: $BREAKER_WASM, or the workspace's target/breaker.wasm.
WASM = Path(os.environ.get("BREAKER_WASM", HERE.parents[3] / "target" / "breaker.wasm"))
#: The shared transcript, run by the Rust, Python and Node tests alike.
TRANSCRIPT = EMBED / "conformance.jsonl"
#: The wrapper behaviour both packages are tested against (ABI.md, "What a guard records").
GUARD_CASES = EMBED / "guard-cases.json"


@pytest.fixture(scope="session")
def wasm_path() -> Path:
    if not WASM.is_file():
        pytest.fail(f"{WASM} is missing: build it with .ci/setup (or set BREAKER_WASM)")
    return WASM


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now
