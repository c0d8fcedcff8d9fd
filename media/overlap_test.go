package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
)

// recordSink keeps every frame it is given, optionally slowly, and fails
// at frame failAt (when > 0).
type recordSink struct {
	delay  time.Duration
	failAt int
	frames [][]byte
}

func (s *recordSink) WriteFrame(f []byte) error {
	if s.failAt > 0 && len(s.frames) == s.failAt {
		return errors.New("sink failed")
	}
	time.Sleep(s.delay)
	s.frames = append(s.frames, bytes.Clone(f))
	return nil
}

func numberedFrame(i, size int) []byte {
	f := make([]byte, size)
	for j := range f {
		f[j] = byte(i*7 + j)
	}
	return f
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// The spool keeps the frames in order through memory, the spill file and
// back to memory once the file has drained, and removes the file.
func TestFrameSpoolOrder(t *testing.T) {
	const size, n = 1000, 60
	dir := t.TempDir()
	dst := &recordSink{delay: time.Millisecond}
	s := newFrameSpool(dst, size, 3*size, dir)
	var wrote time.Duration
	for i := range n {
		f := numberedFrame(i, size)
		start := time.Now()
		if err := s.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		wrote += time.Since(start)
		if i == 40 {
			// Let the feeder catch up so later frames go to memory again.
			time.Sleep(80 * time.Millisecond)
		}
	}
	if len(entries(t, dir)) != 1 {
		t.Errorf("no spill file while frames wait: %v", entries(t, dir))
	}
	fed, err := s.Finish()
	if err != nil || fed != n {
		t.Fatalf("finish: %d frames, %v", fed, err)
	}
	for i, f := range dst.frames {
		if !bytes.Equal(f, numberedFrame(i, size)) {
			t.Fatalf("frame %d out of order", i)
		}
	}
	if left := entries(t, dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	t.Logf("WriteFrame took %v for %d frames; the sink took ≥ %v", wrote, n, time.Duration(n)*dst.delay)
	if err := s.WriteFrame(numberedFrame(0, size)); err == nil {
		t.Error("frame accepted after Finish")
	}
}

// A failing destination fails the engine's next frame and Finish.
func TestFrameSpoolSinkFailure(t *testing.T) {
	const size = 100
	dst := &recordSink{failAt: 5}
	s := newFrameSpool(dst, size, 2*size, t.TempDir())
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = s.WriteFrame(numberedFrame(i, size))
		time.Sleep(time.Millisecond)
	}
	if err == nil || err.Error() != "sink failed" {
		t.Errorf("write after sink failure: %v", err)
	}
	if _, err := s.Finish(); err == nil {
		t.Error("finish after sink failure: no error")
	}
}

// timedEngine's Generate takes d: it spreads its frames over d and returns
// at d. It records when its runs start and end.
type timedEngine struct {
	d             time.Duration
	frames        int
	width, height int
	block         chan struct{} // when set, Generate waits for it (or ctx)
	fail          error         // when set, Generate fails at frame 10

	mu        sync.Mutex
	active    int
	maxActive int
	runs      [][2]time.Time
}

func (e *timedEngine) Name() string { return "timed" }

func (e *timedEngine) Plan(*paimeng.GenInput) (paimeng.VideoSpec, error) {
	return paimeng.VideoSpec{Width: e.width, Height: e.height, FPS: 24, Frames: e.frames, PixFmt: paimeng.PixYUV420P}, nil
}

func (e *timedEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(int, int)) error {
	start := time.Now()
	e.mu.Lock()
	e.active++
	e.maxActive = max(e.maxActive, e.active)
	e.mu.Unlock()
	defer func() {
		end := time.Now()
		e.mu.Lock()
		e.active--
		e.runs = append(e.runs, [2]time.Time{start, end})
		e.mu.Unlock()
	}()
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	spec, _ := e.Plan(in)
	f := make([]byte, spec.FrameSize())
	for i := range spec.Frames {
		if e.fail != nil && i == 10 {
			return e.fail
		}
		for j := range f {
			f[j] = byte(j%spec.Width + 2*i)
		}
		if err := sink.WriteFrame(f); err != nil {
			return err
		}
		progress(i+1, spec.Frames)
		if d := time.Until(start.Add(e.d * time.Duration(i+1) / time.Duration(spec.Frames))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// With one engine slot and three renders at a time, a backlog of K jobs
// keeps the engine busy: K jobs of engine time T finish in K·T plus about
// one encode, not K·(T + encode).
func TestRendererBacklogOverlap(t *testing.T) {
	const (
		K       = 6
		T       = 400 * time.Millisecond
		callers = 3
	)
	eng := &timedEngine{d: T, frames: 48, width: 320, height: 180}
	r := NewRendererWith(map[string]paimeng.Engine{"timed": eng}, "timed", EncodeOptions{Preset: "ultrafast"}, RendererOptions{EngineSlots: 1})
	src := pngBytes(t, 320, 180)
	base := t.TempDir()

	jobs := make(chan int, K)
	for i := range K {
		jobs <- i
	}
	close(jobs)
	errs := make(chan error, K)
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for i := range jobs {
				res, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: filepath.Join(base, fmt.Sprint(i))}, nil)
				if err == nil && res.Frames != eng.frames {
					err = fmt.Errorf("job %d: %d frames", i, res.Frames)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	span := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// The same clip with an engine that takes no time: decode, encoder
	// start, encode and poster, on this machine now.
	peer := &timedEngine{frames: eng.frames, width: eng.width, height: eng.height}
	pr := NewRendererWith(map[string]paimeng.Engine{"timed": peer}, "timed", EncodeOptions{Preset: "ultrafast"}, RendererOptions{EngineSlots: 1})
	encStart := time.Now()
	if _, err := pr.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: filepath.Join(base, "peer")}, nil); err != nil {
		t.Fatal(err)
	}
	encode := time.Since(encStart)

	info, err := Probe(filepath.Join(base, "0", VideoFile))
	if err != nil || info.Frames != eng.frames {
		t.Errorf("probe: %+v, %v", info, err)
	}
	for i := range K {
		if left := entries(t, filepath.Join(base, fmt.Sprint(i))); len(left) != 2 {
			t.Errorf("job %d left %v", i, left)
		}
	}

	eng.mu.Lock()
	runs, maxActive := eng.runs, eng.maxActive
	eng.mu.Unlock()
	if len(runs) != K {
		t.Fatalf("%d engine runs, want %d", len(runs), K)
	}
	first, last := runs[0][0], runs[0][1]
	var busy time.Duration
	for _, run := range runs {
		busy += run[1].Sub(run[0])
		if run[0].Before(first) {
			first = run[0]
		}
		if run[1].After(last) {
			last = run[1]
		}
	}
	frac := float64(busy) / float64(last.Sub(first))
	bound := K*T*105/100 + encode
	t.Logf("K=%d T=%v: span %v, bound %v (1.05·K·T + one encode of %v); without overlap K·(T+encode) ≈ %v",
		K, T, span.Round(time.Millisecond), bound.Round(time.Millisecond), encode.Round(time.Millisecond),
		(time.Duration(K) * (T + encode)).Round(time.Millisecond))
	t.Logf("engine busy %.1f%% of %v between its first start and last end; at most %d Generate at once",
		100*frac, last.Sub(first).Round(time.Millisecond), maxActive)
	if span > bound {
		t.Errorf("backlog took %v, more than %v", span, bound)
	}
	if maxActive != 1 {
		t.Errorf("%d engine runs overlapped, want at most 1", maxActive)
	}
	if frac < 0.95 {
		t.Errorf("engine busy %.1f%% of the time, want ≥ 95%%", 100*frac)
	}
}

// With engine slots, a render still ends cleanly on engine failure,
// cancellation and a failing encoder, and frames spilled to disk reach the
// video in full.
func TestRendererSlotsErrors(t *testing.T) {
	src := pngBytes(t, 320, 180)
	boom := errors.New("boom")
	timed := func(fail error) map[string]paimeng.Engine {
		return map[string]paimeng.Engine{"timed": &timedEngine{frames: 48, width: 320, height: 180, fail: fail}}
	}
	// Room for two frames in memory: the rest go through the file.
	ro := RendererOptions{EngineSlots: 1, SpoolMemory: 2 * 320 * 180 * 3 / 2}

	r := NewRendererWith(timed(nil), "timed", EncodeOptions{Preset: "ultrafast"}, ro)
	dir := t.TempDir()
	var stages []string
	res, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: dir}, func(p paimeng.Progress) {
		if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
			stages = append(stages, p.Stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := Probe(res.VideoPath); err != nil || info.Frames != 48 {
		t.Errorf("probe %+v: %v", info, err)
	}
	if fmt.Sprint(stages) != "[render encode]" {
		t.Errorf("stages %v", stages)
	}
	if left := entries(t, dir); len(left) != 2 {
		t.Errorf("left %v, want the video and poster", left)
	}

	r = NewRendererWith(timed(boom), "timed", EncodeOptions{}, ro)
	dir = t.TempDir()
	_, err = r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: dir}, nil)
	if paimeng.ErrorCode(err) != paimeng.EEngineFailed || !errors.Is(err, boom) {
		t.Errorf("engine failure: %v (%s)", err, paimeng.ErrorCode(err))
	}
	if left := entries(t, dir); len(left) != 0 {
		t.Errorf("engine failure left %v", left)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = r.Render(ctx, &paimeng.RenderInput{Image: src, OutDir: dir}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	// Canceled while waiting for the slot another render holds.
	blocked := &timedEngine{frames: 4, width: 64, height: 64, block: make(chan struct{})}
	r = NewRendererWith(map[string]paimeng.Engine{"timed": blocked}, "timed", EncodeOptions{}, RendererOptions{EngineSlots: 1})
	holder := make(chan error, 1)
	go func() {
		_, err := r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: t.TempDir()}, nil)
		holder <- err
	}()
	for {
		blocked.mu.Lock()
		a := blocked.active
		blocked.mu.Unlock()
		if a == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	dir = t.TempDir()
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err = r.Render(ctx, &paimeng.RenderInput{Image: src, OutDir: dir}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("canceled in the slot queue: %v", err)
	}
	if left := entries(t, dir); len(left) != 0 {
		t.Errorf("cancel left %v", left)
	}
	close(blocked.block)
	if err := <-holder; err != nil {
		t.Errorf("slot holder: %v", err)
	}

	// ffmpeg fails while frames are spilled.
	r = NewRendererWith(timed(nil), "timed", EncodeOptions{FFmpeg: "false"}, ro)
	dir = t.TempDir()
	if _, err = r.Render(context.Background(), &paimeng.RenderInput{Image: src, OutDir: dir}, nil); err == nil {
		t.Error("failing encoder: no error")
	}
	if left := entries(t, dir); len(left) != 0 {
		t.Errorf("failing encoder left %v", left)
	}
}
