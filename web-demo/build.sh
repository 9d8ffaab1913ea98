#!/usr/bin/env bash
# Builds the page into web-demo/dist: the wasm-bindgen module of breaker-wasm (feature `web`),
# then the bundle. Idempotent; safe to run again and again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
WASM_BINDGEN_VERSION=0.2.130

# wasm-bindgen-cli must match the wasm-bindgen crate version exactly.
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  echo "build.sh: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

cd "$root"
# A target dir of its own, so the raw module (target/breaker.wasm, target/guest) is never touched.
cargo build -p breaker-wasm --features web --target wasm32-unknown-unknown --profile wasm --target-dir target/web
wasm-bindgen --target web --out-dir web-demo/pkg target/web/wasm32-unknown-unknown/wasm/breaker_wasm.wasm 2> >(grep -v 'target_features. custom section is missing' >&2)

cd "$here"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
npx vite build
echo "build.sh: built $here/dist"
