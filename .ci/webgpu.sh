#!/usr/bin/env bash
# Software Vulkan for the webgpu gradient checks (test/unit/webgpu.test.ts): Mesa 25 lavapipe from Debian
# bookworm-backports. Debian bookworm's own Mesa 22.3.6 lavapipe is refused by Dawn (requestAdapter()
# returns null). When it cannot be installed, this prints why and exits 0: the webgpu tests then skip
# themselves with the reason. Idempotent; run after `npm ci` (the last check loads the `webgpu` package).
set -uo pipefail
cd "$(dirname "$0")/.."
NEED_MAJOR=25
skip() {
  echo "webgpu: lavapipe not installed: $*; test/unit/webgpu.test.ts will be skipped"
  exit 0
}
major() { local v="${1#*:}"; echo "${v%%.*}"; }

have=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [[ -z "$have" || $(major "$have") -lt $NEED_MAJOR ]] || ! dpkg -s libvulkan1 >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  . /etc/os-release 2>/dev/null || true
  [[ "${VERSION_CODENAME:-}" == bookworm ]] || skip "this is not Debian bookworm (${PRETTY_NAME:-unknown OS})"
  [[ $(id -u) -eq 0 ]] || skip "apt-get needs root"
  if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/bookworm-backports.list
  fi
  apt-get update -qq || skip "apt-get update failed"
  cand=$(apt-cache madison mesa-vulkan-drivers | awk -F'|' '/bookworm-backports/ {gsub(/ /, "", $2); print $2; exit}')
  [[ -n "$cand" ]] || skip "bookworm-backports has no mesa-vulkan-drivers"
  [[ $(major "$cand") -ge $NEED_MAJOR ]] || skip "bookworm-backports has mesa-vulkan-drivers $cand, older than $NEED_MAJOR"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null ||
    skip "apt-get install -t bookworm-backports mesa-vulkan-drivers $cand failed"
  have=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)
fi
echo "webgpu: mesa-vulkan-drivers $have"
# What Dawn sees (the `webgpu` package is an optional dependency; it is missing where npm skipped it).
node -e "
let create;
try { ({ create } = require('webgpu')); } catch (e) { console.log('webgpu: the webgpu npm package cannot be loaded: ' + e.message.split('\n')[0]); process.exit(0); }
create([]).requestAdapter().then((a) => {
  console.log(a ? 'webgpu: adapter ' + [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(', ') : 'webgpu: Dawn found no adapter');
  process.exit(0);
});
" 2>&1 | grep -v 'artificially reduced'
