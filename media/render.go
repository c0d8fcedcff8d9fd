package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"

	"github.com/paimeng/paimeng"
)

// Output file names inside RenderInput.OutDir.
const (
	VideoFile  = "video.mp4"
	PosterFile = "poster.jpg"
)

// Renderer implements paimeng.Renderer over a set of engines: decode the
// still with limits, run the chosen engine straight into ffmpeg, and write
// video.mp4 and poster.jpg (the middle frame).
type Renderer struct {
	engines map[string]paimeng.Engine
	def     string
	opt     EncodeOptions
	ro      RendererOptions
	slots   chan struct{} // engine slots; nil when engines run unbounded
}

var _ paimeng.Renderer = (*Renderer)(nil)

// RendererOptions configures how a Renderer shares its engines between
// concurrent renders.
type RendererOptions struct {
	// EngineSlots > 0 lets at most that many Generate calls run at once
	// across all of the Renderer's concurrent renders. Each render then
	// decodes, plans and starts its encoder before it takes a slot, and
	// frees the slot as soon as Generate returns: the engine's frames go
	// through a buffer (memory, then a raw file in the job's OutDir) that
	// the encoder drains concurrently, so the engine never waits for the
	// encoder, and the rest of the encode and the poster happen outside
	// the slot. 0 runs Generate within each render, straight into the
	// encoder, bounded only by the number of concurrent renders.
	EngineSlots int
	// SpoolMemory is how many bytes of frames one render keeps in memory
	// ahead of its encoder before the rest go to the file (with
	// EngineSlots > 0); default DefaultSpoolMemory.
	SpoolMemory int
}

// NewRenderer returns a Renderer; defaultEngine is used when a job names none.
func NewRenderer(engines map[string]paimeng.Engine, defaultEngine string, opt EncodeOptions) *Renderer {
	return NewRendererWith(engines, defaultEngine, opt, RendererOptions{})
}

// NewRendererWith returns a Renderer configured by ro; with a zero ro it is
// NewRenderer.
func NewRendererWith(engines map[string]paimeng.Engine, defaultEngine string, opt EncodeOptions, ro RendererOptions) *Renderer {
	m := make(map[string]paimeng.Engine, len(engines))
	for k, v := range engines {
		m[k] = v
	}
	r := &Renderer{engines: m, def: defaultEngine, opt: opt, ro: ro}
	if ro.EngineSlots > 0 {
		r.slots = make(chan struct{}, ro.EngineSlots)
	}
	return r
}

// Render implements paimeng.Renderer. Progress reports Stage "render" with
// frames done, then Stage "encode" while ffmpeg finishes.
func (r *Renderer) Render(ctx context.Context, in *RenderInput, progress func(p paimeng.Progress)) (*paimeng.Rendered, error) {
	if progress == nil {
		progress = func(paimeng.Progress) {}
	}
	img, _, err := DecodeImage(in.Image)
	if err != nil {
		return nil, err
	}
	var tail image.Image
	if len(in.Tail) > 0 {
		// A bad end frame is the member's to fix: keep DecodeImage's code.
		if tail, _, err = DecodeImage(in.Tail); err != nil {
			return nil, fmt.Errorf("media: end frame: %w", err)
		}
	}
	side, ok := paimeng.ResolutionSide(in.Resolution)
	if !ok {
		return nil, paimeng.Errorf(paimeng.EBadOption, "media: resolution %d is not 540, 720 or 1080", in.Resolution)
	}
	name := in.Engine
	if name == "" {
		name = r.def
	}
	eng, ok := r.engines[name]
	if !ok {
		return nil, paimeng.Errorf(paimeng.EUnknownEngine, "media: unknown engine %q", name)
	}
	gi := &paimeng.GenInput{
		Image: img, Prompt: in.Prompt, Seconds: in.Seconds, Seed: in.Seed, MaxSide: side,
		Shot: in.Shot, Tail: tail, FPS: in.FPS, Aspect: in.Aspect,
	}
	spec, err := eng.Plan(gi)
	if err != nil {
		return nil, engineErr(name, "plan", err)
	}
	if err := checkSpec(spec); err != nil {
		return nil, engineErr(name, "plan", err)
	}
	if err := os.MkdirAll(in.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("media: output dir: %w", err)
	}
	videoPath := filepath.Join(in.OutDir, VideoFile)
	posterPath := filepath.Join(in.OutDir, PosterFile)

	encCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	enc, err := NewEncoder(encCtx, spec, videoPath, encodeFor(r.opt, in.Mode))
	if err != nil {
		return nil, err
	}
	progress(paimeng.Progress{Stage: "render", Done: 0, Total: spec.Frames})
	renderProgress := func(done, total int) {
		progress(paimeng.Progress{Stage: "render", Done: done, Total: total})
	}
	var sink *posterSink
	if r.slots == nil {
		sink = &posterSink{dst: enc, want: spec.Frames / 2}
		err = eng.Generate(ctx, gi, sink, renderProgress)
		if err == nil && enc.Frames() != spec.Frames {
			err = fmt.Errorf("media: engine wrote %d frames, planned %d", enc.Frames(), spec.Frames)
		}
		if err != nil {
			enc.Abort()
		}
	} else {
		spool := newFrameSpool(enc, spec.FrameSize(), r.ro.SpoolMemory, in.OutDir)
		sink = &posterSink{dst: spool, want: spec.Frames / 2}
		err = r.generateInSlot(ctx, eng, gi, sink, renderProgress)
		if err == nil && sink.n != spec.Frames {
			err = fmt.Errorf("media: engine wrote %d frames, planned %d", sink.n, spec.Frames)
		}
		if err != nil {
			// Killing ffmpeg releases a feeder blocked on its pipe.
			cancel()
			spool.Abort()
			enc.Abort()
		} else {
			progress(paimeng.Progress{Stage: "encode", Done: 0, Total: 1})
			fed, ferr := spool.Finish()
			if ferr == nil && fed != sink.n {
				ferr = fmt.Errorf("media: encoder took %d of %d frames", fed, sink.n)
			}
			if ferr != nil {
				enc.Abort()
				os.Remove(videoPath)
				if cerr := ctx.Err(); cerr != nil {
					return nil, fmt.Errorf("media: render canceled: %w", errors.Join(cerr, ferr))
				}
				return nil, ferr
			}
		}
	}
	if err != nil {
		os.Remove(videoPath)
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, fmt.Errorf("media: render canceled: %w", err)
		}
		return nil, engineErr(name, "generate", err)
	}
	if r.slots == nil {
		progress(paimeng.Progress{Stage: "encode", Done: 0, Total: 1})
	}
	// The poster is written while ffmpeg finishes its last frames.
	posterErr := make(chan error, 1)
	go func() { posterErr <- Poster(posterPath, sink.poster, spec) }()
	if err := enc.Close(); err != nil {
		<-posterErr
		os.Remove(videoPath)
		os.Remove(posterPath)
		return nil, err
	}
	progress(paimeng.Progress{Stage: "encode", Done: 1, Total: 1})
	if err := <-posterErr; err != nil {
		return nil, err
	}
	st, err := os.Stat(videoPath)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &paimeng.Rendered{
		VideoPath:  videoPath,
		PosterPath: posterPath,
		Width:      spec.Width,
		Height:     spec.Height,
		Frames:     spec.Frames,
		Seconds:    float64(spec.Frames) / float64(spec.FPS),
		Bytes:      st.Size(),
	}, nil
}

// x264Presets lists libx264 presets from fastest to slowest.
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

// encodeFor returns the encoder options for a quality mode: pro uses at
// least the "medium" preset and a CRF two steps finer (18 with the default
// 20); std uses opt as configured.
func encodeFor(opt EncodeOptions, mode paimeng.Mode) EncodeOptions {
	if mode != paimeng.ModePro {
		return opt
	}
	opt = opt.withDefaults()
	if slices.Index(x264Presets, opt.Preset) < slices.Index(x264Presets, "medium") {
		opt.Preset = "medium"
	}
	opt.CRF = max(opt.CRF-2, 1)
	return opt
}

// RenderInput is paimeng.RenderInput, aliased for callers of this package.
type RenderInput = paimeng.RenderInput

// engineErr keeps an engine's own error code and marks anything else as an
// engine failure.
func engineErr(name, stage string, err error) error {
	var pe *paimeng.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("media: engine %s %s: %w", name, stage, err)
	}
	return fmt.Errorf("media: engine %s %s: %w", name, stage,
		errors.Join(paimeng.Errorf(paimeng.EEngineFailed, "engine %s failed", name), err))
}

// generateInSlot runs Generate holding one of the renderer's engine
// slots, waiting for a free one unless ctx ends first.
func (r *Renderer) generateInSlot(ctx context.Context, eng paimeng.Engine, gi *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.slots }()
	if err := ctx.Err(); err != nil {
		return err
	}
	return eng.Generate(ctx, gi, sink, progress)
}

// posterSink passes frames on and keeps a copy of one of them.
type posterSink struct {
	dst    paimeng.FrameSink
	want   int
	n      int
	poster []byte
}

func (s *posterSink) WriteFrame(f []byte) error {
	if s.n == s.want || (s.poster == nil && s.n == 0) {
		s.poster = append(s.poster[:0], f...)
	}
	s.n++
	return s.dst.WriteFrame(f)
}
