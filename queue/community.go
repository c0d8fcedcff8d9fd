package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
)

// CommunityStore is the part of the credit store the Community service
// needs. credits.Store implements it.
type CommunityStore interface {
	Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error)
	Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error)
	Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error)
	NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error)
	Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error)
	Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error)
	ActiveJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error)
	CancelQueued(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error)
	SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error
	Like(ctx context.Context, id paimeng.Identity, jobID string) (added bool, likes int64, err error)
	Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int, now time.Time) ([]paimeng.LeaderRow, error)
	Grant(ctx context.Context, id paimeng.Identity, amount int64, reason, actor string) (*paimeng.Account, error)
	Ban(ctx context.Context, target paimeng.Identity, reason, actor string) error
	Unban(ctx context.Context, target paimeng.Identity, actor string) error
}

// CommunityConfig configures a Community.
type CommunityConfig struct {
	Store CommunityStore
	// Inspector deletes the task of a canceled job; optional (without it a
	// canceled job's task runs and its outcome is ignored).
	Inspector *asynq.Inspector
	// Finisher delivers canceled jobs to their front end; optional.
	Finisher *Finisher
	// Kick wakes the Dispatcher when a cancel frees a slot; optional.
	Kick   func()
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// Community implements paimeng.Community over the credit store, adding
// what the store cannot do alone: removing a canceled job's task from
// Redis and telling the member's front end.
type Community struct {
	cfg CommunityConfig
	log *slog.Logger
}

var _ paimeng.Community = (*Community)(nil)

// NewCommunity returns a Community.
func NewCommunity(cfg CommunityConfig) *Community {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Community{cfg: cfg, log: log}
}

// Account implements paimeng.AccountService.
func (c *Community) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	return c.cfg.Store.Account(ctx, id)
}

// Daily implements paimeng.Community.
func (c *Community) Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
	return c.cfg.Store.Daily(ctx, id)
}

// Redeem implements paimeng.Community.
func (c *Community) Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
	return c.cfg.Store.Redeem(ctx, id, code)
}

// NewLinkCode implements paimeng.Community.
func (c *Community) NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	return c.cfg.Store.NewLinkCode(ctx, id)
}

// Link implements paimeng.Community.
func (c *Community) Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
	return c.cfg.Store.Link(ctx, id, code)
}

// Unlink implements paimeng.Community.
func (c *Community) Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	return c.cfg.Store.Unlink(ctx, id)
}

// MemberJobs implements paimeng.Community.
func (c *Community) MemberJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
	return c.cfg.Store.ActiveJobs(ctx, id)
}

// Cancel implements paimeng.Community: the store cancels the queued job
// and refunds its hold once; then its waiting task, if it was dispatched,
// is deleted, the front end is told (so the job's status message changes)
// and the Dispatcher woken, since a slot is free. A failed delivery is
// left to the Reconciler, which redelivers final jobs.
func (c *Community) Cancel(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	// A worker may have taken the task before its first progress event
	// marks the job running: then it is too late to cancel.
	if c.cfg.Inspector != nil {
		for _, q := range c.taskQueues(ctx, jobID) {
			if info, err := c.cfg.Inspector.GetTaskInfo(q, jobID); err == nil && info.State == asynq.TaskStateActive {
				return nil, paimeng.Errorf(paimeng.ENotCancelable, "job %s is being rendered", jobID)
			}
		}
	}
	j, err := c.cfg.Store.CancelQueued(ctx, id, jobID)
	if err != nil {
		return nil, err
	}
	log := c.log.With("job_id", j.ID, "user", id.String(), "platform", string(id.Platform))
	log.Info("job canceled", "refund", j.Price)
	if j.DispatchedAt != nil && c.cfg.Inspector != nil {
		// A task a worker already took cannot be deleted; its outcome
		// finds the job final and changes nothing.
		if err := c.cfg.Inspector.DeleteTask(EngineQueue(j.Lane, j.Engine), j.ID); err != nil && !notFound(err) {
			log.Info("task of canceled job not deleted", "err", err)
		}
	}
	if c.cfg.Finisher != nil {
		if err := c.cfg.Finisher.Deliver(ctx, j); err != nil {
			log.Warn("canceled job not delivered; the reconciler will retry", "err", err)
		}
	}
	if c.cfg.Kick != nil {
		c.cfg.Kick()
	}
	return j, nil
}

// SetPrivate implements paimeng.Community.
func (c *Community) SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error {
	return c.cfg.Store.SetPrivate(ctx, id, jobID, private)
}

// Like implements paimeng.Community.
func (c *Community) Like(ctx context.Context, id paimeng.Identity, jobID string) (bool, int64, error) {
	return c.cfg.Store.Like(ctx, id, jobID)
}

// Leaderboard implements paimeng.Community as of Now.
func (c *Community) Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int) ([]paimeng.LeaderRow, error) {
	return c.cfg.Store.Leaderboard(ctx, board, period, limit, c.cfg.Now())
}

// Grant implements paimeng.Community; the ledger names actor.
func (c *Community) Grant(ctx context.Context, actor, target paimeng.Identity, amount int64, reason string) (*paimeng.Account, error) {
	a, err := c.cfg.Store.Grant(ctx, target, amount, reason, actor.String())
	if err == nil {
		c.log.Info("credits granted", "actor", actor.String(), "target", target.String(), "amount", amount, "reason", reason)
	}
	return a, err
}

// Ban implements paimeng.Community.
func (c *Community) Ban(ctx context.Context, actor, target paimeng.Identity, reason string) error {
	if err := c.cfg.Store.Ban(ctx, target, reason, actor.String()); err != nil {
		return err
	}
	c.log.Info("member banned", "actor", actor.String(), "target", target.String(), "reason", reason)
	// Jobs still waiting are canceled and refunded; running ones finish.
	jobs, err := c.cfg.Store.ActiveJobs(ctx, target)
	if err != nil {
		return fmt.Errorf("queue: ban: %w", err)
	}
	for _, q := range jobs {
		if q.Job.Status != paimeng.JobQueued {
			continue
		}
		if _, err := c.Cancel(ctx, target, q.Job.ID); err != nil && paimeng.ErrorCode(err) != paimeng.ENotCancelable {
			return fmt.Errorf("queue: ban: cancel %s: %w", q.Job.ID, err)
		}
	}
	return nil
}

// Unban implements paimeng.Community.
func (c *Community) Unban(ctx context.Context, actor, target paimeng.Identity) error {
	err := c.cfg.Store.Unban(ctx, target, actor.String())
	if err == nil {
		c.log.Info("member unbanned", "actor", actor.String(), "target", target.String())
	}
	return err
}

// taskQueues lists the gen queues a job's task may be in: every engine's
// lane queues that exist, and QueueGen.
func (c *Community) taskQueues(ctx context.Context, jobID string) []string {
	qs := []string{QueueFast, QueueRelax, QueueGen}
	all, err := c.cfg.Inspector.Queues()
	if err != nil {
		c.log.Debug("list queues", "job_id", jobID, "err", err)
		return qs
	}
	for _, q := range all {
		if _, _, ok := queueEngine(q); ok && !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	return qs
}
