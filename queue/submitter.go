package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
)

// Store is the part of the credit store the queue needs. credits.Store
// implements it.
type Store interface {
	JobByIdempotencyKey(ctx context.Context, key string) (*paimeng.Job, error)
	CreateJob(ctx context.Context, job *paimeng.Job, idemKey string) (*paimeng.Job, bool, error)
	Job(ctx context.Context, id string) (*paimeng.Job, error)
	MarkRunning(ctx context.Context, id string) (bool, error)
	FinishJob(ctx context.Context, o paimeng.Outcome) (*paimeng.Job, bool, error)
	MarkDelivered(ctx context.Context, id string) (bool, error)
	JobsByStatus(ctx context.Context, status paimeng.JobStatus, createdBefore time.Time, limit int) ([]*paimeng.Job, error)
	DispatchedQueued(ctx context.Context, createdBefore time.Time, limit int) ([]*paimeng.Job, error)
	Undelivered(ctx context.Context, finishedBefore time.Time, limit int) ([]*paimeng.Job, error)
}

// SubmitterConfig configures a Submitter. The zero value of each optional
// field is a sensible default.
type SubmitterConfig struct {
	Store  Store
	Blobs  paimeng.BlobStore
	Prices *paimeng.Prices // default paimeng.NewPrices(10)
	// CheckImage validates the image bytes against the media limits
	// without decoding the pixels. Required.
	CheckImage func(data []byte) error
	// CheckPrompt is the moderation check, run on the prompt after the
	// other checks; its error (EPromptBlocked) is returned as is. Optional.
	CheckPrompt func(prompt string) error
	// Kick wakes the dispatcher after a job is written. Optional: without
	// it the dispatcher finds the job on its next tick.
	Kick func()
	// Shot reads the camera words of a prompt into a camera script.
	// Optional: without it a prompt gives the zero Shot (the engine's
	// default move) unless the request has a Camera control.
	Shot func(prompt string) paimeng.Shot
	// Engines lists the accepted engine names; the first is the default.
	Engines []string
	Logger  *slog.Logger
}

// Submitter validates requests, holds their price and writes them as
// queued jobs; the Dispatcher hands them to the workers.
type Submitter struct {
	cfg SubmitterConfig
	log *slog.Logger
}

var _ paimeng.Submitter = (*Submitter)(nil)

// NewSubmitter returns a Submitter.
func NewSubmitter(cfg SubmitterConfig) (*Submitter, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.CheckImage == nil {
		return nil, errors.New("queue: submitter needs Store, Blobs and CheckImage")
	}
	if cfg.Prices == nil {
		cfg.Prices = paimeng.NewPrices(10)
	}
	if len(cfg.Engines) == 0 {
		cfg.Engines = []string{"camera"}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Submitter{cfg: cfg, log: log}, nil
}

// Price returns what a clip would cost. Zero values mean the default
// engine, std, 5 seconds and the fast lane.
func (s *Submitter) Price(engine string, mode paimeng.Mode, seconds int, lane paimeng.Lane) (int64, error) {
	if engine == "" {
		engine = s.cfg.Engines[0]
	} else if !s.knownEngine(engine) {
		return 0, paimeng.Errorf(paimeng.EUnknownEngine, "unknown engine %q", engine)
	}
	return s.cfg.Prices.Price(engine, mode, seconds, lane)
}

// Validate checks a request without touching credits or the queue.
func (s *Submitter) Validate(req *paimeng.Request) error {
	if req.Identity.IsZero() {
		return paimeng.Errorf(paimeng.EINVALID, "request without identity")
	}
	if req.IdempotencyKey == "" {
		return paimeng.Errorf(paimeng.EINVALID, "request without idempotency key")
	}
	if len(req.Image) == 0 {
		return paimeng.Errorf(paimeng.ENoImage, "no image")
	}
	if utf8.RuneCountInString(req.Prompt) > paimeng.MaxPromptRunes {
		return paimeng.Errorf(paimeng.EPromptTooLong, "prompt has %d characters, limit %d", utf8.RuneCountInString(req.Prompt), paimeng.MaxPromptRunes)
	}
	if !utf8.ValidString(req.Prompt) {
		return paimeng.Errorf(paimeng.EINVALID, "prompt is not UTF-8")
	}
	// The price table knows which durations, modes and lanes exist.
	if _, err := s.cfg.Prices.Price(s.cfg.Engines[0], req.Mode, req.Seconds, req.Lane); err != nil {
		return err
	}
	if req.Seed < 0 {
		return paimeng.Errorf(paimeng.EBadOption, "seed must not be negative")
	}
	if req.Engine != "" && !s.knownEngine(req.Engine) {
		return paimeng.Errorf(paimeng.EUnknownEngine, "unknown engine %q", req.Engine)
	}
	if err := req.Camera.Validate(); err != nil {
		return err
	}
	if err := paimeng.CheckVideoOptions(req.FPS, req.Resolution, req.Aspect); err != nil {
		return err
	}
	if err := s.cfg.CheckImage(req.Image); err != nil {
		return err
	}
	if len(req.Tail) > 0 {
		if err := s.cfg.CheckImage(req.Tail); err != nil {
			return fmt.Errorf("queue: end frame: %w", err)
		}
	}
	if s.cfg.CheckPrompt != nil {
		return s.cfg.CheckPrompt(req.Prompt)
	}
	return nil
}

func (s *Submitter) knownEngine(name string) bool {
	for _, e := range s.cfg.Engines {
		if e == name {
			return true
		}
	}
	return false
}

// Submit validates req, holds its price and writes the job row as queued;
// the Dispatcher hands it to the workers when its turn comes. Submitting
// the same idempotency key again returns the first job and charges
// nothing.
func (s *Submitter) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	if err := s.Validate(req); err != nil {
		return nil, err
	}
	if j, err := s.cfg.Store.JobByIdempotencyKey(ctx, req.IdempotencyKey); err == nil {
		return j, nil
	} else if paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
		return nil, fmt.Errorf("queue: submit: %w", err)
	}

	seconds := req.Seconds
	if seconds == 0 {
		seconds = 5
	}
	engine := req.Engine
	if engine == "" {
		engine = s.cfg.Engines[0]
	}
	mode, lane := req.Mode, req.Lane
	if mode == "" {
		mode = paimeng.ModeStd
	}
	if lane == "" {
		lane = paimeng.LaneFast
	}
	price, err := s.cfg.Prices.Price(engine, mode, seconds, lane)
	if err != nil {
		return nil, err
	}
	seed := req.Seed
	if seed == 0 {
		seed = randomSeed()
	}
	fps := req.FPS
	if fps == 0 {
		fps = paimeng.DefaultFPS
	}
	prompt := strings.TrimSpace(req.Prompt)
	id := paimeng.NewJobID()
	job := &paimeng.Job{
		ID:          id,
		Identity:    req.Identity,
		Lang:        req.Lang,
		Prompt:      prompt,
		Seconds:     seconds,
		Seed:        seed,
		Engine:      engine,
		Mode:        mode,
		Lane:        lane,
		Price:       price,
		Shot:        s.shot(req, prompt),
		FPS:         fps,
		Resolution:  req.Resolution,
		Aspect:      req.Aspect,
		DisplayName: req.DisplayName,
		ImageKey:    imageKey(id),
		Reply:       req.Reply,
	}
	if len(req.Tail) > 0 {
		job.TailKey = tailKey(id)
	}
	// The images go first: a job row must never point at a missing blob.
	if err := s.cfg.Blobs.Put(ctx, job.ImageKey, bytes.NewReader(req.Image)); err != nil {
		return nil, fmt.Errorf("queue: store image: %w", err)
	}
	if job.TailKey != "" {
		if err := s.cfg.Blobs.Put(ctx, job.TailKey, bytes.NewReader(req.Tail)); err != nil {
			s.dropImage(job.ImageKey)
			return nil, fmt.Errorf("queue: store end frame: %w", err)
		}
	}
	j, created, err := s.cfg.Store.CreateJob(ctx, job, req.IdempotencyKey)
	if err != nil || !created {
		// Refused (short balance, too many jobs, banned…) or a concurrent
		// submit of the same key won: no job points at this image.
		if j == nil || j.ImageKey != job.ImageKey {
			s.dropImage(job.ImageKey)
			if job.TailKey != "" {
				s.dropImage(job.TailKey)
			}
		}
		if err != nil {
			return nil, err
		}
		return j, nil
	}
	s.log.Info("job queued", "job_id", j.ID, "user", req.Identity.String(), "platform", string(req.Identity.Platform),
		"price", j.Price, "seconds", j.Seconds, "engine", j.Engine, "mode", j.Mode, "lane", j.Lane,
		"shot", j.Shot.String(), "fps", j.FPS, "resolution", j.Resolution, "aspect", string(j.Aspect), "tail", j.TailKey != "")
	if s.cfg.Kick != nil {
		s.cfg.Kick()
	}
	return j, nil
}

// shot returns the camera script of a request: its Shot as it is when set
// (a rerun), otherwise the prompt's camera words with Camera, when set,
// in place of their moves.
func (s *Submitter) shot(req *paimeng.Request, prompt string) paimeng.Shot {
	if req.Shot != nil {
		return *req.Shot
	}
	var sh paimeng.Shot
	if s.cfg.Shot != nil {
		sh = s.cfg.Shot(prompt)
	}
	return sh.WithControl(req.Camera)
}

// blobDeleter is a BlobStore that can remove a blob.
type blobDeleter interface {
	Delete(ctx context.Context, key string) error
}

// dropImage removes an input image or end frame of a job that was never
// written, when the blob store can delete.
func (s *Submitter) dropImage(key string) {
	d, ok := s.cfg.Blobs.(blobDeleter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Delete(ctx, key); err != nil {
		s.log.Warn("could not remove unused input image", "key", key, "err", err)
	}
}

func enqueueGen(ctx context.Context, c *asynq.Client, j *paimeng.Job, o TaskOptions) error {
	t, err := newGenTask(j, o)
	if err != nil {
		return err
	}
	_, err = c.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: enqueue %s: %w", j.ID, err)
	}
	return nil
}

func randomSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	// Small enough to type back: 1..2^31-1.
	return int64(binary.LittleEndian.Uint32(b[:])&0x7fffffff) | 1
}
