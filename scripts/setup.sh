#!/usr/bin/env bash
# Installs what paimeng needs and is missing, then prints nothing on success.
#
#   scripts/setup.sh run    ffmpeg and the ONNX Runtime library
#   scripts/setup.sh test   also Redis and PostgreSQL (for throwaway test instances)
#
# System packages come from apt when running as root (or with sudo); the
# ONNX Runtime library comes from the npm registry (npm pack, checked by sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_DIR=${PAIMENG_ORT_DIR:-.cache/ort}
ORT_LIB=$ORT_DIR/libonnxruntime.so.1

mode=${1:-run}
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }

command -v go >/dev/null || { echo "setup: Go is required (https://go.dev/dl/)" >&2; exit 1; }
need ffmpeg ffmpeg
need ffprobe ffmpeg
need npm npm
need gcc gcc
need g++ g++
if [ "$mode" = test ]; then
	need redis-server redis-server
	need redis-cli redis-tools
	need spm_encode sentencepiece # SentencePiece's reference encoder, for the tokenizer's live comparison
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
		missing+=(postgresql)
	fi
	need runuser util-linux
fi

if [ ${#missing[@]} -gt 0 ]; then
	pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
	SUDO=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then SUDO=sudo; else
			echo "setup: missing $pkgs; install them with apt-get (not root, no sudo)" >&2
			exit 1
		fi
	fi
	echo "setup: installing $pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >/dev/null || true
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	if [ "$mode" = test ] && command -v service >/dev/null; then
		# Debian starts the packaged servers; tests use their own instances.
		true
	fi
fi

sha_ok() { [ -f "$1" ] && echo "$ORT_SHA256  $1" | sha256sum -c --status -; }

if ! sha_ok "$ORT_LIB"; then
	echo "setup: fetching ONNX Runtime $ORT_VERSION (npm pack onnxruntime-node@$ORT_VERSION)" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
	tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mkdir -p "$ORT_DIR"
	cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.tmp"
	if ! echo "$ORT_SHA256  $ORT_LIB.tmp" | sha256sum -c --status -; then
		rm -f "$ORT_LIB.tmp"
		echo "setup: libonnxruntime.so.1 checksum mismatch; refusing it" >&2
		exit 1
	fi
	mv "$ORT_LIB.tmp" "$ORT_LIB"
fi

# On a machine with the CUDA driver but no NVRTC of its own, fetch one so
# the worker can compile its CUDA kernels (the camera engine otherwise runs
# on the CPU, and says why).
if [ "$mode" = run ] && ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so' && ! ls /usr/local/cuda/lib64/libnvrtc.so* >/dev/null 2>&1; then
	scripts/nvrtc.sh || echo "setup: could not fetch NVRTC; the camera engine will run on the CPU" >&2
fi
