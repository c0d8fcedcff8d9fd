#!/usr/bin/env bash
# Exports the tiny PyTorch-defined model packages with torch.onnx
# (scripts/torch-export/export_tiny.py) into DIR, by default
# inference/testdata: torch-tiny (Wan-style) and torch-tiny-svd (Stable Video
# Diffusion-style), which the tests load and compare against the outputs
# PyTorch computed. It uses Debian's python3-torch, python3-onnx and
# python3-sentencepiece, installed with apt when missing (as root or with
# sudo); any Python with torch, onnx and sentencepiece works through $PYTHON.
#
#   scripts/torch-export.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-inference/testdata}
PYTHON=${PYTHON:-/usr/bin/python3}

if ! "$PYTHON" -c 'import torch, onnx, sentencepiece' 2>/dev/null; then
	SUDO=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "torch-export: install python3-torch python3-onnx python3-sentencepiece (not root, no sudo)" >&2; exit 1; }
		SUDO=sudo
	fi
	echo "torch-export: installing python3-torch python3-onnx python3-sentencepiece" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >/dev/null || true
	$SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-onnx python3-sentencepiece >/dev/null
	PYTHON=/usr/bin/python3
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for family in wan svd; do
	name=torch-tiny
	[ "$family" = wan ] || name=torch-tiny-$family
	"$PYTHON" -W ignore scripts/torch-export/export_tiny.py --family "$family" "$tmp/$name"
	rm -rf "${out:?}/$name"
	mkdir -p "$out"
	cp -r "$tmp/$name" "$out/$name"
	echo "torch-export: wrote $out/$name ($(du -sh "$out/$name" | cut -f1))" >&2
done
