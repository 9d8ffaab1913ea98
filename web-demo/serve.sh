#!/usr/bin/env bash
# Builds the page, then serves it on 127.0.0.1 (PORT, default 8080).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${PORT:-8080}"
"$here/build.sh"
cd "$here"
echo "serve.sh: open http://127.0.0.1:$port/  (Ctrl-C to stop)"
exec npx vite preview --host 127.0.0.1 --port "$port" --strictPort
