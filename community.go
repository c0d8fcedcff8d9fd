package paimeng

import (
	"context"
	"time"
)

// Mode is a quality tier: std or pro (pro costs more and renders finer).
type Mode string

// Modes.
const (
	ModeStd Mode = "std"
	ModePro Mode = "pro"
)

// Lane is a queue lane. Fast jobs go first; relax jobs are cheaper (or
// free) and run when fast work leaves room.
type Lane string

// Lanes.
const (
	LaneFast  Lane = "fast"
	LaneRelax Lane = "relax"
)

// Claim is the result of a free or redeemed credit grant.
type Claim struct {
	Amount  int64 // credits added
	Balance int64 // balance afterwards
}

// LinkCode is a short one-time code that joins another identity to the
// account that asked for it.
type LinkCode struct {
	Code      string
	ExpiresAt time.Time
}

// Board names a leaderboard ranking.
type Board string

// Boards.
const (
	BoardGenerations Board = "generations" // succeeded videos
	BoardSpent       Board = "spent"       // credits captured
	BoardLikes       Board = "likes"       // likes received
)

// Period names a leaderboard window in the community's time zone.
type Period string

// Periods.
const (
	PeriodWeek  Period = "week"  // since Monday 00:00
	PeriodMonth Period = "month" // since the 1st, 00:00
	PeriodAll   Period = "all"
)

// LeaderRow is one member (account) on a leaderboard.
type LeaderRow struct {
	Rank      int
	AccountID int64
	Name      string     // display name, or a neutral "member #N"
	Platforms []Platform // where the member has identities
	Score     int64
}

// QueuedJob is an unfinished job with its place in the queue.
type QueuedJob struct {
	Job      *Job
	Position int // 0 when running
}

// GalleryItem is a public, succeeded video.
type GalleryItem struct {
	Job   *Job
	Name  string
	Likes int64
}

// Community is what members and admins do besides /gen: wallets, free and
// redeemed credits, linked accounts, the queue, likes, leaderboards and
// moderation. Every front end uses the same service through
// bots/command's handler.
type Community interface {
	AccountService

	// Daily pays the daily check-in once per account per calendar day in
	// the community's time zone; a second claim fails with EAlreadyClaimed.
	Daily(ctx context.Context, id Identity) (*Claim, error)
	// Redeem claims a redemption code exactly once (ECodeInvalid,
	// ECodeUsed, ECodeExpired otherwise).
	Redeem(ctx context.Context, id Identity, code string) (*Claim, error)

	// NewLinkCode issues a one-time code for id's account.
	NewLinkCode(ctx context.Context, id Identity) (*LinkCode, error)
	// Link joins id (and its account's other identities) to the account
	// that issued code; balances are merged through ledger entries.
	Link(ctx context.Context, id Identity, code string) (*Account, error)
	// Unlink gives id an account of its own again (with no credits).
	Unlink(ctx context.Context, id Identity) (*Account, error)

	// MemberJobs returns id's unfinished jobs with their positions.
	MemberJobs(ctx context.Context, id Identity) ([]QueuedJob, error)
	// Cancel cancels a queued job of id's account and releases its hold.
	Cancel(ctx context.Context, id Identity, jobID string) (*Job, error)
	// SetPrivate hides (or shows) one of id's videos in the public gallery.
	SetPrivate(ctx context.Context, id Identity, jobID string, private bool) error
	// Like records one like per member per video; added is false when id
	// had liked it already. Members cannot like their own videos.
	Like(ctx context.Context, id Identity, jobID string) (added bool, likes int64, err error)

	Leaderboard(ctx context.Context, board Board, period Period, limit int) ([]LeaderRow, error)

	// Admin actions; the caller checks that actor is an admin.
	Grant(ctx context.Context, actor, target Identity, amount int64, reason string) (*Account, error)
	Ban(ctx context.Context, actor, target Identity, reason string) error
	Unban(ctx context.Context, actor, target Identity) error
}
