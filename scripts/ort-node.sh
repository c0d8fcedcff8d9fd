#!/usr/bin/env bash
# Fetches onnxruntime-node (JS entry and Linux x64 addon only) and
# onnxruntime-common into .cache/ort-node (PAIMENG_ORT_NODE_DIR) with npm
# pack: no install scripts run, both tarballs are checked by sha256. Tests
# and bench/denoiser.sh run the same ONNX file through it to compare with
# the Go pipeline. Does nothing when the folder is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "ort-node: node is required (Node.js ≥ 18) and was not found on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "ort-node: npm is required and was not found on PATH" >&2; exit 1; }

ORT_NODE_VERSION=1.30.0
# sha256 of the npm pack tarballs (onnxruntime-node is the tarball
# scripts/setup.sh takes libonnxruntime.so.1 from).
NODE_TGZ_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
COMMON_TGZ_SHA256=7906c439e0d3e0f4048caa23b64cdfadc0f455c377f579ce1ab2a4b778f07d5f
ORT_NODE_DIR=$(realpath -m "${PAIMENG_ORT_NODE_DIR:-.cache/ort-node}")
export PAIMENG_ORT_NODE_DIR=$ORT_NODE_DIR
stamp="$ORT_NODE_VERSION $NODE_TGZ_SHA256 $COMMON_TGZ_SHA256"
tmp=$(mktemp -d /tmp/paimeng-ort-node-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ "$(cat "$ORT_NODE_DIR/.fetched" 2>/dev/null)" != "$stamp" ]; then
	echo "ort-node: fetching onnxruntime-node $ORT_NODE_VERSION (npm pack, no install scripts)" >&2
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_NODE_VERSION" "onnxruntime-common@$ORT_NODE_VERSION" >/dev/null)
	for f in "onnxruntime-node-$ORT_NODE_VERSION.tgz $NODE_TGZ_SHA256" "onnxruntime-common-$ORT_NODE_VERSION.tgz $COMMON_TGZ_SHA256"; do
		set -- $f
		if ! echo "$2  $tmp/$1" | sha256sum -c --status -; then
			echo "ort-node: $1 checksum mismatch; refusing it" >&2
			exit 1
		fi
	done
	rm -rf "$ORT_NODE_DIR"
	mkdir -p "$ORT_NODE_DIR/node_modules/onnxruntime-node" "$ORT_NODE_DIR/node_modules/onnxruntime-common"
	echo '{"private": true}' >"$ORT_NODE_DIR/package.json"
	# Only what loading needs: the JS entry and the Linux x64 addon with its library.
	tar -xzf "$tmp/onnxruntime-node-$ORT_NODE_VERSION.tgz" -C "$ORT_NODE_DIR/node_modules/onnxruntime-node" \
		--strip-components=1 package/package.json package/dist package/bin/napi-v6/linux/x64
	tar -xzf "$tmp/onnxruntime-common-$ORT_NODE_VERSION.tgz" -C "$ORT_NODE_DIR/node_modules/onnxruntime-common" --strip-components=1
	echo "$stamp" >"$ORT_NODE_DIR/.fetched"
fi
