package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
)

// ReconcilerConfig configures a Reconciler.
type ReconcilerConfig struct {
	Store     Store
	Client    *asynq.Client
	Inspector *asynq.Inspector
	Finisher  *Finisher
	Task      TaskOptions
	// Grace is how old an unfinished job must be before it is looked at,
	// so that jobs being submitted right now are left alone. Default 1 min.
	Grace time.Duration
	// Deadline is how long a job may stay unfinished, counted from its
	// creation (waiting in the queue included), before it fails with
	// EJobTimeout and its hold is released; default DefaultDeadline, or
	// Task.Deadline() when that is longer.
	Deadline time.Duration
	Interval time.Duration // default 1 min
	Logger   *slog.Logger
}

// DefaultDeadline is the default ReconcilerConfig.Deadline.
const DefaultDeadline = 2 * time.Hour

// Reconciler repairs what Redis loses: it re-enqueues dispatched,
// unfinished jobs whose task vanished, fails jobs that can never finish
// (releasing their hold), and re-sends finished events for jobs never
// delivered. Jobs not yet dispatched wait in the database for the
// Dispatcher and are only checked against the deadline.
type Reconciler struct {
	cfg ReconcilerConfig
	log *slog.Logger
}

// NewReconciler returns a Reconciler.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	if cfg.Grace <= 0 {
		cfg.Grace = time.Minute
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = max(DefaultDeadline, cfg.Task.Deadline())
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{cfg: cfg, log: log}
}

// Run reconciles every Interval until ctx is done.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.Once(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Warn("reconcile failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report counts what one pass did.
type Report struct {
	Requeued  int
	Expired   int
	Redeliver int
}

// Once runs one pass as of now.
func (r *Reconciler) Once(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	// Waiting jobs past the deadline (however many wait behind them), jobs
	// handed to the workers, and running jobs: each looked at once.
	lists := []func() ([]*paimeng.Job, error){
		func() ([]*paimeng.Job, error) {
			return r.cfg.Store.JobsByStatus(ctx, paimeng.JobQueued, now.Add(-r.cfg.Deadline), 500)
		},
		func() ([]*paimeng.Job, error) { return r.cfg.Store.DispatchedQueued(ctx, now.Add(-r.cfg.Grace), 500) },
		func() ([]*paimeng.Job, error) {
			return r.cfg.Store.JobsByStatus(ctx, paimeng.JobRunning, now.Add(-r.cfg.Grace), 500)
		},
	}
	seen := map[string]bool{}
	for _, list := range lists {
		jobs, err := list()
		if err != nil {
			return rep, fmt.Errorf("queue: reconcile: %w", err)
		}
		for _, j := range jobs {
			if seen[j.ID] {
				continue
			}
			seen[j.ID] = true
			if err := r.check(ctx, j, now, &rep); err != nil {
				r.log.Warn("reconcile job failed", "job_id", j.ID, "err", err)
			}
		}
	}
	undelivered, err := r.cfg.Store.Undelivered(ctx, now.Add(-r.cfg.Grace), 500)
	if err != nil {
		return rep, fmt.Errorf("queue: reconcile: %w", err)
	}
	for _, j := range undelivered {
		// Only when no finished event is pending or retrying for it; one
		// that gave up (archived) no longer stands in the way.
		if info, err := r.cfg.Inspector.GetTaskInfo(QueueEvents, finishedTaskID(j.ID)); err == nil {
			if info.State != asynq.TaskStateArchived {
				continue
			}
		} else if !notFound(err) {
			return rep, fmt.Errorf("queue: reconcile: %w", err)
		}
		if err := r.cfg.Finisher.Deliver(ctx, j); err != nil {
			r.log.Warn("redelivery failed", "job_id", j.ID, "err", err)
			continue
		}
		rep.Redeliver++
	}
	return rep, nil
}

func (r *Reconciler) check(ctx context.Context, j *paimeng.Job, now time.Time, rep *Report) error {
	// The lists were read a moment ago: a job canceled or finished since
	// then must not be enqueued again.
	fresh, err := r.cfg.Store.Job(ctx, j.ID)
	if err != nil {
		return err
	}
	if fresh.Status.Final() {
		return nil
	}
	j = fresh
	log := r.log.With("job_id", j.ID, "user", j.Identity.String(), "platform", string(j.Identity.Platform))
	if now.Sub(j.CreatedAt) > r.cfg.Deadline {
		log.Warn("job never finished; releasing its hold", "age", now.Sub(j.CreatedAt).Round(time.Second))
		// A task still waiting would only render a failed job.
		for _, q := range genQueues(j) {
			if err := r.cfg.Inspector.DeleteTask(q, j.ID); err != nil && !notFound(err) {
				log.Info("task of expired job not deleted", "queue", q, "err", err)
			}
		}
		rep.Expired++
		return r.cfg.Finisher.Finish(ctx, paimeng.Outcome{JobID: j.ID, ErrorCode: paimeng.EJobTimeout, ErrorDetail: "deadline passed"})
	}
	if j.DispatchedAt == nil && j.Status == paimeng.JobQueued {
		// Still waiting for its turn: the Dispatcher's.
		return nil
	}
	var (
		info  *asynq.TaskInfo
		qname string
	)
	for _, q := range genQueues(j) {
		i, err := r.cfg.Inspector.GetTaskInfo(q, j.ID)
		if err == nil {
			info, qname = i, q
			break
		} else if !notFound(err) {
			return err
		}
	}
	switch {
	case info == nil:
		// A finished event may already be on its way.
		if _, ferr := r.cfg.Inspector.GetTaskInfo(QueueEvents, finishedTaskID(j.ID)); ferr == nil {
			return nil
		}
		log.Info("task vanished; enqueueing again")
		rep.Requeued++
		return enqueueGen(ctx, r.cfg.Client, j, r.cfg.Task)
	case info.State == asynq.TaskStateArchived:
		// The worker gave up without reporting (crash in the failure path),
		// unless its outcome is still on its way.
		if _, ferr := r.cfg.Inspector.GetTaskInfo(QueueEvents, finishedTaskID(j.ID)); ferr == nil {
			return nil
		}
		rep.Expired++
		return r.cfg.Finisher.Finish(ctx, paimeng.Outcome{JobID: j.ID, ErrorCode: paimeng.EEngineFailed, ErrorDetail: trim("archived: "+info.LastErr, 500)})
	case info.State == asynq.TaskStateCompleted:
		// Rendered, but the finished event was lost.
		if _, ferr := r.cfg.Inspector.GetTaskInfo(QueueEvents, finishedTaskID(j.ID)); ferr == nil {
			return nil
		}
		if err := r.cfg.Inspector.DeleteTask(qname, j.ID); err != nil && !notFound(err) {
			return err
		}
		rep.Requeued++
		return enqueueGen(ctx, r.cfg.Client, j, r.cfg.Task)
	}
	return nil
}

// genQueues lists where job j's gen:video task may be: its engine's lane
// queue, and QueueGen for camera jobs enqueued before lanes existed.
func genQueues(j *paimeng.Job) []string {
	q := EngineQueue(j.Lane, j.Engine)
	if q != LaneQueue(j.Lane) {
		return []string{q}
	}
	return []string{q, QueueGen}
}

func notFound(err error) bool {
	return errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound)
}
