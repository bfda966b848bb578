#!/usr/bin/env bash
# Installs what the browser tests (go test ./cmd/chateau -run Browser) need:
# Debian's chromium at /usr/bin/chromium, and a colour emoji font so that the
# screenshots show emoji. Without chromium those tests skip, except under CI
# (CI set), where they fail: so CI must run this first.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y chromium fonts-noto-color-emoji
