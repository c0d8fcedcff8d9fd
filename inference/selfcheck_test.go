package inference

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/paimeng/paimeng/kernels"
)

// TestSelfCheckCPU: on the CPU provider the check runs one inference and
// its output matches the model evaluated in Go.
func TestSelfCheckCPU(t *testing.T) {
	needORT(t)
	for _, ps := range [][]Provider{nil, {{Name: ProviderCPU}}} {
		rep, err := SelfCheck(context.Background(), ps, SelfCheckOptions{})
		if err != nil {
			t.Fatalf("%v: %v (report %+v)", ps, err, rep)
		}
		t.Logf("%v", rep.Attrs())
		if rep.Provider != "cpu" || rep.Device != "cpu" || rep.CPUs != runtime.NumCPU() || rep.Memory != 0 ||
			strings.Join(rep.Providers, ",") != "cpu" || rep.Requested != "cpu" || len(rep.Fallbacks) != 0 {
			t.Errorf("report %+v", rep)
		}
		if !rep.OK() || !rep.Finite || !rep.Match || rep.Reference != "go" || rep.MaxDiff > 1e-5 {
			t.Errorf("output check: %+v", rep)
		}
		if rep.RunTime <= 0 || rep.LoadTime <= 0 {
			t.Errorf("times %v %v", rep.LoadTime, rep.RunTime)
		}
		attrs := fmt.Sprint(rep.Attrs())
		for _, want := range []string{"provider cpu", "device cpu", fmt.Sprintf("cpus %d", runtime.NumCPU()), "run_time", "load_time", "match true"} {
			if !strings.Contains(attrs, want) {
				t.Errorf("attrs %s lack %q", attrs, want)
			}
		}
		if strings.Contains(attrs, "memory") || strings.Contains(attrs, "fallback") {
			t.Errorf("attrs %s", attrs)
		}
	}
}

// TestSelfCheckFallback asks for CUDA on this machine, whose runtime is a
// CPU-only build: the session falls back to the CPU and the report says
// which provider was skipped and why.
func TestSelfCheckFallback(t *testing.T) {
	needORT(t)
	ps, err := ParseProviders("cuda:0,cpu")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	rep, err := SelfCheck(context.Background(), ps, SelfCheckOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if strings.HasPrefix(rep.Provider, "cuda") {
		t.Skip("CUDA is available here; fallback not exercised")
	}
	t.Logf("%v", rep.Attrs())
	if rep.Provider != "cpu" || rep.Requested != "cuda:0,cpu" || rep.Device != "cpu" || !rep.OK() {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Fallbacks) != 1 || rep.Fallbacks[0].Provider != "cuda:0" || rep.Fallbacks[0].Reason == "" {
		t.Fatalf("fallbacks %+v", rep.Fallbacks)
	}
	// ONNX Runtime's reason, as the session logged it.
	if !strings.Contains(logs.String(), rep.Fallbacks[0].Reason) || !strings.Contains(logs.String(), "execution provider unavailable") {
		t.Errorf("reason %q not in the session log:\n%s", rep.Fallbacks[0].Reason, logs.String())
	}
	attrs := fmt.Sprint(rep.Attrs())
	if !strings.Contains(attrs, "fallback cuda:0: "+rep.Fallbacks[0].Reason) || !strings.Contains(attrs, "requested cuda:0,cpu") {
		t.Errorf("attrs %s", attrs)
	}
}

// TestSelfCheckCanceled: a canceled context stops the check before it
// loads anything.
func TestSelfCheckCanceled(t *testing.T) {
	needORT(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := SelfCheck(ctx, nil, SelfCheckOptions{})
	if !errors.Is(err, context.Canceled) || rep.Provider != "" || rep.OK() {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// TestSelfCheckDetectsWrongOutput: the comparison is not vacuous; a
// slightly different weight moves the output past the tolerance, and the
// Go evaluation agrees with ONNX Runtime's CPU run.
func TestSelfCheckDetectsWrongOutput(t *testing.T) {
	needORT(t)
	m := newSelfCheckModel()
	onnx, err := m.onnx()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(onnx, SessionConfig{Name: "self-check", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _, err := runSelfCheck(s, m.x)
	if err != nil {
		t.Fatal(err)
	}
	diff := func(a, b []float32) float64 {
		d := 0.0
		for i := range a {
			d = max(d, float64(a[i]-b[i]), float64(b[i]-a[i]))
		}
		return d
	}
	if d := diff(got, m.eval()); d > 1e-5 {
		t.Fatalf("ORT and Go differ by %g", d)
	}
	m.w2[3] += 0.05
	if d := diff(got, m.eval()); d <= SelfCheckTolerance {
		t.Fatalf("a changed weight moves the output by only %g", d)
	}
}

// TestSelfCheckDevice names the GPU a CUDA or TensorRT session got from
// what the driver lists, and says why when it cannot.
func TestSelfCheckDevice(t *testing.T) {
	gpus := func() (kernels.Devices, error) {
		return kernels.Devices{GPUs: []kernels.Device{
			{Index: 0, Name: "NVIDIA A10", Memory: 24 << 30},
			{Index: 1, Name: "NVIDIA H100 80GB HBM3", Memory: 80 << 30},
		}}, nil
	}
	var rep SelfCheckReport
	describeDevice(&rep, Provider{Name: ProviderCUDA, Device: 1}, gpus)
	if rep.Device != "NVIDIA H100 80GB HBM3" || rep.Memory != 80<<30 || rep.CPUs != 0 {
		t.Errorf("cuda:1: %+v", rep)
	}
	rep.Provider = "cuda:1"
	if attrs := fmt.Sprint(rep.Attrs()); !strings.Contains(attrs, "memory 80.0 GiB") || strings.Contains(attrs, "cpus") {
		t.Errorf("attrs %s", attrs)
	}
	rep = SelfCheckReport{}
	describeDevice(&rep, Provider{Name: ProviderTensorRT, Device: 2}, gpus)
	if rep.Device != "unknown GPU (the driver lists 2, none with ordinal 2)" || rep.Memory != 0 {
		t.Errorf("tensorrt:2: %+v", rep)
	}
	rep = SelfCheckReport{}
	describeDevice(&rep, Provider{Name: ProviderCUDA}, func() (kernels.Devices, error) {
		return kernels.Devices{}, &kernels.NoGPUError{Reason: "libcuda.so.1 not found"}
	})
	if rep.Device != "unknown GPU (no GPU: libcuda.so.1 not found)" {
		t.Errorf("no driver: %+v", rep)
	}
	rep = SelfCheckReport{}
	describeDevice(&rep, Provider{Name: ProviderCPU}, gpus)
	if rep.Device != "cpu" || rep.CPUs != runtime.NumCPU() {
		t.Errorf("cpu: %+v", rep)
	}
}
