package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/kernels"
)

// fakeFFmpeg writes an executable script standing in for ffmpeg; it records
// its arguments, one a line, in the returned file.
func fakeFFmpeg(t *testing.T, body string) (bin, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	bin, argsFile = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argsFile
}

// TestDetectNVENCHere runs the real test encode with this machine's ffmpeg.
// Without an NVIDIA driver (the usual test box: Debian's ffmpeg has
// h264_nvenc compiled in, but there is no libcuda.so.1) it must say no and
// why; with a GPU the answer depends on the card (an H100 has no NVENC).
func TestDetectNVENCHere(t *testing.T) {
	start := time.Now()
	ok, reason := DetectNVENC(context.Background(), "")
	t.Logf("ok=%v reason=%q in %v", ok, reason, time.Since(start))
	if ok {
		if reason != "" {
			t.Errorf("ok with reason %q", reason)
		}
		return
	}
	if !strings.HasPrefix(reason, "h264_nvenc ") {
		t.Errorf("reason %q does not start with h264_nvenc", reason)
	}
	if _, err := kernels.Detect(); err != nil {
		if errors.Is(err, kernels.ErrNoGPU) && !strings.Contains(reason, "libcuda.so.1") && !strings.Contains(reason, "Unknown encoder") {
			t.Errorf("no GPU here (%v) but the reason does not name the driver or the missing encoder: %q", err, reason)
		}
	} else {
		t.Logf("a GPU is present; h264_nvenc does not work on it: %s", reason)
	}
	if strings.Contains(reason, " @ 0x") || strings.Contains(reason, "\n") {
		t.Errorf("reason %q is not condensed to one line", reason)
	}
}

func TestDetectNVENCCases(t *testing.T) {
	bin, argsFile := fakeFFmpeg(t, "exit 0")
	if ok, reason := DetectNVENC(context.Background(), bin); !ok || reason != "" {
		t.Errorf("working encoder: %v %q", ok, reason)
	}
	args, _ := os.ReadFile(argsFile)
	if want := "-f\nlavfi\n-i\ncolor=black:s=256x256:d=0.1\n-c:v\nh264_nvenc\n-f\nnull\n-\n"; !strings.HasSuffix(string(args), want) {
		t.Errorf("test encode arguments:\n%s", args)
	}

	for _, c := range []struct{ body, want string }{
		{"echo '[h264_nvenc @ 0x55d0c0a1b2c0] OpenEncodeSessionEx failed: unsupported device (2): (no details)' >&2\n" +
			"echo 'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0' >&2\nexit 1",
			"h264_nvenc test encode failed: h264_nvenc: OpenEncodeSessionEx failed: unsupported device (2): (no details)"},
		{"echo \"Unknown encoder 'h264_nvenc'\" >&2\nexit 1", "h264_nvenc test encode failed: Unknown encoder 'h264_nvenc'"},
		{"exit 3", "h264_nvenc test encode failed: exit status 3"},
	} {
		bin, _ := fakeFFmpeg(t, c.body)
		if ok, reason := DetectNVENC(context.Background(), bin); ok || reason != c.want {
			t.Errorf("got %v %q, want %q", ok, reason, c.want)
		}
	}

	if ok, reason := DetectNVENC(context.Background(), filepath.Join(t.TempDir(), "no-ffmpeg")); ok ||
		!strings.HasPrefix(reason, "h264_nvenc not tried: ") || !strings.Contains(reason, "no such file") {
		t.Errorf("missing ffmpeg: %v %q", ok, reason)
	}
	if ok, reason := DetectNVENC(context.Background(), "paimeng-no-such-ffmpeg"); ok || !strings.Contains(reason, "executable file not found") {
		t.Errorf("ffmpeg not on PATH: %v %q", ok, reason)
	}

	// A hung encoder is stopped with the context.
	bin, _ = fakeFFmpeg(t, "exec sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, reason := DetectNVENC(ctx, bin)
	if ok || reason != "h264_nvenc test encode stopped: context deadline exceeded" || time.Since(start) > 5*time.Second {
		t.Errorf("hung encoder: %v %q after %v", ok, reason, time.Since(start))
	}
}

func TestChooseCodec(t *testing.T) {
	works, _ := fakeFFmpeg(t, "exit 0")
	fails, _ := fakeFFmpeg(t, "echo '[h264_nvenc @ 0x1] Cannot load libcuda.so.1' >&2; exit 1")
	ctx := context.Background()
	for _, c := range []struct {
		ffmpeg, setting, codec, reason, err string
	}{
		{works, "auto", "h264_nvenc", "", ""},
		{works, "", "h264_nvenc", "", ""},
		{fails, "auto", "libx264", "h264_nvenc test encode failed: h264_nvenc: Cannot load libcuda.so.1", ""},
		{fails, "libx264", "libx264", "", ""},
		{works, "libx264", "libx264", "", ""},
		{works, "h264_nvenc", "h264_nvenc", "", ""},
		{fails, "h264_nvenc", "", "", "media: h264_nvenc does not work here (h264_nvenc test encode failed: h264_nvenc: Cannot load libcuda.so.1); use auto or libx264"},
		{works, "x265", "", "", `media: unknown video encoder "x265" (want auto, libx264 or h264_nvenc)`},
	} {
		codec, reason, err := ChooseCodec(ctx, c.ffmpeg, c.setting)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if codec != c.codec || reason != c.reason || msg != c.err {
			t.Errorf("%q with %s: %q %q %v", c.setting, filepath.Base(filepath.Dir(c.ffmpeg)), codec, reason, err)
		}
	}
}

// TestEncoderCodecArgs: libx264 named or left empty gives the same command
// as before; h264_nvenc uses the equivalent settings; anything else is
// refused.
func TestEncoderCodecArgs(t *testing.T) {
	spec := paimeng.VideoSpec{Width: 64, Height: 48, FPS: 24, Frames: 2, PixFmt: paimeng.PixYUV420P}
	x264, err := encoderArgs(spec, "out.mp4", EncodeOptions{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	want := "-hide_banner -nostdin -loglevel error -y -f rawvideo -pix_fmt yuv420p -s 64x48 -framerate 24 " +
		"-color_range tv -colorspace bt709 -color_primaries bt709 -color_trc bt709 -i pipe:0 -an " +
		"-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -x264-params cabac=1:8x8dct=1 -crf 20 -maxrate 8000k -bufsize 16000k " +
		"-color_range tv -colorspace bt709 -color_primaries bt709 -color_trc bt709 -movflags +faststart -f mp4 out.mp4"
	if got := strings.Join(x264, " "); got != want {
		t.Errorf("libx264:\n got %s\nwant %s", got, want)
	}
	named, _ := encoderArgs(spec, "out.mp4", EncodeOptions{Codec: CodecX264}.withDefaults())
	if !reflect.DeepEqual(named, x264) {
		t.Errorf("Codec libx264 differs from the default:\n%v", named)
	}

	nv, err := encoderArgs(spec, "out.mp4", EncodeOptions{Codec: CodecNVENC, CRF: 23, MaxRate: 6000, Threads: 4}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	want = "-hide_banner -nostdin -loglevel error -y -f rawvideo -pix_fmt yuv420p -s 64x48 -framerate 24 " +
		"-color_range tv -colorspace bt709 -color_primaries bt709 -color_trc bt709 -i pipe:0 -an " +
		"-c:v h264_nvenc -preset p4 -tune hq -profile:v high -pix_fmt yuv420p -rc vbr -cq 23 -b:v 0 -maxrate 6000k -bufsize 12000k " +
		"-color_range tv -colorspace bt709 -color_primaries bt709 -color_trc bt709 -movflags +faststart -f mp4 out.mp4"
	if got := strings.Join(nv, " "); got != want {
		t.Errorf("h264_nvenc:\n got %s\nwant %s", got, want)
	}
	for p, want := range map[string]string{"p1": "p1", "p7": "p7", "medium": "p4", "p8": "p4", "": "p4"} {
		if got := nvencPreset(p); got != want {
			t.Errorf("preset %q → %q, want %q", p, got, want)
		}
	}

	if _, err := NewEncoder(context.Background(), spec, filepath.Join(t.TempDir(), "x.mp4"), EncodeOptions{Codec: "libx265"}); err == nil ||
		err.Error() != `media: unknown video codec "libx265" (want libx264 or h264_nvenc)` {
		t.Errorf("unknown codec: %v", err)
	}

	// NewEncoder hands the codec to ffmpeg.
	bin, argsFile := fakeFFmpeg(t, "cat > /dev/null")
	enc, err := NewEncoder(context.Background(), spec, "out.mp4", EncodeOptions{FFmpeg: bin, Codec: CodecNVENC})
	if err != nil {
		t.Fatal(err)
	}
	for range spec.Frames {
		if err := enc.WriteFrame(make([]byte, spec.FrameSize())); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(argsFile)
	if !strings.Contains(string(got), "-c:v\nh264_nvenc\n-preset\np4\n") {
		t.Errorf("ffmpeg got:\n%s", got)
	}
}
