#!/usr/bin/env bash
# Tests the Python and Node packages as a user gets them: the wheel and the tarball that
# .ci/setup leaves in target/dist are installed into a fresh venv and a fresh folder, and the
# suites, the examples, and ES module / CommonJS / TypeScript (tsc --strict) uses run against
# the installed packages, never the source folders. Needs .ci/setup first.
set -euo pipefail
EMBED="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$EMBED/../.." && pwd)"
DIST="$ROOT/target/dist"
export BREAKER_WASM="${BREAKER_WASM:-$ROOT/target/breaker.wasm}"
export EMBED_DIR="$EMBED"
# The TypeScript check's tools, pinned.
TYPESCRIPT=typescript@5.9.3
NODE_TYPES=@types/node@20.19.9

wheels=("$DIST"/breaker_wasm-*.whl)
tarballs=("$DIST"/breaker-wasm-*.tgz)
for f in "$BREAKER_WASM" "${wheels[0]}" "${tarballs[0]}"; do
  [[ -f "$f" ]] || { echo "embed/test.sh: $f is missing; build it first with .ci/setup" >&2; exit 1; }
done
command -v node >/dev/null || { echo "embed/test.sh: node (>= 18) is not installed" >&2; exit 1; }

echo "== Python: a fresh venv with the wheel (and its test extra)"
VENV="$ROOT/target/embed-venv"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${wheels[0]}[test]"
# From a folder outside the source tree, so only the installed package can be imported.
(cd "$ROOT/target" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$EMBED/python/tests")

echo "== Node: a fresh folder with the tarball"
NODE_DIR="$ROOT/target/embed-node"
rm -rf "$NODE_DIR"
mkdir -p "$NODE_DIR"
cp -r "$EMBED/node/test" "$EMBED/node/usage" "$NODE_DIR/"
printf '{ "private": true, "type": "module" }\n' >"$NODE_DIR/package.json"
(cd "$NODE_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error \
  "${tarballs[0]}" "$TYPESCRIPT" "$NODE_TYPES")
(cd "$NODE_DIR" && node --test test/*.test.mjs)
echo "== Node: ES module, CommonJS and TypeScript (tsc --strict) use"
(cd "$NODE_DIR" && node usage/usage.mjs && node usage/usage.cjs)
(cd "$NODE_DIR/usage" && ../node_modules/.bin/tsc -p tsconfig.json && echo "tsc --strict: ok")

# Each example must show the breaker opening, probing in half_open, and closing again.
check_example() {
  local name="$1" out
  shift
  echo "== example: $name"
  out="$("$@")" || { echo "$out"; echo "example $name failed" >&2; return 1; }
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
cp "$EMBED/node/example.mjs" "$NODE_DIR/example.mjs"
check_example node node "$NODE_DIR/example.mjs"
echo "embed/test.sh: all passed"
