#!/usr/bin/env bash
# Installs what the browser tests (go test ./cmd/chateau -run Browser) need:
# Debian's chromium at /usr/bin/chromium, and a colour emoji font so that the
# screenshots show emoji (without it they are empty boxes). Without chromium
# those tests skip, except under CI (CI set), where they fail: so CI must run
# this first. It installs only what is missing, each part on its own, and
# says nothing when all is there.
set -euo pipefail

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
if [ ! -x /usr/bin/chromium ]; then
	missing+=(chromium)
fi
if ! installed fonts-noto-color-emoji; then
	missing+=(fonts-noto-color-emoji)
fi
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y "${missing[@]}"
