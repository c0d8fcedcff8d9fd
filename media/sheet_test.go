package media

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestContactSheet(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "clip.mp4"), filepath.Join(dir, "sheet.png")
	gen := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", in)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("making the clip: %v: %s", err, b)
	}
	if err := ContactSheet(context.Background(), EncodeOptions{}, in, out, 12, 80); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// 48 frames, every 12th: 4 cells of 80×60 in one row, 4 px apart and
	// around.
	if SheetCells(48, 12) != 4 || cfg.Width != 4*80+3*4+2*4 || cfg.Height != 60+2*4 {
		t.Fatalf("sheet %dx%d", cfg.Width, cfg.Height)
	}
	if err := ContactSheet(context.Background(), EncodeOptions{}, in, out, 0, 80); err == nil {
		t.Fatal("every 0 accepted")
	}
}
