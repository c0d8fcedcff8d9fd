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
	Undelivered(ctx context.Context, finishedBefore time.Time, limit int) ([]*paimeng.Job, error)
}

// Pricing returns the credits a clip costs.
type Pricing func(engine string, seconds int) int64

// PerFiveSeconds prices clips at price credits per started 5 seconds.
func PerFiveSeconds(price int64) Pricing {
	return func(_ string, seconds int) int64 {
		return price * int64((seconds+4)/5)
	}
}

// SubmitterConfig configures a Submitter. The zero value of each optional
// field is a sensible default.
type SubmitterConfig struct {
	Store   Store
	Client  *asynq.Client
	Blobs   paimeng.BlobStore
	Pricing Pricing // default PerFiveSeconds(10)
	// CheckImage validates the image bytes against the media limits
	// without decoding the pixels. Required.
	CheckImage func(data []byte) error
	// Engines lists the accepted engine names; the first is the default.
	Engines []string
	Task    TaskOptions
	Logger  *slog.Logger
}

// Submitter validates requests, holds their price and enqueues them.
type Submitter struct {
	cfg SubmitterConfig
	log *slog.Logger
}

var _ paimeng.Submitter = (*Submitter)(nil)

// NewSubmitter returns a Submitter.
func NewSubmitter(cfg SubmitterConfig) (*Submitter, error) {
	if cfg.Store == nil || cfg.Client == nil || cfg.Blobs == nil || cfg.CheckImage == nil {
		return nil, errors.New("queue: submitter needs Store, Client, Blobs and CheckImage")
	}
	if cfg.Pricing == nil {
		cfg.Pricing = PerFiveSeconds(10)
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

// Price returns what a request would cost.
func (s *Submitter) Price(engine string, seconds int) int64 {
	if engine == "" {
		engine = s.cfg.Engines[0]
	}
	if seconds == 0 {
		seconds = 5
	}
	return s.cfg.Pricing(engine, seconds)
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
	switch req.Seconds {
	case 0, 5, 10:
	default:
		return paimeng.Errorf(paimeng.EBadOption, "seconds must be 5 or 10, not %d", req.Seconds)
	}
	if req.Seed < 0 {
		return paimeng.Errorf(paimeng.EBadOption, "seed must not be negative")
	}
	if req.Engine != "" && !s.knownEngine(req.Engine) {
		return paimeng.Errorf(paimeng.EUnknownEngine, "unknown engine %q", req.Engine)
	}
	return s.cfg.CheckImage(req.Image)
}

func (s *Submitter) knownEngine(name string) bool {
	for _, e := range s.cfg.Engines {
		if e == name {
			return true
		}
	}
	return false
}

// Submit validates req, holds its price, writes the job row and enqueues
// the task. Submitting the same idempotency key again returns the first
// job and charges nothing. If Redis is unreachable the job stays queued in
// the database and the reconciler enqueues it later.
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
	seed := req.Seed
	if seed == 0 {
		seed = randomSeed()
	}
	id := paimeng.NewJobID()
	job := &paimeng.Job{
		ID:       id,
		Identity: req.Identity,
		Lang:     req.Lang,
		Prompt:   strings.TrimSpace(req.Prompt),
		Seconds:  seconds,
		Seed:     seed,
		Engine:   engine,
		Price:    s.cfg.Pricing(engine, seconds),
		ImageKey: imageKey(id),
		Reply:    req.Reply,
	}
	// The image goes first: a job row must never point at a missing blob.
	if err := s.cfg.Blobs.Put(ctx, job.ImageKey, bytes.NewReader(req.Image)); err != nil {
		return nil, fmt.Errorf("queue: store image: %w", err)
	}
	j, created, err := s.cfg.Store.CreateJob(ctx, job, req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	log := s.log.With("job_id", j.ID, "user", req.Identity.String(), "platform", string(req.Identity.Platform))
	if !created {
		return j, nil
	}
	if err := s.enqueue(ctx, j); err != nil {
		log.Warn("enqueue failed; the reconciler will retry", "err", err)
	} else {
		log.Info("job queued", "price", j.Price, "seconds", j.Seconds, "engine", j.Engine)
	}
	return j, nil
}

func (s *Submitter) enqueue(ctx context.Context, j *paimeng.Job) error {
	return enqueueGen(ctx, s.cfg.Client, j, s.cfg.Task)
}

func enqueueGen(ctx context.Context, c *asynq.Client, j *paimeng.Job, o TaskOptions) error {
	t, err := newGenTask(genPayloadFromJob(j), o)
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
