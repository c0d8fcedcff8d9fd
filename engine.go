package paimeng

import (
	"context"
	"image"
)

// PixelFormat is the layout of raw frames an engine writes.
type PixelFormat string

// Raw frame layouts understood by the encoder.
const (
	PixRGB24   PixelFormat = "rgb24"   // packed R,G,B bytes, Width*Height*3 per frame
	PixYUV420P PixelFormat = "yuv420p" // planar Y, then U, then V at half size; Width*Height*3/2 per frame
)

// FrameSize returns the byte size of one frame of the spec.
func (s VideoSpec) FrameSize() int {
	switch s.PixFmt {
	case PixYUV420P:
		return s.Width*s.Height + 2*((s.Width/2)*(s.Height/2))
	default:
		return s.Width * s.Height * 3
	}
}

// VideoSpec describes the raw clip an engine will produce.
type VideoSpec struct {
	Width, Height int // even
	FPS           int
	Frames        int
	PixFmt        PixelFormat
}

// GenInput is what an engine works from.
type GenInput struct {
	Image   image.Image // decoded still, already checked against the limits
	Prompt  string
	Seconds int   // clip length in seconds (5 or 10)
	Seed    int64 // for any randomness (shake); same inputs and seed give the same clip
	MaxSide int   // longest output side; 0 means the engine default (1280)

	// Shot is the camera script; nil means the engine reads none and uses
	// its default move.
	Shot   *Shot
	Tail   image.Image // optional end frame, decoded and checked like Image
	FPS    int         // 0 means 24
	Aspect Aspect      // letterbox shape; "" keeps the picture's
}

// FrameSink receives an engine's frames in order; the slice is only valid
// during the call.
type FrameSink interface {
	WriteFrame(frame []byte) error
}

// Engine turns a still image and a prompt into frames.
type Engine interface {
	Name() string
	// Plan returns the clip the engine will produce for in.
	Plan(in *GenInput) (VideoSpec, error)
	// Generate writes spec.Frames frames to sink, reporting progress as
	// frames are done. It stops early when ctx is canceled.
	Generate(ctx context.Context, in *GenInput, sink FrameSink, progress func(done, total int)) error
}

// RenderInput is one job as a worker sees it.
type RenderInput struct {
	Image   []byte // the still as sent
	Prompt  string
	Seconds int
	Seed    int64
	Engine  string // "" means the default
	Mode    Mode   // "" means std; pro encodes finer and slower
	OutDir  string // where the MP4 and poster are written

	Shot       *Shot  // nil: the engine's default move
	Tail       []byte // optional end frame as sent
	FPS        int    // 0 means 24
	Resolution int    // 0, 540, 720 or 1080
	Aspect     Aspect
}

// Rendered is a finished clip on disk.
type Rendered struct {
	VideoPath  string
	PosterPath string
	Width      int
	Height     int
	Frames     int
	Seconds    float64
	Bytes      int64
}

// Renderer makes a finished MP4 and poster from a job: decode with limits,
// run the engine, encode.
type Renderer interface {
	Render(ctx context.Context, in *RenderInput, progress func(p Progress)) (*Rendered, error)
}
