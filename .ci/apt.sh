#!/usr/bin/env bash
# Debian packages the tests need. Idempotent; quiet when everything is there.
set -euo pipefail
pkgs=(chromium ripgrep libkrb5-dev python3 make g++ zip)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
