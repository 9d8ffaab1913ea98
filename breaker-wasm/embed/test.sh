#!/usr/bin/env bash
# Tests the Python and Node embeddings and runs both examples. Idempotent.
# Needs target/breaker.wasm (built by .ci/setup, which this script does not run).
# The Python environment lives in target/embed-venv (created on the first run).
set -euo pipefail
EMBED="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$EMBED/../.." && pwd)"
export BREAKER_WASM="${BREAKER_WASM:-$ROOT/target/breaker.wasm}"
VENV="$ROOT/target/embed-venv"

if [[ ! -f "$BREAKER_WASM" ]]; then
  echo "embed/test.sh: $BREAKER_WASM is missing; build it first with .ci/setup" >&2
  exit 1
fi
command -v node >/dev/null || { echo "embed/test.sh: node (>= 18) is not installed" >&2; exit 1; }

# The venv, and the pinned packages (pip does nothing when they are already there).
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$EMBED/python/requirements.txt"

echo "== Python: pytest"
(cd "$EMBED/python" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests)

echo "== Node: node --test"
(cd "$EMBED/node" && node --test test/)

# Each example must show the breaker opening, probing in half_open, and closing again.
check_example() {
  local name="$1" out
  shift
  echo "== example: $name"
  out="$("$@" "$BREAKER_WASM")" || { echo "$out"; echo "example $name failed" >&2; return 1; }
  echo "$out"
  local want
  for want in "TRANSITION closed -> open" "TRANSITION open -> half_open" "TRANSITION half_open -> open" \
    "TRANSITION half_open -> closed" "failed fast, breaker open" "state: closed"; do
    if ! grep -qF -- "$want" <<<"$out"; then
      echo "example $name: its output lacks \"$want\"" >&2
      return 1
    fi
  done
  echo "example $name: ok (opened, failed fast, probed, closed)"
}
check_example python "$VENV/bin/python" "$EMBED/python/example.py"
check_example node node "$EMBED/node/example.mjs"
echo "embed/test.sh: all passed"
