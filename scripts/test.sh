#!/usr/bin/env bash
# make test: installs what is missing, starts throwaway Redis and PostgreSQL
# on free ports, runs the checks and every test, and stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
scripts/ort-node.sh # onnxruntime-node, which tests compare the Go pipeline with
scripts/tokenizers.sh # real tokenizer files with published encodings
scripts/nvrtc.sh # NVIDIA's runtime compiler: the CUDA kernels compile for real GPUs here too

export CGO_ENABLED=1
export PAIMENG_ORT_LIBRARY=${PAIMENG_ORT_LIBRARY:-$PWD/.cache/ort/libonnxruntime.so.1}
export PAIMENG_ORT_NODE_DIR=${PAIMENG_ORT_NODE_DIR:-$PWD/.cache/ort-node}
export PAIMENG_TOKENIZERS_DIR=${PAIMENG_TOKENIZERS_DIR:-$PWD/.cache/tokenizers}
export PAIMENG_NVRTC_LIBRARY=${PAIMENG_NVRTC_LIBRARY:-$PWD/.cache/nvrtc/libnvrtc.so.11.2}

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

svc=$(mktemp -d /tmp/paimeng-test-XXXXXX)
chmod 0755 "$svc" # the postgres user must reach its data folder
trap 'scripts/services.sh stop "$svc"' EXIT
envs=$(scripts/services.sh start "$svc")
eval "$envs"

go test -race -count=1 -timeout 20m "${@:-./...}"
