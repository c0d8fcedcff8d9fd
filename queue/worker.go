package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
	"github.com/redis/go-redis/v9"
)

// WorkerConfig configures a Worker. Workers hold no database and no chat
// tokens: Redis, the renderer and the blob store are all they need.
type WorkerConfig struct {
	Renderer paimeng.Renderer
	Blobs    paimeng.BlobStore
	Client   *asynq.Client         // enqueues job:finished events
	Redis    redis.UniversalClient // publishes progress; optional
	TempDir  string                // scratch space for renders; default os.TempDir()
	// ProgressEvery bounds how often progress is published per job; default 500ms.
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// Worker renders gen:video tasks.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker returns a Worker.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Renderer == nil || cfg.Blobs == nil || cfg.Client == nil {
		return nil, errors.New("queue: worker needs Renderer, Blobs and Client")
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{cfg: cfg, log: log}, nil
}

// Register adds the worker's handlers to mux.
func (w *Worker) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeGenVideo, w.ProcessTask)
}

// ProcessTask handles one gen:video attempt. It is idempotent on the job
// id: a job whose video is already in the blob store is not rendered again.
func (w *Worker) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p GenPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		// A payload we cannot read will never get better.
		return fmt.Errorf("queue: bad gen payload: %v: %w", err, asynq.SkipRetry)
	}
	log := w.log.With("job_id", p.JobID)
	start := time.Now()

	out, err := w.run(ctx, p)
	if err == nil {
		out.Seconds = float64(p.Seconds)
		if err := w.finish(ctx, out); err != nil {
			return err
		}
		log.Info("job rendered", "elapsed", time.Since(start).Round(time.Millisecond), "bytes", out.Bytes, "frames", out.Frames)
		return nil
	}
	if ctx.Err() != nil {
		// Shutdown or task timeout: let asynq retry it.
		log.Warn("job interrupted", "err", err)
		if last(ctx) {
			return w.fail(ctx, p.JobID, paimeng.EJobTimeout, err)
		}
		return err
	}
	code := paimeng.ErrorCode(err)
	if !paimeng.Retryable(code) || last(ctx) {
		log.Warn("job failed", "code", code, "err", err)
		return w.fail(ctx, p.JobID, code, err)
	}
	log.Warn("job attempt failed; will retry", "code", code, "err", err)
	return err
}

// last reports whether this is the task's final attempt.
func last(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	max, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= max
}

func (w *Worker) fail(ctx context.Context, jobID, code string, cause error) error {
	o := paimeng.Outcome{JobID: jobID, OK: false, ErrorCode: code, ErrorDetail: trim(cause.Error(), 500)}
	if err := w.finish(context.WithoutCancel(ctx), o); err != nil {
		return err
	}
	return fmt.Errorf("queue: job %s: %w: %w", jobID, cause, asynq.SkipRetry)
}

func (w *Worker) finish(ctx context.Context, o paimeng.Outcome) error {
	t, err := newFinishedTask(o)
	if err != nil {
		return err
	}
	if _, err := w.cfg.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: enqueue finished event for %s: %w", o.JobID, err)
	}
	return nil
}

func (w *Worker) run(ctx context.Context, p GenPayload) (paimeng.Outcome, error) {
	out := paimeng.Outcome{JobID: p.JobID, OK: true, VideoKey: VideoKey(p.JobID), PosterKey: PosterKey(p.JobID)}
	// An earlier attempt may have uploaded the result and died before
	// reporting it.
	if f := w.cfg.Blobs.Path(out.VideoKey); f != "" {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			if pf := w.cfg.Blobs.Path(out.PosterKey); pf != "" {
				if _, err := os.Stat(pf); err == nil {
					out.Bytes = st.Size()
					return out, nil
				}
			}
		}
	}

	img, err := w.readImage(ctx, p.ImageKey, "input image")
	if err != nil {
		return out, err
	}
	var tail []byte
	if p.TailKey != "" {
		if tail, err = w.readImage(ctx, p.TailKey, "end frame"); err != nil {
			return out, err
		}
	}

	dir, err := os.MkdirTemp(w.cfg.TempDir, "paimeng-"+p.JobID+"-")
	if err != nil {
		return out, fmt.Errorf("queue: %w", err)
	}
	defer os.RemoveAll(dir)

	pub := w.progress(p.JobID)
	r, err := w.cfg.Renderer.Render(ctx, &paimeng.RenderInput{
		Image: img, Prompt: p.Prompt, Seconds: p.Seconds, Seed: p.Seed, Engine: p.Engine, Mode: p.Mode, OutDir: dir,
		Shot: p.Shot, Tail: tail, FPS: p.FPS, Resolution: p.Resolution, Aspect: p.Aspect,
	}, pub)
	if err != nil {
		return out, err
	}
	pub(paimeng.Progress{JobID: p.JobID, Stage: "upload", Done: 0, Total: 1})
	// Poster first: the video's presence marks a complete upload.
	if err := putFile(ctx, w.cfg.Blobs, out.PosterKey, r.PosterPath); err != nil {
		return out, err
	}
	if err := putFile(ctx, w.cfg.Blobs, out.VideoKey, r.VideoPath); err != nil {
		return out, err
	}
	out.Frames = r.Frames
	out.Bytes = r.Bytes
	return out, nil
}

// readImage reads a member's image from the blob store; a missing one is
// ENoImage, since trying again will not bring it back.
func (w *Worker) readImage(ctx context.Context, key, what string) ([]byte, error) {
	rc, err := w.cfg.Blobs.Open(ctx, key)
	if err != nil {
		if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
			return nil, paimeng.Errorf(paimeng.ENoImage, "%s %s is gone", what, key)
		}
		return nil, fmt.Errorf("queue: open %s: %w", what, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, paimeng.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("queue: read %s: %w", what, err)
	}
	return b, nil
}

func putFile(ctx context.Context, b paimeng.BlobStore, key, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	if err := b.Put(ctx, key, f); err != nil {
		return fmt.Errorf("queue: upload %s: %w", key, err)
	}
	return nil
}

// progress returns a throttled publisher for one job's progress.
func (w *Worker) progress(jobID string) func(paimeng.Progress) {
	if w.cfg.Redis == nil {
		return func(paimeng.Progress) {}
	}
	var (
		mu        sync.Mutex
		lastSent  time.Time
		lastStage string
	)
	return func(p paimeng.Progress) {
		mu.Lock()
		now := time.Now()
		done := p.Total > 0 && p.Done >= p.Total
		if p.Stage == lastStage && !done && now.Sub(lastSent) < w.cfg.ProgressEvery {
			mu.Unlock()
			return
		}
		lastSent, lastStage = now, p.Stage
		mu.Unlock()
		b, _ := json.Marshal(ProgressEvent{JobID: jobID, Stage: p.Stage, Done: p.Done, Total: p.Total})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := w.cfg.Redis.Publish(ctx, ProgressChannel, b).Err(); err != nil {
			w.log.Debug("progress publish failed", "job_id", jobID, "err", err)
		}
	}
}

// trim shortens s to at most n bytes of valid UTF-8.
func trim(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
