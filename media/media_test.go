package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/paimeng/paimeng"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG whose IHDR claims w×h; no pixel data follows.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

func TestDecodeImageLimits(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		code string
	}{
		{"empty", nil, paimeng.ENoImage},
		{"too many bytes", append([]byte("\xff\xd8\xff"), make([]byte, paimeng.MaxImageBytes)...), paimeng.EImageTooLarge},
		{"too many pixels", pngHeader(10000, 5000), paimeng.EImageTooLarge},
		{"too small", pngBytes(t, 200, 40), paimeng.EImageTooSmall},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), paimeng.EImageFormat},
		{"text", []byte("hello, this is not an image"), paimeng.EImageFormat},
		{"corrupt png", pngBytes(t, 100, 100)[:200], paimeng.EImageFormat},
	}
	for _, tt := range tests {
		_, _, err := DecodeImage(tt.data)
		if got := paimeng.ErrorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %q", tt.name, got, err, tt.code)
		}
		// The header-only check agrees, except on pixel data it never reads.
		if tt.name != "corrupt png" {
			if got := paimeng.ErrorCode(CheckImage(tt.data)); got != tt.code {
				t.Errorf("%s: CheckImage code %q, want %q", tt.name, got, tt.code)
			}
		}
	}
	if err := CheckImage(pngBytes(t, 100, 64)); err != nil {
		t.Fatalf("CheckImage refused a good image: %v", err)
	}
	img, format, err := DecodeImage(pngBytes(t, 100, 64))
	if err != nil || format != "png" || img.Bounds().Dx() != 100 {
		t.Fatalf("png: %v %s", err, format)
	}
}

func TestDecodeWebPAndJPEG(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.png")
	if err := os.WriteFile(src, pngBytes(t, 96, 80), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out.webp")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", src, "-c:v", "libwebp", dst).CombinedOutput(); err != nil {
		t.Fatalf("make webp: %v %s", err, out)
	}
	data, _ := os.ReadFile(dst)
	img, format, err := DecodeImage(data)
	if err != nil || format != "webp" || img.Bounds().Dx() != 96 || img.Bounds().Dy() != 80 {
		t.Fatalf("webp: %v %q %v", err, format, img)
	}

	var jb bytes.Buffer
	im := image.NewRGBA(image.Rect(0, 0, 120, 80))
	for y := range 16 {
		for x := range 16 {
			im.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	jpeg.Encode(&jb, im, nil)
	img, format, err = DecodeImage(withOrientation(jb.Bytes(), 6))
	if err != nil || format != "jpeg" {
		t.Fatalf("jpeg: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 80 || b.Dy() != 120 {
		t.Fatalf("orientation 6: got %v, want 80x120", b)
	}
	// Rotated 90° clockwise: the top-left pixel ends up top-right.
	if r, _, _, _ := img.At(75, 4).RGBA(); r < 0x8000 {
		t.Errorf("orientation 6: top-right pixel not red")
	}
}

// withOrientation inserts an APP1 EXIF segment carrying orientation o.
func withOrientation(j []byte, o uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint16(tiff[18:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// waveEngine draws moving soft bands with fine texture straight in yuv420p.
type waveEngine struct{ fail error }

func (waveEngine) Name() string { return "wave" }

func (w waveEngine) Plan(in *paimeng.GenInput) (paimeng.VideoSpec, error) {
	s := in.Seconds
	if s == 0 {
		s = 5
	}
	return paimeng.VideoSpec{Width: 1280, Height: 720, FPS: 24, Frames: 24 * s, PixFmt: paimeng.PixYUV420P}, nil
}

func (w waveEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(int, int)) error {
	spec, _ := w.Plan(in)
	f := make([]byte, spec.FrameSize())
	ys := spec.Width * spec.Height
	for i := range spec.Frames {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.fail != nil && i == 10 {
			return w.fail
		}
		for y := range spec.Height {
			for x := range spec.Width {
				v := 120 + 60*math.Sin(float64(x+3*i)/40) + 30*math.Sin(float64(y)/25+float64(i)/10) + float64((x*7+y*13)%9)
				f[y*spec.Width+x] = uint8(v)
			}
		}
		for j := ys; j < len(f); j++ {
			f[j] = uint8(128 + 20*math.Sin(float64(j%640+i)/30))
		}
		if err := sink.WriteFrame(f); err != nil {
			return err
		}
		progress(i+1, spec.Frames)
	}
	return nil
}

func TestRendererEndToEnd(t *testing.T) {
	src := pngBytes(t, 640, 360)
	r := NewRenderer(map[string]paimeng.Engine{"wave": waveEngine{}}, "wave", EncodeOptions{})
	dir := t.TempDir()
	var stages []paimeng.Progress
	res, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, Prompt: "x", OutDir: dir}, func(p paimeng.Progress) {
		stages = append(stages, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames != 120 || res.Seconds != 5 || res.Width != 1280 || res.Height != 720 {
		t.Errorf("rendered %+v", res)
	}
	info, err := Probe(res.VideoPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe %+v", info)
	if info.Codec != "h264" || info.Profile != "High" || info.PixFmt != "yuv420p" ||
		info.Width != 1280 || info.Height != 720 || info.Frames != 120 ||
		math.Abs(info.FPS-24) > 0.01 || math.Abs(info.Duration-5) > 0.1 {
		t.Errorf("probe %+v", info)
	}
	if info.Bytes >= 8<<20 || info.Bytes != res.Bytes {
		t.Errorf("size %d (rendered says %d), want < 8 MB", info.Bytes, res.Bytes)
	}
	pf, err := os.Open(res.PosterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pimg, err := jpeg.Decode(pf)
	if err != nil || pimg.Bounds().Dx() != 1280 {
		t.Fatalf("poster: %v", err)
	}
	last := stages[len(stages)-1]
	if last.Stage != "encode" || last.Fraction() != 1 || stages[0].Stage != "render" {
		t.Errorf("progress %v", stages)
	}
	color := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=color_space,color_primaries,color_transfer,color_range", "-of", "csv=p=0", res.VideoPath)
	out, _ := color.Output()
	if got := string(bytes.TrimSpace(out)); got != "tv,bt709,bt709,bt709" {
		t.Errorf("colour tags %q", got)
	}
}

func TestRendererErrors(t *testing.T) {
	src := pngBytes(t, 640, 360)
	boom := errors.New("boom")
	r := NewRenderer(map[string]paimeng.Engine{"wave": waveEngine{fail: boom}}, "wave", EncodeOptions{})
	dir := t.TempDir()
	_, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, Seconds: 1, OutDir: dir}, nil)
	if paimeng.ErrorCode(err) != paimeng.EEngineFailed || !errors.Is(err, boom) {
		t.Errorf("engine failure: %v (%s)", err, paimeng.ErrorCode(err))
	}
	if _, err := os.Stat(filepath.Join(dir, VideoFile)); !os.IsNotExist(err) {
		t.Errorf("partial video left behind: %v", err)
	}
	_, err = r.Render(context.Background(), &paimeng.RenderInput{Image: src, Engine: "nope", OutDir: dir}, nil)
	if paimeng.ErrorCode(err) != paimeng.EUnknownEngine {
		t.Errorf("unknown engine: %v", err)
	}
	_, err = r.Render(context.Background(), &paimeng.RenderInput{Image: []byte("nope"), OutDir: dir}, nil)
	if paimeng.ErrorCode(err) != paimeng.EImageFormat {
		t.Errorf("bad image: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = r.Render(ctx, &paimeng.RenderInput{Image: src, OutDir: dir}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestEncoderReportsFFmpegFailure(t *testing.T) {
	spec := paimeng.VideoSpec{Width: 64, Height: 64, FPS: 24, Frames: 2, PixFmt: paimeng.PixYUV420P}
	enc, err := NewEncoder(context.Background(), spec, "/nonexistent-dir/x.mp4", EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := make([]byte, spec.FrameSize())
	for range 2 {
		if err := enc.WriteFrame(f); err != nil {
			break
		}
	}
	if err := enc.Close(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("nonexistent")) {
		t.Errorf("close: %v", err)
	}
	if err := enc.WriteFrame(f[:10]); err == nil {
		t.Error("short frame accepted")
	}
}
