package bench

import (
	"context"
	"os"
	"testing"
	"time"
	"syscall"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

type fileSink struct{ f *os.File }

func (s fileSink) WriteFrame(b []byte) error { _, err := s.f.Write(b); return err }

type nullSink struct{}

func (nullSink) WriteFrame([]byte) error { return nil }

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestExpRender(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	inference.InitORT(lib)
	defer inference.DestroyORT()
	eng, err := inference.NewCameraEngine(inference.CameraOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	src := still(&testing.B{})
	os.WriteFile("/tmp/still.jpg", src, 0o644)
	img, _, err := media.DecodeImage(src)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create("/tmp/ours.yuv")
	eng.Generate(context.Background(), &paimeng.GenInput{Image: img, Prompt: "push in", Seed: 1}, fileSink{f}, nil)
	f.Close()
	for range 5 {
		t0, c0 := time.Now(), cpu()
		img, _, _ := media.DecodeImage(src)
		t1, c1 := time.Now(), cpu()
		eng.Generate(context.Background(), &paimeng.GenInput{Image: img, Prompt: "push in", Seed: 1}, nullSink{}, nil)
		t.Logf("decode %v cpu %v; generate %v cpu %v", t1.Sub(t0), c1-c0, time.Since(t1), cpu()-c1)
	}
}
