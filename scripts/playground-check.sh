#!/usr/bin/env bash
# Checks the web playground in a real browser against a running `paimeng dev`:
#   scripts/playground-check.sh [URL] [IMAGE]
# Installs Debian's chromium (as root) and playwright-core (into .cache/pw)
# when missing. Screenshots land in .cache/playground.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-http://127.0.0.1:8080/}
img=${2:-}
if ! command -v chromium >/dev/null; then
	[ "$(id -u)" = 0 ] || { echo "install chromium (apt-get install chromium)" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d .cache/pw/node_modules/playwright-core ]; then
	mkdir -p .cache/pw
	(cd .cache/pw && npm init -y >/dev/null && npm install --silent playwright-core@1 >/dev/null)
fi
if [ -z "$img" ]; then
	img=.cache/playground-input.jpg
	ffmpeg -v error -y -f lavfi -i "mandelbrot=s=1600x1200" -frames:v 1 "$img"
fi
NODE_PATH=.cache/pw/node_modules node scripts/playground-check.js "$url" "$img"
