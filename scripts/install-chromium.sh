#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (the only browser the tests use; no
# browser is downloaded by a test tool). Needs root, as on the development machines and CI.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: run 'sudo apt-get install -y chromium' (or re-run as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
chromium --version
