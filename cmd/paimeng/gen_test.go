package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimeng/paimeng/internal/testenv"
)

// paimeng gen renders a clip and, asked for it, a contact sheet of every
// 12th frame: 120 frames make ten cells in rows of six.
func TestGenWithContactSheet(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "in.jpg")
	if err := os.WriteFile(img, jpegBytes(t, scene(640, 360)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, sheet := filepath.Join(dir, "out.mp4"), filepath.Join(dir, "sheet.png")
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t), "PAIMENG_MAX_SIDE": "320", "PAIMENG_ENCODER_PRESET": "ultrafast"}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"gen", "--image", img, "--prompt", "镜头缓慢推近", "--out", out, "--contact-sheet", sheet},
		func(k string) string { return env[k] }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "120 frames") || !strings.Contains(stdout.String(), "sheet.png") {
		t.Fatalf("output %q", stdout.String())
	}
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// Cells 240 px wide (320×180 scaled, 136 high: even), 4 px apart and around.
	if cfg.Width != 6*240+5*4+2*4 || cfg.Height != 2*136+4+2*4 {
		t.Fatalf("sheet %dx%d", cfg.Width, cfg.Height)
	}
}
