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

// EncodeOptions configures ffmpeg. Zero values pick defaults.
type EncodeOptions struct {
	FFmpeg  string // ffmpeg binary; default "ffmpeg"
	Preset  string // libx264 preset; default "veryfast"
	CRF     int    // default 20
	MaxRate int    // peak bitrate in kbit/s; default 8000 (a 5 s clip stays under 8 MB)
	Threads int    // encoder threads; 0 lets x264 choose
}

func (o EncodeOptions) withDefaults() EncodeOptions {
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
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
// profile, yuv420p, BT.709-tagged MP4 with the index at the front. It
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
	args = append(args,
		"-c:v", "libx264", "-preset", opt.Preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
		// CABAC and 8x8 transforms keep the stream High profile on every preset.
		"-x264-params", "cabac=1:8x8dct=1",
		"-crf", strconv.Itoa(opt.CRF),
		"-maxrate", fmt.Sprintf("%dk", opt.MaxRate), "-bufsize", fmt.Sprintf("%dk", 2*opt.MaxRate),
		"-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
		"-movflags", "+faststart",
	)
	if opt.Threads > 0 {
		args = append(args, "-threads", strconv.Itoa(opt.Threads))
	}
	args = append(args, "-f", "mp4", outPath)

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
