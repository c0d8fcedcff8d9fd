#!/usr/bin/env bash
# Renders a 5 s 720p push-in with the camera engine and with ffmpeg zoompan
# (same still, same x264 preset and rate control) and prints the times and
# ratios. Run from anywhere:
#   PAIMENG_ORT_LIBRARY=.cache/ort/libonnxruntime.so.1 bench/motion.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PAIMENG_ORT_LIBRARY:?set PAIMENG_ORT_LIBRARY to libonnxruntime.so}"
export PAIMENG_ORT_LIBRARY
out=$(go test -run '^$' -bench 'Camera|FFmpeg' -benchtime "${BENCHTIME:-3x}" ./bench/ | tee /dev/stderr)
ns() { awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" {print $3}' <<<"$out"; }
awk -v o="$(ns BenchmarkCameraClip720p)" -v z="$(ns BenchmarkFFmpegZoompan720p)" -v s="$(ns BenchmarkFFmpegZoompanSmooth720p)" 'BEGIN {
	printf "camera engine:            %.3f s/clip\n", o/1e9
	printf "ffmpeg zoompan:           %.3f s/clip  (zoompan / camera = %.2fx)\n", z/1e9, z/o
	printf "ffmpeg zoompan, 4x first: %.3f s/clip  (zoompan / camera = %.2fx)\n", s/1e9, s/o
}'
