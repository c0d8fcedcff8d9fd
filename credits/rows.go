package credits

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paimeng/paimeng"
)

// Row types mirror the tables in migrations/; the schema is owned by the
// migrations, never by GORM.

type accountRow struct {
	ID               int64      `gorm:"column:id;primaryKey"`
	Balance          int64      `gorm:"column:balance"`
	BannedAt         *time.Time `gorm:"column:banned_at"`
	BanReason        string     `gorm:"column:ban_reason"`
	MergedInto       *int64     `gorm:"column:merged_into"`
	LastDispatchedAt time.Time  `gorm:"column:last_dispatched_at"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
	UpdatedAt        time.Time  `gorm:"column:updated_at"`
}

func (accountRow) TableName() string { return "accounts" }

type identityRow struct {
	Platform    string    `gorm:"column:platform;primaryKey"`
	UserID      string    `gorm:"column:user_id;primaryKey"`
	AccountID   int64     `gorm:"column:account_id"`
	DisplayName string    `gorm:"column:display_name"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

func (identityRow) TableName() string { return "identities" }

// Hold states.
const (
	holdOpen     = "open"
	holdCaptured = "captured"
	holdReleased = "released"
)

type holdRow struct {
	ID             int64      `gorm:"column:id;primaryKey"`
	AccountID      int64      `gorm:"column:account_id"`
	JobID          string     `gorm:"column:job_id"`
	Amount         int64      `gorm:"column:amount"`
	Status         string     `gorm:"column:status"`
	IdempotencyKey string     `gorm:"column:idempotency_key"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
	ResolvedAt     *time.Time `gorm:"column:resolved_at"`
}

func (holdRow) TableName() string { return "holds" }

type jobRow struct {
	ID             string     `gorm:"column:id;primaryKey"`
	AccountID      int64      `gorm:"column:account_id"`
	Platform       string     `gorm:"column:platform"`
	UserID         string     `gorm:"column:user_id"`
	Lang           string     `gorm:"column:lang"`
	Status         string     `gorm:"column:status"`
	Prompt         string     `gorm:"column:prompt"`
	Seconds        int        `gorm:"column:seconds"`
	Seed           int64      `gorm:"column:seed"`
	Engine         string     `gorm:"column:engine"`
	Mode           string     `gorm:"column:mode"`
	Lane           string     `gorm:"column:lane"`
	Private        bool       `gorm:"column:private"`
	Price          int64      `gorm:"column:price"`
	HoldID         int64      `gorm:"column:hold_id"`
	Shot           shotColumn `gorm:"column:shot"`
	FPS            int        `gorm:"column:fps"`
	Resolution     int        `gorm:"column:resolution"`
	Aspect         string     `gorm:"column:aspect"`
	ImageKey       string     `gorm:"column:image_key"`
	TailKey        string     `gorm:"column:tail_key"`
	VideoKey       string     `gorm:"column:video_key"`
	PosterKey      string     `gorm:"column:poster_key"`
	ErrorCode      string     `gorm:"column:error_code"`
	ErrorDetail    string     `gorm:"column:error_detail"`
	Reply          []byte     `gorm:"column:reply"`
	IdempotencyKey string     `gorm:"column:idempotency_key"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
	DispatchedAt   *time.Time `gorm:"column:dispatched_at"`
	StartedAt      *time.Time `gorm:"column:started_at"`
	FinishedAt     *time.Time `gorm:"column:finished_at"`
	DeliveredAt    *time.Time `gorm:"column:delivered_at"`
}

func (jobRow) TableName() string { return "jobs" }

// shotColumn stores a paimeng.Shot as JSON text; the zero Shot is stored
// as an empty string.
type shotColumn paimeng.Shot

// Value implements driver.Valuer.
func (c shotColumn) Value() (driver.Value, error) {
	s := paimeng.Shot(c)
	if !s.Static && s.Shake == 0 && !s.Walk && len(s.Moves) == 0 {
		return "", nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("shot: %w", err)
	}
	return string(b), nil
}

// Scan implements sql.Scanner.
func (c *shotColumn) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("shot: cannot scan %T", v)
	}
	*c = shotColumn{}
	if len(b) == 0 {
		return nil
	}
	var s paimeng.Shot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("shot: %w", err)
	}
	*c = shotColumn(s)
	return nil
}

// Ledger entry kinds.
const (
	KindSignup  = "signup"
	KindGrant   = "grant"
	KindAdjust  = "adjust"
	KindHold    = "hold"
	KindCapture = "capture"
	KindRelease = "release"
	KindDaily   = "daily"
	KindRedeem  = "redeem"
	KindLink    = "link"   // balance moved between accounts when they are joined
	KindRefund  = "refund" // credits given back by an admin for a captured job
)

type ledgerRow struct {
	ID             int64     `gorm:"column:id;primaryKey"`
	AccountID      int64     `gorm:"column:account_id"`
	Kind           string    `gorm:"column:kind"`
	Amount         int64     `gorm:"column:amount"`
	BalanceAfter   int64     `gorm:"column:balance_after"`
	Reason         string    `gorm:"column:reason"`
	Actor          string    `gorm:"column:actor"`
	JobID          *string   `gorm:"column:job_id"`
	HoldID         *int64    `gorm:"column:hold_id"`
	IdempotencyKey *string   `gorm:"column:idempotency_key"`
	CreatedAt      time.Time `gorm:"column:created_at"`
}

func (ledgerRow) TableName() string { return "ledger_entries" }

type tokenRow struct {
	ID         int64      `gorm:"column:id;primaryKey"`
	TokenHash  string     `gorm:"column:token_hash"`
	Platform   string     `gorm:"column:platform"`
	UserID     string     `gorm:"column:user_id"`
	Name       string     `gorm:"column:name"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
}

func (tokenRow) TableName() string { return "api_tokens" }

type redeemCodeRow struct {
	Code             string     `gorm:"column:code;primaryKey"`
	Credits          int64      `gorm:"column:credits"`
	Batch            string     `gorm:"column:batch"`
	CreatedBy        string     `gorm:"column:created_by"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
	ExpiresAt        *time.Time `gorm:"column:expires_at"`
	RedeemedBy       *int64     `gorm:"column:redeemed_by"`
	RedeemedIdentity string     `gorm:"column:redeemed_identity"`
	RedeemedAt       *time.Time `gorm:"column:redeemed_at"`
}

func (redeemCodeRow) TableName() string { return "redeem_codes" }

type linkCodeRow struct {
	Code      string     `gorm:"column:code;primaryKey"`
	AccountID int64      `gorm:"column:account_id"`
	Platform  string     `gorm:"column:platform"`
	UserID    string     `gorm:"column:user_id"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
	UsedBy    string     `gorm:"column:used_by"`
}

func (linkCodeRow) TableName() string { return "link_codes" }

type likeRow struct {
	JobID     string    `gorm:"column:job_id;primaryKey"`
	AccountID int64     `gorm:"column:account_id;primaryKey"`
	Platform  string    `gorm:"column:platform"`
	UserID    string    `gorm:"column:user_id"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (likeRow) TableName() string { return "likes" }

func toAccount(r *accountRow) *paimeng.Account {
	return &paimeng.Account{
		ID: r.ID, Balance: r.Balance, Banned: r.BannedAt != nil, BanReason: r.BanReason,
		CreatedAt: r.CreatedAt.UTC(),
	}
}

func toJob(r *jobRow) *paimeng.Job {
	return &paimeng.Job{
		ID:           r.ID,
		AccountID:    r.AccountID,
		Identity:     paimeng.Identity{Platform: paimeng.Platform(r.Platform), UserID: r.UserID},
		Lang:         paimeng.Lang(r.Lang),
		Status:       paimeng.JobStatus(r.Status),
		Prompt:       r.Prompt,
		Seconds:      r.Seconds,
		Seed:         r.Seed,
		Engine:       r.Engine,
		Mode:         paimeng.Mode(r.Mode),
		Lane:         paimeng.Lane(r.Lane),
		Private:      r.Private,
		Price:        r.Price,
		HoldID:       r.HoldID,
		Shot:         paimeng.Shot(r.Shot),
		FPS:          r.FPS,
		Resolution:   r.Resolution,
		Aspect:       paimeng.Aspect(r.Aspect),
		ImageKey:     r.ImageKey,
		TailKey:      r.TailKey,
		VideoKey:     r.VideoKey,
		PosterKey:    r.PosterKey,
		ErrorCode:    r.ErrorCode,
		ErrorDetail:  r.ErrorDetail,
		Reply:        r.Reply,
		CreatedAt:    r.CreatedAt.UTC(),
		DispatchedAt: utcPtr(r.DispatchedAt),
		StartedAt:    utcPtr(r.StartedAt),
		FinishedAt:   utcPtr(r.FinishedAt),
		DeliveredAt:  utcPtr(r.DeliveredAt),
	}
}

func toJobs(rows []jobRow) []*paimeng.Job {
	out := make([]*paimeng.Job, len(rows))
	for i := range rows {
		out[i] = toJob(&rows[i])
	}
	return out
}

func fromJob(j *paimeng.Job, idemKey string) *jobRow {
	mode, lane, fps := j.Mode, j.Lane, j.FPS
	if fps == 0 {
		fps = paimeng.DefaultFPS
	}
	if mode == "" {
		mode = paimeng.ModeStd
	}
	if lane == "" {
		lane = paimeng.LaneFast
	}
	return &jobRow{
		ID:             j.ID,
		AccountID:      j.AccountID,
		Platform:       string(j.Identity.Platform),
		UserID:         j.Identity.UserID,
		Lang:           string(j.Lang),
		Status:         string(j.Status),
		Prompt:         j.Prompt,
		Seconds:        j.Seconds,
		Seed:           j.Seed,
		Engine:         j.Engine,
		Mode:           string(mode),
		Lane:           string(lane),
		Private:        j.Private,
		Price:          j.Price,
		HoldID:         j.HoldID,
		Shot:           shotColumn(j.Shot),
		FPS:            fps,
		Resolution:     j.Resolution,
		Aspect:         string(j.Aspect),
		ImageKey:       j.ImageKey,
		TailKey:        j.TailKey,
		VideoKey:       j.VideoKey,
		PosterKey:      j.PosterKey,
		ErrorCode:      j.ErrorCode,
		ErrorDetail:    j.ErrorDetail,
		Reply:          j.Reply,
		IdempotencyKey: idemKey,
		CreatedAt:      j.CreatedAt,
		DispatchedAt:   j.DispatchedAt,
		StartedAt:      j.StartedAt,
		FinishedAt:     j.FinishedAt,
		DeliveredAt:    j.DeliveredAt,
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func ptr[T any](v T) *T { return &v }
