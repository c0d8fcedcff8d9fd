package bench

// The motion benchmarks: the camera engine (media.Renderer over
// inference.CameraEngine) against ffmpeg's zoompan filter on the same
// generated still, the same move and the same libx264 settings. Each clip
// also gets a smoothness figure from tracked markers (see track.go).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

// encodeOpts are the x264 settings of both sides: the camera engine's
// media.Encoder gets them, and x264Args spells them out for zoompan the way
// media/encode.go does.
var encodeOpts = media.EncodeOptions{Preset: "veryfast", CRF: 20, MaxRate: 8000}

// fineOpts encode near-losslessly (CRF 1, a rate cap that never binds). A
// second, untimed clip made with them shows each renderer's own smoothness:
// at CRF 20 the codec alone moves the markers by a few hundredths of a
// pixel from frame to frame.
var fineOpts = media.EncodeOptions{Preset: "veryfast", CRF: 1, MaxRate: 400000}

// x264Args are the output options media.NewEncoder gives ffmpeg for opt
// (codec, preset, profile, pixel format, x264 params, CRF, rate cap, colour
// tags, container flags), so the zoompan clips are encoded exactly alike.
func x264Args(opt media.EncodeOptions) []string {
	return []string{"-an",
		"-c:v", "libx264", "-preset", opt.Preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-x264-params", "cabac=1:8x8dct=1",
		"-crf", strconv.Itoa(opt.CRF),
		"-maxrate", fmt.Sprintf("%dk", opt.MaxRate), "-bufsize", fmt.Sprintf("%dk", 2*opt.MaxRate),
		"-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
		"-movflags", "+faststart", "-f", "mp4"}
}

// toBT709 ends each zoompan chain: the still decodes as full-range BT.601
// and the engine's clips are limited-range BT.709, so zoompan's frames are
// converted as media/encode.go converts RGB input.
const toBT709 = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"

const benchFPS = 24

// dollyStops is the zoom of a Dolly 4 move in powers of two: it ends at
// 2^0.4 = 1.3195× the full picture.
const dollyStops = 0.4

// moveCase is one benchmarked camera move.
type moveCase struct {
	name       string  // sub-benchmark name
	dolly      float64 // the Shot's one move: 4 pushes in, -4 pulls back
	prompt     string  // the same move in words
	srcW, srcH int     // generated still
	res        int     // RenderInput.Resolution
	seconds    int
}

var moveCases = []moveCase{
	{name: "push-in-720p", dolly: 4, prompt: "push in", srcW: 1920, srcH: 1080, res: 720, seconds: 5},
	// A source larger than the output, so both sides downscale.
	{name: "pull-back-1080p", dolly: -4, prompt: "pull back", srcW: 2560, srcH: 1440, res: 1080, seconds: 10},
}

func (c moveCase) frames() int { return c.seconds * benchFPS }

// size is the frame size RenderInput asks for: the preset's longest side,
// the still's aspect.
func (c moveCase) size() (w, h int) {
	side, _ := paimeng.ResolutionSide(c.res)
	return side, side * c.srcH / c.srcW
}

// input is the camera engine's job.
func (c moveCase) input(img []byte, dir string) *paimeng.RenderInput {
	return &paimeng.RenderInput{Image: img, Prompt: c.prompt, Seed: 1, OutDir: dir,
		Shot:       &paimeng.Shot{Moves: []paimeng.Move{{Dolly: c.dolly}}},
		Resolution: c.res, FPS: benchFPS, Seconds: c.seconds}
}

// zooms is the move's zoom for each of n frames: z(t) = 2^(0.4·e(t)) with
// e(t) = 0.5 − 0.5·cos(πt), t = k/(n−1), for the push-in; the pull-back
// uses 1 − e(t) and ends on the full picture.
func (c moveCase) zooms(n int) []float64 {
	z := make([]float64, n)
	for k := range z {
		t := 0.0
		if n > 1 {
			t = float64(k) / float64(n-1)
		}
		e := 0.5 - 0.5*math.Cos(math.Pi*t)
		if c.dolly < 0 {
			e = 1 - e
		}
		z[k] = math.Pow(2, dollyStops*e)
	}
	return z
}

// zoompan is the same move as a zoompan filter: zoom from the same formula
// (on is the output frame number, 0 to N−1), crop centred.
func (c moveCase) zoompan() string {
	n := c.frames()
	e := fmt.Sprintf("(0.5-0.5*cos(PI*on/%d))", n-1)
	if c.dolly < 0 {
		e = fmt.Sprintf("(0.5+0.5*cos(PI*on/%d))", n-1)
	}
	w, h := c.size()
	return fmt.Sprintf("zoompan=z='pow(2,%g*%s)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=%d:s=%dx%d:fps=%d",
		dollyStops, e, n, w, h, benchFPS)
}

// markedStill is a generated still with tracking markers.
type markedStill struct {
	jpeg    []byte
	w, h    int
	sigma   float64 // markers' standard deviation, source pixels
	markers []pt    // marker centres, source pixels
}

// markerSpots are the markers' centres as fractions of the picture: spread
// over the frame, all inside the tightest view of a Dolly 4 move.
var markerSpots = []pt{{0.22, 0.26}, {0.78, 0.24}, {0.24, 0.76}, {0.77, 0.77}, {0.40, 0.41}, {0.62, 0.61}}

// newMarkedStill draws a w×h JPEG with smooth shading, edges and fine
// texture, plus small white Gaussian markers, each on a dark disc that
// blends into the texture around it.
func newMarkedStill(w, h int) *markedStill {
	s := &markedStill{w: w, h: h, sigma: 4 * float64(w) / 1920}
	for _, f := range markerSpots {
		s.markers = append(s.markers, pt{f.X * float64(w), f.Y * float64(h)})
	}
	const dark = 24
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 120 + 100*math.Sin(6*fx+2*fy)
			g := 110 + 90*math.Cos(5*fy-3*fx)
			bl := 100 + 80*math.Sin(9*fx*fy)
			if (x/120+y/120)%2 == 0 {
				r, g = g, r
			}
			t := float64((x*31+y*17)%23) - 11
			r, g, bl = r+t, g+t, bl+t
			for _, m := range s.markers {
				dx, dy := float64(x)+0.5-m.X, float64(y)+0.5-m.Y
				d := math.Hypot(dx, dy) / s.sigma
				if d >= 14 {
					continue
				}
				// Dark disc of radius 10σ, faded out by 14σ.
				a := 1.0
				if d > 10 {
					a = 0.5 + 0.5*math.Cos(math.Pi*(d-10)/4)
				}
				r, g, bl = r+(dark-r)*a, g+(dark-g)*a, bl+(dark-bl)*a
				v := math.Exp(-d * d / 2)
				r, g, bl = r+(255-r)*v, g+(255-g)*v, bl+(255-bl)*v
			}
			img.SetRGBA(x, y, color.RGBA{clamp(r), clamp(g), clamp(bl), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	s.jpeg = buf.Bytes()
	return s
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }

// strict makes a camera clip that is not the size, length or move that
// RenderInput asked for fail the benchmark instead of logging a warning
// (PAIMENG_BENCH_STRICT=1).
var strict = os.Getenv("PAIMENG_BENCH_STRICT") == "1"

// maxPathErr is the largest path_err_px (px) a camera clip may show before
// it counts as not playing the requested move.
const maxPathErr = 2.0

// BenchmarkMotion renders each move with the camera engine, with zoompan,
// and with zoompan on a 4× upscaled still (the usual way to soften
// zoompan's whole-pixel steps). Besides s/clip it reports MB/clip,
// jitter_px and path_err_px of the first clip, and raw_jitter_px of an
// untimed near-lossless clip (see measure).
func BenchmarkMotion(b *testing.B) {
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		b.Fatal("PAIMENG_ORT_LIBRARY not set: run make bench")
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
	engines := map[string]paimeng.Engine{"camera": eng}
	renderers := map[bool]*media.Renderer{
		false: media.NewRenderer(engines, "camera", encodeOpts),
		true:  media.NewRenderer(engines, "camera", fineOpts),
	}

	for _, c := range moveCases {
		still := sync.OnceValue(func() *markedStill { return newMarkedStill(c.srcW, c.srcH) })
		b.Run(c.name+"/camera", clipBench(c, still, true, func(dir string, fine bool) (string, error) {
			res, err := renderers[fine].Render(context.Background(), c.input(still().jpeg, dir), nil)
			if err != nil {
				return "", err
			}
			return res.VideoPath, nil
		}))
		b.Run(c.name+"/zoompan", clipBench(c, still, false, zoompanClip(c, still, "")))
		b.Run(c.name+"/zoompan-4x", clipBench(c, still, false, zoompanClip(c, still, "scale=iw*4:-1,")))
	}
}

// zoompanClip makes the move with ffmpeg: the still, pre (filters before
// zoompan, "" or ending in a comma), zoompan, conversion to the engine's
// colour format, and the engine's x264 settings (fineOpts when fine).
func zoompanClip(c moveCase, still func() *markedStill, pre string) func(dir string, fine bool) (string, error) {
	return func(dir string, fine bool) (string, error) {
		in := filepath.Join(dir, "still.jpg")
		if _, err := os.Stat(in); err != nil {
			if err := os.WriteFile(in, still().jpeg, 0o644); err != nil {
				return "", err
			}
		}
		out := filepath.Join(dir, "zoompan.mp4")
		opt := encodeOpts
		if fine {
			opt = fineOpts
		}
		args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", in,
			"-vf", pre + c.zoompan() + "," + toBT709}
		args = append(append(args, x264Args(opt)...), out)
		if msg, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("ffmpeg: %v %s", err, msg)
		}
		return out, nil
	}
}

// clipMetrics is what measure finds.
type clipMetrics struct {
	mb                     float64
	jitter, pathErr, fineJ float64
	tracked, fineTracked   bool
	warnings               []string
}

// clipBench times render, which writes one clip into dir and returns its
// path (encoded with encodeOpts, or fineOpts when fine). The first clip and
// one untimed fine clip are measured, and the figures are reported on every
// round of the benchmark.
func clipBench(c moveCase, still func() *markedStill, engine bool, render func(dir string, fine bool) (string, error)) func(*testing.B) {
	var m *clipMetrics
	return func(b *testing.B) {
		still()
		dir := b.TempDir()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			path, err := render(dir, false)
			if err != nil {
				b.Fatal(err)
			}
			if m == nil {
				b.StopTimer()
				m = measure(b, c, still(), path, engine, func() (string, error) { return render(b.TempDir(), true) })
				b.StartTimer()
			}
		}
		b.StopTimer()
		for _, w := range m.warnings {
			b.Log("WARNING: " + w)
		}
		b.ReportMetric(m.mb, "MB/clip")
		if m.tracked {
			b.ReportMetric(m.jitter, "jitter_px")
			b.ReportMetric(m.pathErr, "path_err_px")
		}
		if m.fineTracked {
			b.ReportMetric(m.fineJ, "raw_jitter_px")
		}
	}
}

// measure checks a clip's size and length against the move and tracks the
// still's markers through it, then through a fine clip made by fine.
// jitter is the RMS second difference of the marker trajectories less their
// ideal paths (px/frame²); path_err the RMS distance from the ideal paths
// (px). A marker's ideal path is where the centre zoom z(t) puts it in a
// frame of the clip's size.
//
// A zoompan clip of the wrong size or length, or one whose markers are lost,
// fails the benchmark. A camera clip that is not what RenderInput asked for
// (size, frame count, or a path error over maxPathErr) is logged as a
// warning and measured as it is, unless PAIMENG_BENCH_STRICT=1: until the
// engine reads Shot, FPS and Resolution it may make its own default clip.
func measure(b *testing.B, c moveCase, s *markedStill, path string, engine bool, fine func() (string, error)) *clipMetrics {
	b.Helper()
	m := &clipMetrics{}
	problem := func(format string, args ...any) {
		msg := c.name + ": " + fmt.Sprintf(format, args...)
		if !engine || strict {
			b.Fatal(msg)
		}
		m.warnings = append(m.warnings, "camera engine clip "+msg)
	}
	info, err := media.Probe(path)
	if err != nil {
		b.Fatal(err)
	}
	m.mb = float64(info.Bytes) / 1e6
	w, h := c.size()
	if info.Width != w || info.Height != h || info.Frames != c.frames() {
		problem("%dx%d, %d frames; RenderInput asked for %dx%d, %d frames (Resolution %d, %d s at %d fps); measured as made",
			info.Width, info.Height, info.Frames, w, h, c.frames(), c.res, c.seconds, benchFPS)
	}
	m.jitter, m.pathErr, err = smoothness(c, s, path)
	if err != nil {
		problem("markers not tracked: %v", err)
		return m
	}
	m.tracked = true
	if m.pathErr > maxPathErr {
		problem("markers are %.1f px (RMS) off the path of Dolly %v; does the engine read RenderInput.Shot?", m.pathErr, c.dolly)
	}
	fpath, err := fine()
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(fpath)
	if m.fineJ, _, err = smoothness(c, s, fpath); err != nil {
		problem("markers not tracked in the CRF %d clip: %v", fineOpts.CRF, err)
		return m
	}
	m.fineTracked = true
	return m
}

// smoothness decodes a clip and tracks the still's markers through it,
// returning jitter and path error against the move's ideal paths.
func smoothness(c moveCase, s *markedStill, path string) (jit, perr float64, err error) {
	info, err := media.Probe(path)
	if err != nil {
		return 0, 0, err
	}
	clip, err := decodeGray(path, info.Width, info.Height)
	if err != nil {
		return 0, 0, err
	}
	z := c.zooms(len(clip.Frames))
	k0, zmax := 0, 1.0
	for k, v := range z {
		if v < z[k0] {
			k0 = k
		}
		zmax = math.Max(zmax, v)
	}
	ideal := make([][]pt, len(s.markers))
	start := make([]pt, len(s.markers))
	for i, mk := range s.markers {
		ideal[i] = zoomPath(mk, s.w, s.h, clip.W, clip.H, z)
		start[i] = ideal[i][k0]
	}
	// Tracking starts on the full picture, where the markers' places do not
	// depend on how the move is played.
	sigma := s.sigma * float64(clip.W) / float64(s.w) * zmax
	got, err := track(clip, k0, start, sigma, math.Max(8*sigma, 0.06*float64(clip.W)))
	if err != nil {
		return 0, 0, err
	}
	return jitter(got, ideal), pathErr(got, ideal), nil
}

// decodeGray decodes a w×h clip to 8-bit luma frames.
func decodeGray(path string, w, h int) (grayClip, error) {
	clip := grayClip{W: w, H: h}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return clip, err
	}
	if err := cmd.Start(); err != nil {
		return clip, err
	}
	for {
		f := make([]byte, w*h)
		if _, err := io.ReadFull(out, f); err != nil {
			if !errors.Is(err, io.EOF) {
				cmd.Process.Kill()
				cmd.Wait()
				return clip, fmt.Errorf("decode %s: frame %d: %w", path, len(clip.Frames), err)
			}
			break
		}
		clip.Frames = append(clip.Frames, f)
	}
	if err := cmd.Wait(); err != nil {
		return clip, fmt.Errorf("decode %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	if len(clip.Frames) < 3 {
		return clip, fmt.Errorf("decode %s: %d frames", path, len(clip.Frames))
	}
	return clip, nil
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
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", in, "-vf", moveCases[0].zoompan()+",format=gray", "-f", "rawvideo", "-").Output()
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
