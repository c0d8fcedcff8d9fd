package kernels

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// On a machine without the CUDA driver, Detect says so and names the
// library; on a GPU machine it lists sane devices.
func TestDetect(t *testing.T) {
	ds, err := Detect()
	if err != nil {
		if !errors.Is(err, ErrNoGPU) {
			t.Fatalf("Detect: %v, want an ErrNoGPU error", err)
		}
		if !strings.HasPrefix(err.Error(), "no GPU: ") {
			t.Errorf("message %q does not start with \"no GPU: \"", err)
		}
		if !strings.Contains(err.Error(), "libcuda.so.1") {
			t.Errorf("message %q does not name libcuda.so.1", err)
		}
		if len(ds.GPUs) != 0 {
			t.Errorf("devices %v with an error", ds.GPUs)
		}
		t.Logf("no GPU here: %v", err)
		return
	}
	if len(ds.GPUs) == 0 {
		t.Fatal("Detect succeeded with no device")
	}
	for i, g := range ds.GPUs {
		if g.Index != i || g.Name == "" || g.Memory < 1<<28 || g.Major < 3 {
			t.Errorf("device %d: %+v", i, g)
		}
		t.Logf("%s", g)
	}
	t.Logf("driver %s (%s)", ds.DriverVersion(), ds.Library)
}

// A library that does not exist gives the same kind of answer, and so does
// a file that is not a CUDA driver.
func TestDetectMissingLibrary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libcuda-missing.so.1")
	_, err := DetectLibrary(missing)
	if !errors.Is(err, ErrNoGPU) {
		t.Fatalf("DetectLibrary(%s): %v, want an ErrNoGPU error", missing, err)
	}
	want := "no GPU: " + missing + " not found ("
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
	var ng *NoGPUError
	if !errors.As(err, &ng) || !strings.Contains(ng.Reason, missing) {
		t.Errorf("reason %+v", ng)
	}

	_, err = DetectLibrary("libpaimeng-no-such-driver.so.1")
	if !errors.Is(err, ErrNoGPU) || !strings.Contains(err.Error(), "libpaimeng-no-such-driver.so.1 not found") {
		t.Errorf("bare name: %v", err)
	}

	// libc loads but has no cuInit.
	_, err = DetectLibrary("libc.so.6")
	if !errors.Is(err, ErrNoGPU) || !strings.Contains(err.Error(), "cuInit missing") {
		t.Errorf("libc.so.6: %v", err)
	}
}

func TestDeviceText(t *testing.T) {
	d := Device{Index: 1, Name: "NVIDIA H100 80GB HBM3", Memory: 80 << 30, Major: 9, Minor: 0}
	if got, want := d.String(), "cuda:1 NVIDIA H100 80GB HBM3 (80.0 GiB, compute capability 9.0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Devices{Driver: 12040}).DriverVersion(); got != "12.4" {
		t.Errorf("DriverVersion() = %q", got)
	}
}
