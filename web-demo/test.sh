#!/usr/bin/env bash
# Runs the unit tests of the page's pure modules (simulation, store, history, Connect mode's
# parsing) under plain `node --test`, then builds the page and runs the browser tests in headless
# Chromium (playwright-core drives the system chromium; nothing is downloaded). Screenshots go to
# target/screenshots/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "test.sh: installing chromium"
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: $CHROMIUM_PATH is missing and installing it needs root (apt-get install -y chromium)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

cd "$here"
echo "test.sh: unit tests (no browser)"
node --test --test-reporter=spec tests/unit/

"$here/build.sh"
mkdir -p "$here/../target/screenshots"
echo "test.sh: browser tests"
node --test --test-reporter=spec tests/*.test.mjs
