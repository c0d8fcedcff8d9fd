package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
)

func genEnv(t *testing.T) func(string) string {
	env := map[string]string{"PAIMENG_ORT_LIBRARY": testenv.ORTLibrary(t), "PAIMENG_MAX_SIDE": "320", "PAIMENG_ENCODER_PRESET": "ultrafast"}
	return func(k string) string { return env[k] }
}

// paimeng gen with a camera control and output options: 5 s at 30 fps is
// 150 frames; 540p on a square frame is 960×960; the MP4 is tagged BT.709.
func TestGenCameraAndOutputOptions(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "in.jpg")
	if err := os.WriteFile(img, jpegBytes(t, scene(640, 360)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"gen", "--image", img, "--prompt", "handheld", "--camera", "zoom:-5",
		"--fps", "30", "--res", "540", "--aspect", "1:1", "--seconds", "5", "--out", out}, genEnv(t), &stdout, &stderr)
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "150 frames at 30 fps") {
		t.Errorf("output %q", stdout.String())
	}
	info, err := media.Probe(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 150 || math.Abs(info.FPS-30) > 0.01 || info.Width != 960 || info.Height != 960 {
		t.Errorf("probe %+v, want 150 frames at 30 fps, 960×960", info)
	}
	tags, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=color_space,color_primaries,color_transfer,color_range", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.TrimSpace(tags)); got != "tv,bt709,bt709,bt709" {
		t.Errorf("colour tags %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jpg")); err != nil {
		t.Errorf("poster: %v", err)
	}
}

// paimeng gen --tail travels to an end frame; bad options are refused
// before anything is written.
func TestGenTailAndBadOptions(t *testing.T) {
	dir := t.TempDir()
	img, tail, junk := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "tail.jpg"), filepath.Join(dir, "junk.jpg")
	if err := os.WriteFile(img, jpegBytes(t, scene(640, 360)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tail, jpegBytes(t, scene(360, 640)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(junk, []byte("GIF89a not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mp4")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"gen", "--image", img, "--tail", tail, "--camera", "down_back", "--out", out},
		genEnv(t), &stdout, &stderr)
	if err != nil {
		t.Fatalf("gen --tail: %v\n%s", err, stderr.String())
	}
	if info, err := media.Probe(out); err != nil || info.Frames != 120 || info.Width != 320 {
		t.Fatalf("probe %+v %v", info, err)
	}

	for _, c := range []struct {
		args []string
		code string
	}{
		{[]string{"--camera", "zoom:11"}, paimeng.EBadOption},
		{[]string{"--camera", "spin"}, paimeng.EBadOption},
		{[]string{"--fps", "25"}, paimeng.EBadOption},
		{[]string{"--res", "480"}, paimeng.EBadOption},
		{[]string{"--aspect", "4:3"}, paimeng.EBadOption},
		{[]string{"--tail", junk}, paimeng.EImageFormat},
	} {
		bad := filepath.Join(dir, "bad.mp4")
		args := append([]string{"gen", "--image", img, "--out", bad}, c.args...)
		err := run(context.Background(), args, genEnv(t), &stdout, &stderr)
		if got := paimeng.ErrorCode(err); got != c.code {
			t.Errorf("%v: %q (%v), want %s", c.args, got, err, c.code)
		}
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Errorf("%v: output written", c.args)
		}
	}
}

// Colour is kept: flat sRGB patches go through the camera engine's BT.709
// conversion, x264 and back through ffmpeg's BT.709 decoding within a few
// levels (a locked camera, so each patch stays put).
func TestGenColourKept(t *testing.T) {
	dir := t.TempDir()
	patches := []color.RGBA{{220, 40, 40, 255}, {40, 200, 60, 255}, {30, 60, 210, 255}, {225, 180, 150, 255}, {128, 128, 128, 255}, {250, 240, 30, 255}}
	img := image.NewRGBA(image.Rect(0, 0, 384, 64))
	for x := range 384 {
		for y := range 64 {
			img.SetRGBA(x, y, patches[x/64])
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.mp4")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"gen", "--image", in, "--prompt", "镜头不动", "--out", out}, genEnv(t), &stdout, &stderr); err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 320, 52 // PAIMENG_MAX_SIDE 320
	if len(raw) != w*h*3 {
		t.Fatalf("decoded %d bytes, want %d×%d", len(raw), w, h)
	}
	for i, p := range patches {
		o := (h/2*w + (2*i+1)*w/12) * 3
		got := [3]int{int(raw[o]), int(raw[o+1]), int(raw[o+2])}
		for c, want := range []uint8{p.R, p.G, p.B} {
			if d := got[c] - int(want); d > 4 || d < -4 {
				t.Errorf("patch %d: decoded %v, sent %v", i, got, p)
				break
			}
		}
	}
}
