// Package paimeng holds the domain types shared by every part of the
// service: requests, jobs, identities, error codes and the few interfaces
// that front ends, the queue, the credit store and the engines meet at.
//
// Subpackages depend on this package and on their own third-party library,
// never on each other; cmd/paimeng wires them together.
package paimeng

import (
	"context"
	"io"
	"strings"
	"time"
)

// Platform names a front end.
type Platform string

// Known platforms.
const (
	PlatformWeb      Platform = "web"
	PlatformTelegram Platform = "telegram"
	PlatformDiscord  Platform = "discord"
	PlatformWeChat   Platform = "wechat"
)

// Identity is one user on one platform, written "platform:user id"
// (telegram:12345, web:alice).
type Identity struct {
	Platform Platform
	UserID   string
}

func (i Identity) String() string { return string(i.Platform) + ":" + i.UserID }

// IsZero reports whether the identity is unset.
func (i Identity) IsZero() bool { return i.Platform == "" || i.UserID == "" }

// ParseIdentity parses "platform:user id".
func ParseIdentity(s string) (Identity, error) {
	p, u, ok := strings.Cut(s, ":")
	if !ok || p == "" || u == "" {
		return Identity{}, Errorf(EINVALID, "identity %q is not platform:user", s)
	}
	return Identity{Platform: Platform(p), UserID: u}, nil
}

// Lang is a user-facing language: "zh" or "en".
type Lang string

// Languages for user-facing text.
const (
	LangZH Lang = "zh"
	LangEN Lang = "en"
)

// LangFromCode maps a platform language code (zh-hans, en-US, zh_CN…) to a
// Lang, falling back to Chinese.
func LangFromCode(code string) Lang {
	c := strings.ToLower(code)
	if strings.HasPrefix(c, "en") {
		return LangEN
	}
	return LangZH
}

// Limits on what a member can send.
const (
	MaxPromptRunes = 2500
	MaxImageBytes  = 20 << 20
	MaxImagePixels = 40_000_000
	MinImageSide   = 64
)

// Request is one /gen as a front end parsed it.
type Request struct {
	Identity    Identity
	DisplayName string // shown on leaderboards; optional
	Lang        Lang

	// IdempotencyKey is unique per platform message (telegram:<bot>:<chat>:<msg>).
	// Submitting the same key twice returns the first job and charges once.
	IdempotencyKey string

	Image  []byte // the still image as sent (JPEG, PNG or WebP)
	Prompt string

	Seconds int    // clip length; 0 means the default (5)
	Seed    int64  // 0 means pick one
	Engine  string // "" means the default engine
	Mode    Mode   // "" means std
	Lane    Lane   // "" means fast

	// Camera is an explicit Kling-style camera control; when set it
	// replaces the camera moves read from the prompt (shake and fades in
	// the prompt still apply).
	Camera *CameraControl
	// Shot, when set, is used as the camera script as it is, without
	// reading the prompt or Camera (a rerun of an earlier job).
	Shot *Shot
	// Tail is an optional end frame (Kling's image_tail): the clip travels
	// from Image to Tail with a matched camera move and a cross-dissolve.
	Tail       []byte
	FPS        int    // 0 means 24; 24 or 30
	Resolution int    // 0 means the engine default; 540, 720 or 1080 (see ResolutionSide)
	Aspect     Aspect // "" keeps the picture's shape; 16:9, 9:16, 1:1 letterbox
	// NegativePrompt is accepted for Kling compatibility; the camera
	// engine ignores it and front ends say so.
	NegativePrompt string

	// Reply is opaque, front-end specific state needed to answer later
	// (chat id, message id, language…). Stored with the job as-is.
	Reply []byte
}

// JobStatus is where a job is in its life.
type JobStatus string

// Job states. queued → running → succeeded | failed; queued → canceled.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCanceled  JobStatus = "canceled"
)

// Final reports whether no further change can happen to the job's outcome.
func (s JobStatus) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCanceled
}

// Job is one generation, as stored in the database.
type Job struct {
	ID        string // short, unguessable; also the asynq task id
	AccountID int64
	Identity  Identity
	Lang      Lang
	Status    JobStatus

	Prompt  string
	Seconds int
	Seed    int64
	Engine  string
	Mode    Mode
	Lane    Lane
	Price   int64 // credits held at submit
	HoldID  int64
	Private bool // hidden from the public gallery

	// Shot is the camera script the engine renders: the prompt's camera
	// words, or Camera when the request had one.
	Shot       Shot
	FPS        int    // 24 or 30
	Resolution int    // 0, 540, 720 or 1080
	Aspect     Aspect // "" or a letterbox shape

	// DisplayName is the member's name as the front end saw it at submit;
	// written to the identity, not to the job.
	DisplayName string

	ImageKey  string // blob key of the input image
	TailKey   string // blob key of the end frame; "" when none
	VideoKey  string // blob key of the MP4, once succeeded
	PosterKey string // blob key of the JPEG poster, once succeeded

	ErrorCode   string // error code when failed
	ErrorDetail string // operator-facing detail; never shown to members

	Reply []byte // front-end state, see Request.Reply

	CreatedAt    time.Time
	DispatchedAt *time.Time // handed to the workers (fair-share queue)
	StartedAt    *time.Time
	FinishedAt   *time.Time
	DeliveredAt  *time.Time
}

// Account is a wallet. Several identities may share one.
type Account struct {
	ID        int64
	Balance   int64
	Banned    bool
	BanReason string
	CreatedAt time.Time
}

// Progress is how far a running job is.
type Progress struct {
	JobID string
	Stage string // "render", "encode", "upload"
	Done  int
	Total int
}

// Fraction returns progress in [0, 1].
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	f := float64(p.Done) / float64(p.Total)
	if f > 1 {
		f = 1
	}
	if f < 0 {
		f = 0
	}
	return f
}

// Outcome is what a worker reports when it is done with a job.
type Outcome struct {
	JobID       string
	OK          bool
	VideoKey    string
	PosterKey   string
	ErrorCode   string
	ErrorDetail string
	Frames      int
	Seconds     float64
	Bytes       int64
}

// Submitter turns a request into a queued job: it validates the request,
// holds the price, writes the job row and enqueues the work.
type Submitter interface {
	Submit(ctx context.Context, req *Request) (*Job, error)
}

// JobService reads jobs for front ends.
type JobService interface {
	Job(ctx context.Context, id string) (*Job, error)
	// QueuePosition is the number of queued jobs ahead of this one plus
	// one; zero once the job has started.
	QueuePosition(ctx context.Context, id string) (int, error)
	// SetReply replaces the front-end state stored with a job.
	SetReply(ctx context.Context, id string, reply []byte) error
}

// AccountService reads wallets. Account creates the account on first
// sight of an identity and pays the signup grant once.
type AccountService interface {
	Account(ctx context.Context, id Identity) (*Account, error)
}

// Deliverer is a front end's half of the finished-event path: it renders
// progress and delivers the result (or a clear error) of its platform's jobs.
type Deliverer interface {
	Platform() Platform
	// Progress may be called often; the front end throttles as its platform requires.
	Progress(ctx context.Context, job *Job, p Progress) error
	// Deliver is called once the job is final (succeeded, failed or canceled).
	// A returned error is retried later.
	Deliver(ctx context.Context, job *Job) error
}

// BlobStore keeps input images and finished videos. Workers and front ends
// share one.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Path returns a local file path for the blob when the store is on disk
	// (for zero-copy serving and uploads), or "" otherwise.
	Path(key string) string
}
