package inference

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rss reads the resident set size from /proc/self/statm after returning
// freed Go memory to the system.
func rss(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestSessionNoLeak runs 1,000 steps on one binding, then 1,000 cycles that
// create buffers and a binding, bind, run and close them, then 200 session
// load/close cycles, and checks after each phase that resident memory grew
// by no more than leakBound over its warmed-up level and that every runtime
// object was released (PAIMENG_TEST_LEAK_LOADS sets the session cycles). Each run has ONNX Runtime allocate a 256 KiB
// intermediate, so a per-run leak of it would add 250 MiB; a leaked tensor
// or binding per cycle would also show in the object count.
func TestSessionNoLeak(t *testing.T) {
	const (
		n         = 1 << 16 // float32 elements: 256 KiB per tensor
		runs      = 1000
		warm      = 100
		leakBound = 8 << 20
	)
	loads := 200
	if v, _ := strconv.Atoi(os.Getenv("PAIMENG_TEST_LEAK_LOADS")); v > 0 {
		loads = v
	}
	needORT(t)
	start := time.Now()
	model := affineModel(t)
	baseObjects := liveORT.Load()
	s, err := NewSession(model, cpuConfig("affine"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check := func(phase string, before, after int64) {
		t.Helper()
		t.Logf("%s: RSS %.1f MiB → %.1f MiB (%+.0f KiB, bound %d KiB)", phase,
			float64(before)/(1<<20), float64(after)/(1<<20), float64(after-before)/1024, leakBound>>10)
		if after-before > leakBound {
			t.Errorf("%s: RSS grew by %d KiB", phase, (after-before)>>10)
		}
	}

	// Phase 1: steady-state steps.
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc("x", 1, n)
	y, _ := b.Alloc("y", 1, n)
	step := func() {
		x.Float32()[0]++
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		if y.Float32()[0] != 2*x.Float32()[0]+1 {
			t.Fatal("wrong output")
		}
	}
	for i := 0; i < warm; i++ {
		step()
	}
	r0 := rss(t)
	for i := 0; i < runs; i++ {
		step()
	}
	check("1000 runs", r0, rss(t))
	b.Close()

	// Phase 2: buffers and bindings made, used and closed every cycle.
	cycle := func(i int) {
		b, err := s.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		x, err := NewBuffer(Float32, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		y, err := NewBuffer(Float32, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		x.Float32()[n-1] = float32(i)
		if err := b.Bind("x", x); err != nil {
			t.Fatal(err)
		}
		if err := b.Bind("y", y); err != nil {
			t.Fatal(err)
		}
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		if y.Float32()[n-1] != 2*float32(i)+1 {
			t.Fatal("wrong output")
		}
		b.Close()
		x.Close()
		y.Close()
	}
	for i := 0; i < warm; i++ {
		cycle(i)
	}
	r1 := rss(t)
	for i := 0; i < runs; i++ {
		cycle(i)
	}
	check("1000 buffer+binding cycles", r1, rss(t))
	if got := liveORT.Load() - baseObjects; got != 1 {
		t.Errorf("%d runtime objects live besides the session", got-1)
	}

	// Phase 3: whole sessions loaded, run once and closed.
	load := func() {
		s, err := NewSession(model, cpuConfig("affine"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.NewBinding()
		b.Alloc("x", 1, 16)
		b.Alloc("y", 1, 16)
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	for i := 0; i < warm; i++ {
		load()
	}
	r2 := rss(t)
	for i := 0; i < loads; i++ {
		load()
	}
	check(strconv.Itoa(loads)+" session load/close cycles", r2, rss(t))
	if got := liveORT.Load() - baseObjects; got != 1 {
		t.Errorf("%d runtime objects live besides the session", got-1)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
