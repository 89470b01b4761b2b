#!/usr/bin/env bash
# Installs what bionas needs on a fresh machine: npm packages, and on a machine without a GPU
# the Mesa packages through which Dawn's OpenGL backend runs on the CPU (llvmpipe).
# With --browser also Chromium, for the tests that run the browser bundle (test/browser.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=0
[ "${1:-}" = "--browser" ] && browser=1

if [ ! -d node_modules/webgpu ] || [ ! -d node_modules/vitest ]; then
  # npm ci installs exactly what package-lock.json says and never writes it. npm install is not
  # a fallback: it would rewrite the lock file and leave the clone modified.
  if [ ! -f package-lock.json ]; then
    echo "bionas setup: package-lock.json is missing; restore it (git checkout package-lock.json)" >&2
    exit 1
  fi
  log=$(mktemp "${TMPDIR:-/tmp}/bionas-npm-ci.XXXXXX")
  echo "bionas setup: installing npm packages from package-lock.json (npm ci)"
  if npm ci --no-audit --no-fund >"$log" 2>&1; then
    rm -f "$log"
  elif grep -q "in sync" "$log"; then
    {
      echo "bionas setup: npm ci refused: package-lock.json does not match package.json."
      grep -E "^npm error (Missing|Invalid):" "$log" | sed 's/^npm error /  /' | sort -u || true
      echo "  The repository's lock file is out of date; this is not a problem of this machine."
      echo "  A maintainer fixes it once:  npm install --package-lock-only   then commits package-lock.json."
      echo "  (setup does not run npm install itself: that would rewrite package-lock.json here.)"
      echo "  npm's full output: $log"
    } >&2
    exit 1
  else
    echo "bionas setup: npm ci failed; its last lines (all of it in $log):" >&2
    tail -n 15 "$log" | sed 's/^/  /' >&2
    exit 1
  fi
fi

MESA_PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri"
if [ "$browser" = 1 ] && [ -z "${BIONAS_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
  && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
  MESA_PKGS="$MESA_PKGS chromium"
fi
if [ "$(uname -s)" = "Linux" ]; then
  missing=""
  for p in $MESA_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ] && command -v dpkg-query >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "bionas setup: installing$missing (Mesa EGL/llvmpipe: the CPU WebGPU fallback; chromium: the browser tests)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      mesa=$(echo "$missing" | sed 's/ chromium//')
      [ -n "${mesa// /}" ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $mesa >/dev/null
      # Without Chromium only the browser tests fail (saying so); everything else still runs.
      if [ "$mesa" != "$missing" ] && ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/tmp/bionas-chromium-install.log 2>&1; then
        echo "bionas setup: could not install chromium (see /tmp/bionas-chromium-install.log); the browser tests will fail" >&2
      fi
    else
      echo "bionas setup: missing Debian/Ubuntu packages:$missing" >&2
      echo "  install them as root:  apt-get install$missing" >&2
      echo "  (Mesa's are the CPU WebGPU fallback, not needed with a Vulkan GPU driver; chromium runs the browser tests)" >&2
    fi
  elif ! command -v dpkg-query >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q libEGL.so.1; then
    echo "bionas setup: not a Debian system; if no GPU is present install Mesa's EGL and llvmpipe (libEGL, mesa dri drivers)." >&2
  fi
fi
