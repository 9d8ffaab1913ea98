#!/usr/bin/env bash
# Builds the page and runs the browser tests in headless Chromium (playwright-core drives the
# system chromium; nothing is downloaded). Screenshots go to target/screenshots/.
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

"$here/build.sh"
mkdir -p "$here/../target/screenshots"
cd "$here"
node --test --test-reporter=spec tests/
