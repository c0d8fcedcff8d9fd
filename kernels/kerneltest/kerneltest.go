// Package kerneltest runs the project's CUDA kernels in tests on machines
// without a GPU: it builds the CUDA driver emulator
// (kernels/testdata/cudaemu, the kernels compiled as C++ behind the driver
// API's C ABI) and opens it like a real device, with the kernels compiled
// by the real NVRTC (PAIMENG_NVRTC_LIBRARY, which make test sets). On a GPU
// machine, PAIMENG_TEST_CUDA_DRIVER=libcuda.so.1 runs the same tests on the
// GPU instead.
package kerneltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// Emulator returns the path of the emulator's libcuda.so.1, building it
// once per test process with g++. A missing g++ fails the test.
func Emulator(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		gxx, err := exec.LookPath("g++")
		if err != nil {
			libErr = "g++ is needed to build the CUDA emulator (apt-get install g++; scripts/setup.sh test does it)"
			return
		}
		out, err := os.MkdirTemp("", "paimeng-cudaemu-")
		if err != nil {
			libErr = err.Error()
			return
		}
		lib := filepath.Join(out, "libcuda.so.1")
		d := dir()
		cmd := exec.Command(gxx, "-std=c++17", "-O2", "-ffp-contract=off", "-msse2", "-mfpmath=sse",
			"-shared", "-fPIC", "-pthread", "-I", d, "-o", lib, filepath.Join(d, "testdata", "cudaemu", "cudaemu.cc"))
		if b, err := cmd.CombinedOutput(); err != nil {
			libErr = "building the CUDA emulator: " + err.Error() + "\n" + string(b)
			return
		}
		libPath = lib
	})
	if libErr != "" {
		t.Fatal(libErr)
	}
	return libPath
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
