package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/paimeng/paimeng"
)

// H.264 encoders an Encoder can use.
const (
	CodecX264  = "libx264"    // software, any machine
	CodecNVENC = "h264_nvenc" // NVIDIA's hardware encoder (see DetectNVENC)
)

// EncodeOptions configures ffmpeg. Zero values pick defaults.
type EncodeOptions struct {
	FFmpeg string // ffmpeg binary; default "ffmpeg"
	// Codec is the H.264 encoder of NewEncoder: CodecX264 (default) or
	// CodecNVENC. Shrink and ContactSheet always use libx264.
	Codec string
	// Preset is the libx264 preset; default "veryfast". With h264_nvenc a
	// preset p1 … p7 is used as given and any other value means p4.
	Preset  string
	CRF     int // default 20; h264_nvenc takes it as its constant quality (-cq)
	MaxRate int // peak bitrate in kbit/s; default 8000 (a 5 s clip stays under 8 MB)
	Threads int // encoder threads; 0 lets x264 choose (libx264 only)
}

func (o EncodeOptions) withDefaults() EncodeOptions {
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.Codec == "" {
		o.Codec = CodecX264
	}
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	if o.CRF <= 0 {
		o.CRF = 20
	}
	if o.MaxRate <= 0 {
		o.MaxRate = 8000
	}
	return o
}

// Encoder feeds raw frames to an ffmpeg process that writes an H.264 High
// profile, yuv420p, BT.709-tagged MP4 with the index at the front, with
// libx264 or, when EncodeOptions.Codec says so, h264_nvenc. It
// implements paimeng.FrameSink. Encoding runs in ffmpeg concurrently with
// whatever produces the frames; WriteFrame blocks only when the pipe is full.
type Encoder struct {
	spec   paimeng.VideoSpec
	cmd    *exec.Cmd
	stdin  *os.File
	stderr *tailBuffer
	frames int
	closed bool
}

var _ paimeng.FrameSink = (*Encoder)(nil)

// NewEncoder starts ffmpeg writing outPath. The process is killed if ctx is
// canceled before Close.
func NewEncoder(ctx context.Context, spec paimeng.VideoSpec, outPath string, opt EncodeOptions) (*Encoder, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	args, err := encoderArgs(spec, outPath, opt)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, opt.FFmpeg, args...)
	pr, stdin, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("media: ffmpeg stdin: %w", err)
	}
	growPipe(stdin, spec.FrameSize())
	cmd.Stdin = pr
	tail := &tailBuffer{max: 4096}
	cmd.Stderr = tail
	err = cmd.Start()
	pr.Close()
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("media: start ffmpeg: %w", err)
	}
	return &Encoder{spec: spec, cmd: cmd, stdin: stdin, stderr: tail}, nil
}

// encoderArgs returns ffmpeg's arguments for NewEncoder; opt has its
// defaults.
func encoderArgs(spec paimeng.VideoSpec, outPath string, opt EncodeOptions) ([]string, error) {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", string(spec.PixFmt),
		"-s", fmt.Sprintf("%dx%d", spec.Width, spec.Height),
		"-framerate", strconv.Itoa(spec.FPS),
	}
	if spec.PixFmt == paimeng.PixYUV420P {
		args = append(args, "-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709")
	}
	args = append(args, "-i", "pipe:0", "-an")
	if spec.PixFmt != paimeng.PixYUV420P {
		args = append(args, "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p")
	}
	rate := []string{"-maxrate", fmt.Sprintf("%dk", opt.MaxRate), "-bufsize", fmt.Sprintf("%dk", 2*opt.MaxRate)}
	switch opt.Codec {
	case CodecX264:
		args = append(args,
			"-c:v", "libx264", "-preset", opt.Preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
			// CABAC and 8x8 transforms keep the stream High profile on every preset.
			"-x264-params", "cabac=1:8x8dct=1",
			"-crf", strconv.Itoa(opt.CRF))
		args = append(args, rate...)
	case CodecNVENC:
		// Variable bitrate steered by constant quality (-b:v 0 leaves the
		// quality to -cq), capped like x264's CRF by -maxrate.
		args = append(args,
			"-c:v", "h264_nvenc", "-preset", nvencPreset(opt.Preset), "-tune", "hq", "-profile:v", "high", "-pix_fmt", "yuv420p",
			"-rc", "vbr", "-cq", strconv.Itoa(opt.CRF), "-b:v", "0")
		args = append(args, rate...)
	default:
		return nil, fmt.Errorf("media: unknown video codec %q (want %s or %s)", opt.Codec, CodecX264, CodecNVENC)
	}
	args = append(args,
		"-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
		"-movflags", "+faststart",
	)
	if opt.Threads > 0 && opt.Codec == CodecX264 {
		args = append(args, "-threads", strconv.Itoa(opt.Threads))
	}
	return append(args, "-f", "mp4", outPath), nil
}

// nvencPreset maps the configured preset to an h264_nvenc one: p1 … p7
// as given, anything else (the libx264 names) p4, NVIDIA's balanced one.
func nvencPreset(p string) string {
	if len(p) == 2 && p[0] == 'p' && p[1] >= '1' && p[1] <= '7' {
		return p
	}
	return "p4"
}

// WriteFrame implements paimeng.FrameSink.
func (e *Encoder) WriteFrame(frame []byte) error {
	if e.closed {
		return errors.New("media: encoder closed")
	}
	if len(frame) != e.spec.FrameSize() {
		return fmt.Errorf("media: frame is %d bytes, want %d", len(frame), e.spec.FrameSize())
	}
	if _, err := e.stdin.Write(frame); err != nil {
		return fmt.Errorf("media: write frame %d to ffmpeg: %w%s", e.frames, err, e.stderr.suffix())
	}
	e.frames++
	return nil
}

// Frames returns the number of frames written so far.
func (e *Encoder) Frames() int { return e.frames }

// Close ends the stream and waits for ffmpeg; a failure carries the tail
// of ffmpeg's stderr.
func (e *Encoder) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	cerr := e.stdin.Close()
	if err := e.cmd.Wait(); err != nil {
		return fmt.Errorf("media: ffmpeg: %w%s", err, e.stderr.suffix())
	}
	if cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		return fmt.Errorf("media: close ffmpeg stdin: %w", cerr)
	}
	return nil
}

// Abort kills ffmpeg and waits for it; the output file is left incomplete.
func (e *Encoder) Abort() {
	if e.closed {
		return
	}
	e.closed = true
	e.stdin.Close()
	if e.cmd.Process != nil {
		e.cmd.Process.Kill()
	}
	e.cmd.Wait()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

func (t *tailBuffer) suffix() string {
	if s := t.String(); s != "" {
		return ": " + s
	}
	return ""
}
