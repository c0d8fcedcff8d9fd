// Package kerneltest runs the project's CUDA kernels in tests on machines
// without a GPU: it builds the CUDA driver emulator
// (kernels/testdata/cudaemu, the kernels compiled as C++ behind the driver
// API's C ABI) and opens it like a real device, with the kernels compiled
// by the real NVRTC (PAIMENG_NVRTC_LIBRARY, which make test sets). On a GPU
// machine, PAIMENG_TEST_CUDA_DRIVER=libcuda.so.1 runs the same tests on the
// GPU instead.
package kerneltest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/paimeng/paimeng/kernels"
)

var (
	once    sync.Once
	libPath string
	libErr  string
)

// dir is the kernels package's folder.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// Emulator returns the path of the emulator's libcuda.so.1, built with g++
// into the temporary folder under a hash of its sources, so test processes
// share one build. A missing g++ fails the test: the emulator is how the
// kernels are tested without a GPU, so it is never skipped.
func Emulator(t testing.TB) string {
	t.Helper()
	once.Do(func() { libPath, libErr = build() })
	if libErr != "" {
		t.Fatal(libErr)
	}
	return libPath
}

func build() (string, string) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		return "", "g++ is needed to build the CUDA emulator (apt-get install g++; scripts/setup.sh test does it)"
	}
	d := dir()
	src := filepath.Join(d, "testdata", "cudaemu", "cudaemu.cc")
	h := sha256.New()
	for _, f := range []string{src, filepath.Join(d, "paimeng.cu"), filepath.Join(d, "paimeng_cpu.h")} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "CUDA emulator sources: " + err.Error()
		}
		h.Write(b)
	}
	out := filepath.Join(os.TempDir(), "paimeng-cudaemu-"+hex.EncodeToString(h.Sum(nil))[:16])
	lib := filepath.Join(out, "libcuda.so.1")
	if _, err := os.Stat(lib); err == nil {
		return lib, ""
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err.Error()
	}
	// Exact IEEE single precision, as the GPU build's --fmad=false: no
	// contraction into fused multiply-adds, no x87 excess precision.
	args := []string{"-std=c++17", "-O2", "-ffp-contract=off"}
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "386" {
		args = append(args, "-msse2", "-mfpmath=sse")
	}
	tmp := filepath.Join(out, fmt.Sprintf(".libcuda-%d.so", os.Getpid()))
	args = append(args, "-shared", "-fPIC", "-pthread", "-I", d, "-o", tmp, src)
	if b, err := exec.Command(gxx, args...).CombinedOutput(); err != nil {
		return "", "building the CUDA emulator: g++ " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(b)
	}
	if err := os.Rename(tmp, lib); err != nil {
		return "", err.Error()
	}
	return lib, ""
}

// NVRTC returns PAIMENG_NVRTC_LIBRARY, failing the test when it is unset.
func NVRTC(t testing.TB) string {
	t.Helper()
	lib := os.Getenv("PAIMENG_NVRTC_LIBRARY")
	if lib == "" {
		t.Fatal("PAIMENG_NVRTC_LIBRARY is not set: run the tests with make test, or scripts/nvrtc.sh and PAIMENG_NVRTC_LIBRARY=$PWD/.cache/nvrtc/libnvrtc.so.11.2")
	}
	return lib
}

// Driver is the CUDA driver tests run on: PAIMENG_TEST_CUDA_DRIVER when
// set (a real GPU), else the emulator.
func Driver(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PAIMENG_TEST_CUDA_DRIVER"); d != "" {
		return d
	}
	return Emulator(t)
}

var (
	gpuOnce sync.Once
	gpu     *kernels.GPU
	gpuErr  error
)

// Open returns the test process's GPU (emulated unless
// PAIMENG_TEST_CUDA_DRIVER says otherwise), opened once and shared.
func Open(t testing.TB) *kernels.GPU {
	t.Helper()
	drv, nv := Driver(t), NVRTC(t)
	gpuOnce.Do(func() {
		gpu, gpuErr = kernels.Open(kernels.Options{Driver: drv, NVRTC: nv, CacheDir: filepath.Join(os.TempDir(), "paimeng-kernel-cache")})
	})
	if gpuErr != nil {
		t.Fatal(gpuErr)
	}
	return gpu
}
