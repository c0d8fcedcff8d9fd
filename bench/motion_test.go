// Package bench compares the camera engine's render path with ffmpeg's own
// zoompan filter on the same still, encoder and preset.
package bench

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

const preset = "veryfast"

// still is a 1920×1080 JPEG with smooth shading, edges and fine texture.
func still(b *testing.B) []byte {
	b.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	for y := range 1080 {
		for x := range 1920 {
			fx, fy := float64(x)/1920, float64(y)/1080
			r := 120 + 100*math.Sin(6*fx+2*fy)
			g := 110 + 90*math.Cos(5*fy-3*fx)
			bl := 100 + 80*math.Sin(9*fx*fy)
			if (x/120+y/120)%2 == 0 {
				r, g = g, r
			}
			t := float64((x*31+y*17)%23) - 11
			img.SetRGBA(x, y, color.RGBA{clamp(r + t), clamp(g + t), clamp(bl + t), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v))) }

// BenchmarkCameraClip720p renders and encodes a 5 s 1280×720 push-in.
func BenchmarkCameraClip720p(b *testing.B) {
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		b.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
	}
	if err := inference.InitORT(lib); err != nil {
		b.Fatal(err)
	}
	defer inference.DestroyORT()
	eng, err := inference.NewCameraEngine(inference.CameraOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	r := media.NewRenderer(map[string]paimeng.Engine{"camera": eng}, "camera", media.EncodeOptions{Preset: preset})
	src := still(b)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, Prompt: "push in", Seed: 1, OutDir: dir}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.ReportMetric(float64(res.Bytes)/1e6, "MB/clip")
		}
	}
}

// BenchmarkFFmpegZoompanSmooth720p is zoompan's usual recipe against its
// whole-pixel jitter: upscale 4× first. Same push-in and x264 settings.
func BenchmarkFFmpegZoompanSmooth720p(b *testing.B) {
	benchZoompan(b, "scale=iw*4:-1,"+zoompanPush)
}

// zoompanPush is a 1.0 → 1.3 push-in on the centre over 120 frames.
const zoompanPush = "zoompan=z='1+0.3*on/119':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=120:s=1280x720:fps=24"

// BenchmarkFFmpegZoompan720p makes a comparable push-in (1.0 → 1.3 over
// 120 frames) with ffmpeg's zoompan filter and the same x264 settings.
func BenchmarkFFmpegZoompan720p(b *testing.B) { benchZoompan(b, zoompanPush) }

func benchZoompan(b *testing.B, vf string) {
	dir := b.TempDir()
	in := filepath.Join(dir, "still.jpg")
	if err := os.WriteFile(in, still(b), 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "zoompan.mp4")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", in, "-vf", vf,
		"-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-crf", "20", "-maxrate", "8000k", "-bufsize", "16000k", "-movflags", "+faststart", out}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if msg, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v %s", err, msg)
		}
	}
	b.StopTimer()
	info, err := media.Probe(out)
	if err != nil {
		b.Fatal(err)
	}
	if info.Frames != 120 || info.Width != 1280 {
		b.Fatalf("zoompan output %+v", info)
	}
	b.ReportMetric(float64(info.Bytes)/1e6, "MB/clip")
}

// TestSmoothnessVsZoompan tracks a soft blob through both push-ins: the
// change of its per-frame displacement stays tiny for the camera engine and
// jumps by a large fraction of a pixel for plain zoompan.
func TestSmoothnessVsZoompan(t *testing.T) {
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		t.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
	}
	img := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	for y := range 1080 {
		for x := range 1920 {
			dx, dy := float64(x)+0.5-400, float64(y)+0.5-300
			v := uint8(30 + 220*math.Exp(-(dx*dx+dy*dy)/32))
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	const fs = 1280 * 720

	// Plain zoompan, luma straight out of the filter.
	dir := t.TempDir()
	in := filepath.Join(dir, "blob.jpg")
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", in, "-vf", zoompanPush+",format=gray", "-f", "rawvideo", "-").Output()
	if err != nil || len(raw) != 120*fs {
		t.Fatalf("zoompan: %v, %d bytes", err, len(raw))
	}
	var zp [][]byte
	for f := 0; f < len(raw); f += fs {
		zp = append(zp, raw[f:f+fs])
	}

	if err := inference.InitORT(lib); err != nil {
		t.Fatal(err)
	}
	defer inference.DestroyORT()
	eng, err := inference.NewCameraEngine(inference.CameraOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var ours lumaSink
	if err := eng.Generate(context.Background(), &paimeng.GenInput{Image: img, Prompt: "push in"}, &ours, nil); err != nil {
		t.Fatal(err)
	}

	jz, jo := jerk(zp), jerk(ours.frames)
	t.Logf("largest change of per-frame blob displacement: zoompan %.3f px, camera engine %.3f px", jz, jo)
	if jo > 0.1 || jz < 3*jo {
		t.Errorf("camera engine %.3f px vs zoompan %.3f px: expected a smooth glide", jo, jz)
	}
}

type lumaSink struct{ frames [][]byte }

func (s *lumaSink) WriteFrame(f []byte) error {
	s.frames = append(s.frames, append([]byte(nil), f[:1280*720]...))
	return nil
}

// jerk is the largest frame-to-frame change of the blob's horizontal
// displacement (its centroid in the left part of the frame).
func jerk(frames [][]byte) float64 {
	var xs []float64
	for _, fr := range frames {
		var sx, sw float64
		for y := range 720 {
			for x := range 700 {
				if w := float64(fr[y*1280+x]) - 70; w > 0 {
					sx += w * float64(x)
					sw += w
				}
			}
		}
		xs = append(xs, sx/sw)
	}
	var m float64
	for i := 2; i < len(xs); i++ {
		m = math.Max(m, math.Abs((xs[i]-xs[i-1])-(xs[i-1]-xs[i-2])))
	}
	return m
}
