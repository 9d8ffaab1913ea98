#!/usr/bin/env bash
# Installs what the host's tests need beyond Rust: a venv at target/host-tests-venv with the
# pinned packages of requirements.txt (pip does nothing when they are already there).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="$ROOT/target/host-tests-venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
