package media

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/paimeng/paimeng"
)

// recordEngine keeps the GenInput it was given and writes flat grey
// frames at the asked frame rate, in packed RGB.
type recordEngine struct{ got *paimeng.GenInput }

func (*recordEngine) Name() string { return "record" }

func (e *recordEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	fps := in.FPS
	if fps == 0 {
		fps = paimeng.DefaultFPS
	}
	return paimeng.VideoSpec{Width: 96, Height: 64, FPS: fps, Frames: fps * max(in.Seconds, 1), PixFmt: paimeng.PixRGB24}, nil
}

func (e *recordEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(int, int)) error {
	e.got = in
	spec, _ := e.Plan(in)
	f := bytes.Repeat([]byte{90}, spec.FrameSize())
	for i := range spec.Frames {
		if err := sink.WriteFrame(f); err != nil {
			return err
		}
		progress(i+1, spec.Frames)
	}
	return nil
}

func TestRendererPassesCameraOptions(t *testing.T) {
	eng := &recordEngine{}
	r := NewRenderer(map[string]paimeng.Engine{"record": eng}, "record", EncodeOptions{Preset: "ultrafast"})
	shot := &paimeng.Shot{Shake: 0.35, Moves: []paimeng.Move{{Zoom: -5}}}
	in := &paimeng.RenderInput{
		Image: pngBytes(t, 160, 90), Tail: pngBytes(t, 90, 160), Seconds: 1,
		Shot: shot, FPS: 30, Resolution: 540, Aspect: paimeng.AspectSquare, OutDir: t.TempDir(),
	}
	res, err := r.Render(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := eng.got
	if g.Shot != shot || g.FPS != 30 || g.MaxSide != 960 || g.Aspect != paimeng.AspectSquare {
		t.Fatalf("engine got shot %v fps %d max side %d aspect %q", g.Shot, g.FPS, g.MaxSide, g.Aspect)
	}
	if g.Tail == nil || g.Tail.Bounds().Dx() != 90 || g.Tail.Bounds().Dy() != 160 || g.Image.Bounds().Dx() != 160 {
		t.Fatalf("engine got image %v tail %v", g.Image.Bounds(), g.Tail)
	}
	if res.Frames != 30 || res.Seconds != 1 {
		t.Fatalf("rendered %+v", res)
	}

	// No options: no end frame, the engine's own size and frame rate.
	in = &paimeng.RenderInput{Image: pngBytes(t, 160, 90), Seconds: 1, OutDir: t.TempDir()}
	if _, err := r.Render(context.Background(), in, nil); err != nil {
		t.Fatal(err)
	}
	if g := eng.got; g.Tail != nil || g.MaxSide != 0 || g.FPS != 0 || g.Shot != nil || g.Aspect != "" {
		t.Fatalf("engine got %+v", g)
	}
	for res, side := range map[int]int{720: 1280, 1080: 1920} {
		in = &paimeng.RenderInput{Image: pngBytes(t, 160, 90), Seconds: 1, Resolution: res, OutDir: t.TempDir()}
		if _, err := r.Render(context.Background(), in, nil); err != nil || eng.got.MaxSide != side {
			t.Fatalf("%dp: max side %d, %v", res, eng.got.MaxSide, err)
		}
	}
}

func TestRendererRefusesBadTail(t *testing.T) {
	eng := &recordEngine{}
	r := NewRenderer(map[string]paimeng.Engine{"record": eng}, "record", EncodeOptions{Preset: "ultrafast"})
	for _, c := range []struct {
		tail []byte
		res  int
		code string
	}{
		{[]byte("GIF89a not really"), 0, paimeng.EImageFormat},
		{pngBytes(t, 32, 32), 0, paimeng.EImageTooSmall},
		{pngHeader(9000, 9000), 0, paimeng.EImageTooLarge},
		{nil, 480, paimeng.EBadOption},
	} {
		dir := t.TempDir()
		in := &paimeng.RenderInput{Image: pngBytes(t, 160, 90), Tail: c.tail, Resolution: c.res, Seconds: 1, OutDir: dir}
		_, err := r.Render(context.Background(), in, nil)
		if got := paimeng.ErrorCode(err); got != c.code {
			t.Errorf("tail %d bytes, resolution %d: %q (%v), want %s", len(c.tail), c.res, got, err, c.code)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
			t.Errorf("files left behind: %v", m)
		}
	}
	if eng.got != nil {
		t.Fatal("the engine ran for a refused input")
	}
}

// Frames from packed RGB and from planar YUV both come out tagged BT.709,
// limited range.
func TestEncoderTagsBT709(t *testing.T) {
	for _, pix := range []paimeng.PixelFormat{paimeng.PixRGB24, paimeng.PixYUV420P} {
		t.Run(string(pix), func(t *testing.T) {
			spec := paimeng.VideoSpec{Width: 64, Height: 64, FPS: 30, Frames: 6, PixFmt: pix}
			out := filepath.Join(t.TempDir(), "x.mp4")
			enc, err := NewEncoder(context.Background(), spec, out, EncodeOptions{Preset: "ultrafast"})
			if err != nil {
				t.Fatal(err)
			}
			f := bytes.Repeat([]byte{128}, spec.FrameSize())
			for range spec.Frames {
				if err := enc.WriteFrame(f); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			tags, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
				"stream=color_space,color_primaries,color_transfer,color_range", "-of", "csv=p=0", out).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(bytes.TrimSpace(tags)); got != "tv,bt709,bt709,bt709" {
				t.Errorf("colour tags %q", got)
			}
			info, err := Probe(out)
			if err != nil || info.Frames != 6 || math.Abs(info.FPS-30) > 0.01 {
				t.Errorf("probe %+v %v", info, err)
			}
		})
	}
}
