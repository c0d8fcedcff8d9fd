package inference

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestSessionSetLoadsOnce(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, affineModel(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := liveORT.Load()
	ss := NewSessionSet(cpuConfig(""))
	got := make([]*Session, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			s, err := ss.Get(p)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}(i)
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[i%2] {
			t.Fatalf("caller %d got a different session", i)
		}
	}
	if got[0] == got[1] || got[0].Name() != a || got[1].Name() != b {
		t.Fatalf("sessions %q %q", got[0].Name(), got[1].Name())
	}
	if n := liveORT.Load() - before; n != 2 {
		t.Fatalf("%d sessions loaded, want 2", n)
	}
	if _, err := ss.Get(filepath.Join(dir, "missing.onnx")); err == nil {
		t.Fatal("missing model loaded")
	}
	if err := ss.Close(); err != nil {
		t.Fatal(err)
	}
	if n := liveORT.Load() - before; n != 0 {
		t.Fatalf("%d runtime objects left", n)
	}
	if _, err := ss.Get(a); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
}
