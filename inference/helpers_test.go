package inference

import (
	"os"
	"sync"
	"testing"
)

var ortOnce sync.Once

// needORT initialises the runtime from PAIMENG_ORT_LIBRARY.
func needORT(t testing.TB) {
	t.Helper()
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		t.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
	}
	var err error
	ortOnce.Do(func() { err = InitORT(lib) })
	if err != nil {
		t.Fatal(err)
	}
}

func newEngine(t testing.TB, opt CameraOptions) *CameraEngine {
	t.Helper()
	needORT(t)
	e, err := NewCameraEngine(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// memSink keeps copies of every frame.
type memSink struct{ frames [][]byte }

func (s *memSink) WriteFrame(f []byte) error {
	s.frames = append(s.frames, append([]byte(nil), f...))
	return nil
}
