#!/usr/bin/env bash
# Renders each benchmarked camera move (a 5 s 720p push-in, a 10 s 1080p
# pull-back) with the camera engine, with ffmpeg zoompan and with zoompan on
# a 4× upscaled still: same generated still, same move, same libx264 preset,
# CRF and rate cap. Prints per clip:
#   s/clip          render + encode time
#   zoompan/camera  time ratio; > 1 means the camera engine is faster
#   jitter_px       RMS frame-to-frame second difference of tracked markers
#                   off their ideal path (px/frame²), in the clip as encoded
#   raw_jitter_px   the same for an untimed near-lossless (CRF 1) encode:
#                   the renderer's own smoothness, without the codec's noise
#   path_err_px     RMS distance of the markers from their ideal path (px)
# Run from anywhere:
#   PAIMENG_ORT_LIBRARY=.cache/ort/libonnxruntime.so.1 bench/motion.sh
# BENCHTIME sets -benchtime (default 3x). PAIMENG_BENCH_STRICT=1 fails the
# run when the camera engine's clip is not the size, length or move asked
# for (otherwise a WARNING line is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PAIMENG_ORT_LIBRARY:?set PAIMENG_ORT_LIBRARY to libonnxruntime.so}"
# go test runs in bench/: make a relative path absolute first.
PAIMENG_ORT_LIBRARY=$(realpath "$PAIMENG_ORT_LIBRARY")
export PAIMENG_ORT_LIBRARY
out=$(go test -run '^$' -bench '^BenchmarkMotion$' -benchtime "${BENCHTIME:-3x}" -timeout 2h ./bench/ | tee /dev/stderr)
echo
awk '
$1 ~ /^BenchmarkMotion\// {
	split($1, p, "/"); c = p[2]; s = p[3]; sub(/-[0-9]+$/, "", s)
	if (!(c in seen)) { seen[c] = 1; order[++nc] = c }
	ns[c, s] = $3
	for (i = 5; i < NF; i += 2) m[c, s, $(i + 1)] = $i
}
/WARNING:/ { sub(/^[ \t]*/, ""); if (!($0 in wseen)) { wseen[$0] = 1; warn[++nw] = $0 } }
function metric(c, s, u) { return ((c, s, u) in m) ? sprintf("%.3f", m[c, s, u]) : "n/a" }
END {
	if (nc == 0) { print "missing benchmark results" > "/dev/stderr"; exit 1 }
	printf "%-16s %-11s %8s %15s %10s %14s %12s %8s\n", "move", "renderer", "s/clip", "zoompan/camera", "jitter_px", "raw_jitter_px", "path_err_px", "MB/clip"
	n = split("camera zoompan zoompan-4x", sides, " ")
	for (i = 1; i <= nc; i++) for (j = 1; j <= n; j++) {
		c = order[i]; s = sides[j]
		if (!((c, s) in ns)) continue
		r = "-"
		if (s != "camera" && ((c, "camera") in ns)) r = sprintf("%.2fx", ns[c, s] / ns[c, "camera"])
		printf "%-16s %-11s %8.3f %15s %10s %14s %12s %8s\n", c, s, ns[c, s] / 1e9, r,
			metric(c, s, "jitter_px"), metric(c, s, "raw_jitter_px"), metric(c, s, "path_err_px"), metric(c, s, "MB/clip")
	}
	for (i = 1; i <= nw; i++) print warn[i]
}' <<<"$out"
