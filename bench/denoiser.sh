#!/usr/bin/env bash
# Per-step time of the learned engine's denoiser through the Go pipeline
# (BenchmarkDenoiserStep: one guided step, batch 2, through the engine's
# adapter) beside the same ONNX file on the same inputs run by
# onnxruntime-node 1.30.0 (bench/denoiser.mjs), over the same ONNX Runtime
# library, with the same thread counts and graph optimisation level.
# Rounds are interleaved (Go, node, Go, node, …); the table shows medians:
#   go_ns/step  node_ns/step  go/node  overhead (go/node − 1; goal ≤ 2%)
# and each round's go/node (the spread shows how noisy the machine is),
# and each round's in-process split of the same Go steps: the share of a
# step spent outside ONNX Runtime's Run (copies into and out of the bound
# buffers, conversions), which the machine's noise does not move.
# Run from anywhere, after make setup:
#   bench/denoiser.sh
# STEPS timed steps per side and round (default 30), ROUNDS (default 3),
# PAIMENG_BENCH_THREADS intra-op = inter-op threads of both sides (default 1).
# onnxruntime-node comes from scripts/ort-node.sh (npm pack, no install
# scripts, checked by sha256, kept in .cache/ort-node).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "bench/denoiser.sh: node is required (Node.js ≥ 18) and was not found on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "bench/denoiser.sh: npm is required (it fetches onnxruntime-node) and was not found on PATH" >&2; exit 1; }

PAIMENG_ORT_LIBRARY=$(realpath "${PAIMENG_ORT_LIBRARY:-.cache/ort/libonnxruntime.so.1}")
export PAIMENG_ORT_LIBRARY
[ -f "$PAIMENG_ORT_LIBRARY" ] || { echo "bench/denoiser.sh: $PAIMENG_ORT_LIBRARY missing: run make setup" >&2; exit 1; }

scripts/ort-node.sh
ORT_SHA256=$(sed -n 's/^ORT_SHA256=//p' scripts/setup.sh)
ORT_NODE_DIR=$(realpath -m "${PAIMENG_ORT_NODE_DIR:-.cache/ort-node}")
export PAIMENG_ORT_NODE_DIR=$ORT_NODE_DIR
node_lib=$ORT_NODE_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1

tmp=$(mktemp -d /tmp/paimeng-denoiser-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Both sides must run the same library.
if ! echo "$ORT_SHA256  $node_lib" | sha256sum -c --status -; then
	echo "bench/denoiser.sh: $node_lib is not the libonnxruntime.so.1 of scripts/setup.sh" >&2
	exit 1
fi
if ! echo "$ORT_SHA256  $PAIMENG_ORT_LIBRARY" | sha256sum -c --status -; then
	echo "WARNING: $PAIMENG_ORT_LIBRARY is not the library onnxruntime-node runs; the comparison is not like for like" >&2
fi

steps=${STEPS:-30}
rounds=${ROUNDS:-3}
go test -c -o "$tmp/bench.test" ./bench/
fix=$tmp/fixture
mkdir -p "$fix"
results=$tmp/results
: >"$results"
for r in $(seq "$rounds"); do
	out=$(cd bench && PAIMENG_DENOISER_DIR=$fix "$tmp/bench.test" -test.run '^$' \
		-test.bench '^BenchmarkDenoiserStep$' -test.benchtime "${steps}x" -test.benchmem)
	g=$(awk '$1 ~ /^BenchmarkDenoiserStep(-[0-9]+)?$/ {print $3}' <<<"$out")
	o=$(awk '$1 ~ /^BenchmarkDenoiserStep(-[0-9]+)?$/ {for (i = 4; i <= NF; i++) if ($i == "go-overhead-%") print $(i - 1)}' <<<"$out")
	[ -n "$g" ] && [ -n "$o" ] || { echo "$out" >&2; echo "bench/denoiser.sh: no Go result" >&2; exit 1; }
	n=$(node bench/denoiser.mjs --dir "$fix" --steps "$steps" | awk '$1 == "ns/step" {print $2}')
	[ -n "$n" ] || { echo "bench/denoiser.sh: no node result" >&2; exit 1; }
	echo "round $r: go $g ns/step (outside ONNX Runtime's Run: $o%), node $n ns/step" >&2
	echo "$g $n $o" >>"$results"
done
threads=$(sed -n 's/.*"threads": \([0-9]*\).*/\1/p' "$fix/denoiser.json")
echo
echo "denoiser step, batch 2, tiny model ($(sed -n 's/.*"about": "\(.*\)".*/\1/p' "$fix/denoiser.json")): $steps steps × $rounds rounds, $threads intra-op/inter-op threads, graph optimisation all"
sort -n -k1,1 "$results" | awk '{g[NR] = $1} END {print g[int((NR + 1) / 2)]}' >"$tmp/g"
sort -n -k2,2 "$results" | awk '{n[NR] = $2} END {print n[int((NR + 1) / 2)]}' >"$tmp/n"
awk -v g="$(cat "$tmp/g")" -v n="$(cat "$tmp/n")" 'BEGIN {
	printf "%-14s %14s %8s %10s\n", "go_ns/step", "node_ns/step", "go/node", "overhead"
	printf "%-14d %14d %8.4f %9.2f%%\n", g, n, g / n, (g / n - 1) * 100
}'
awk '{printf "%s%.4f", (NR > 1 ? " " : "per-round go/node: "), $1 / $2} END {print ""}' "$results"
awk '{printf "%s%.3f%%", (NR > 1 ? " " : "per-round Go time outside ONNX Runtime'"'"'s Run, in process (same steps): "), $3} END {print ""}' "$results"
