import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: The raw module: $BREAKER_WASM, or the workspace's target/breaker.wasm.
WASM = Path(os.environ.get("BREAKER_WASM", HERE.parents[3] / "target" / "breaker.wasm"))
#: The shared transcript, run by the Rust, Python and Node tests alike.
TRANSCRIPT = HERE.parents[1] / "conformance.jsonl"


@pytest.fixture(scope="session")
def wasm_path() -> Path:
    if not WASM.is_file():
        pytest.fail(f"{WASM} is missing: build it with .ci/setup (or set BREAKER_WASM)")
    return WASM
