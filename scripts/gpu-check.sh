#!/usr/bin/env bash
# GPU check: on a machine with an NVIDIA GPU, runs the kernels' tests and
# benchmarks on the real device and prints
#   - each kernel's result against the CPU reference (max difference),
#   - each kernel's bandwidth beside a device-to-device copy in the same run,
#   - a 5 s 720p camera clip's render time on the GPU and on the CPU,
#   - a worker backlog run's GPU-busy fraction (needs ffmpeg).
#
#   scripts/gpu-check.sh            build (needs Go) and run here
#   scripts/gpu-check.sh --prepare  build the test binaries into .gpu/ only,
#                                   for a GPU machine without Go
#   scripts/gpu-check.sh --run      run the binaries in .gpu/
#
# The CUDA driver is libcuda.so.1 (PAIMENG_TEST_CUDA_DRIVER overrides);
# NVRTC is PAIMENG_NVRTC_LIBRARY, else the system's, else the one in a
# Python CUDA wheel, else .cache/nvrtc (scripts/nvrtc.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
BIN=.gpu

prepare() {
	command -v go >/dev/null || { echo "gpu-check: Go is needed to build the test binaries" >&2; exit 1; }
	mkdir -p "$BIN"
	export CGO_ENABLED=1
	go test -c -ldflags='-s -w' -o "$BIN/kernels.test" ./kernels
	go test -c -ldflags='-s -w' -o "$BIN/inference.test" ./inference
	du -sh "$BIN"/*.test >&2
}

find_nvrtc() {
	if [ -n "${PAIMENG_NVRTC_LIBRARY:-}" ]; then return; fi
	local c
	for c in $(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so/ {print $NF}') \
		/usr/local/cuda/lib64/libnvrtc.so* \
		$(python3 -c 'import site,glob;print(" ".join(p for d in site.getsitepackages() for p in glob.glob(d+"/nvidia/cu*/lib/libnvrtc.so*")+glob.glob(d+"/nvidia/cuda_nvrtc/lib/libnvrtc.so*")))' 2>/dev/null) \
		"$PWD/.cache/nvrtc/libnvrtc.so.11.2"; do
		case $c in *builtins*|*alt*) continue ;; esac
		if [ -e "$c" ]; then export PAIMENG_NVRTC_LIBRARY=$c; return; fi
	done
	echo "gpu-check: no NVRTC library found; set PAIMENG_NVRTC_LIBRARY or run scripts/nvrtc.sh" >&2
	exit 1
}

run() {
	export PAIMENG_TEST_CUDA_DRIVER=${PAIMENG_TEST_CUDA_DRIVER:-libcuda.so.1}
	find_nvrtc
	if [ -z "${PAIMENG_ORT_LIBRARY:-}" ] && [ -f .cache/ort/libonnxruntime.so.1 ]; then
		export PAIMENG_ORT_LIBRARY=$PWD/.cache/ort/libonnxruntime.so.1
	fi
	command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
	echo "driver: $PAIMENG_TEST_CUDA_DRIVER; NVRTC: $PAIMENG_NVRTC_LIBRARY"
	local tests='TestDetect$|TestGPUPyramidMatchesCPU|TestGPUCameraEngineMatchesCPU|TestGPUCameraFormats|TestGPUPreprocessMatchesCPU|TestGPUPostprocessMatchesCPU'
	if [ -n "${PAIMENG_ORT_LIBRARY:-}" ]; then
		tests="$tests|TestGPUCameraMatchesReference"
	else
		echo "(no ONNX Runtime library: the kernel is compared with the CPU renderer, not the ONNX reference graph)"
	fi
	echo "== kernels against the CPU (max difference in levels; 0 = bit-identical)"
	"$BIN/kernels.test" -test.run 'TestDetect$|TestCompileKernels' -test.v 2>&1 | grep -E '^(---|ok|FAIL|PASS)|cuda:|→|driver' || true
	"$BIN/inference.test" -test.run "$tests" -test.v 2>&1 | grep -E '^(---|ok|FAIL|PASS)|difference|frames' || true
	echo "== bandwidth (GB/s, bytes read + written per second of device time)"
	"$BIN/inference.test" -test.run '^$' -test.bench 'GPUKernels' -test.benchtime 20x 2>&1 | grep -E 'Benchmark|FAIL|ok'
	echo "== 5 s 720p push-in (120 frames): GPU render vs CPU engine"
	"$BIN/inference.test" -test.run '^$' -test.bench 'GPUClip720p|CPUClip720p' -test.benchtime 5x 2>&1 | grep -E 'Benchmark|FAIL|ok'
	echo "== worker backlog: K = 8 clips, 3 at once, 1 engine slot, engine T of GPU work"
	if command -v ffmpeg >/dev/null; then
		"$BIN/inference.test" -test.run '^$' -test.bench 'GPUBacklog' -test.benchtime 1x 2>&1 | grep -E 'Benchmark|FAIL|ok'
	else
		echo "no ffmpeg on this machine: the backlog run encodes with ffmpeg and cannot run here"
	fi
}

case $mode in
--prepare) prepare ;;
--run) run ;;
*)
	prepare
	run
	;;
esac
