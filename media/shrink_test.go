package media

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestShrinkFitsTheBudget(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "big.mp4"), filepath.Join(dir, "small.mp4")
	// Noise is the hardest content to compress: a few MB for 4 s.
	gen := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
		"-i", "testsrc2=s=640x360:r=24,noise=alls=60:allf=t", "-t", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "12M", "-pix_fmt", "yuv420p", in)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("making the input: %v: %s", err, b)
	}
	fi, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	const budget = 1 << 20
	if fi.Size() <= 2*budget {
		t.Fatalf("input only %d bytes", fi.Size())
	}
	if err := Shrink(context.Background(), EncodeOptions{Preset: "ultrafast"}, in, out, budget); err != nil {
		t.Fatal(err)
	}
	got, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Probe(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size() > budget || info.Codec != "h264" || info.PixFmt != "yuv420p" || info.Width != 640 || info.Height != 360 || info.Duration < 3.9 {
		t.Fatalf("shrunk %d bytes (budget %d), %+v", got.Size(), budget, info)
	}
	if err := Shrink(context.Background(), EncodeOptions{}, in, out, 1000); err == nil {
		t.Fatal("a 1000-byte budget accepted")
	}
}
