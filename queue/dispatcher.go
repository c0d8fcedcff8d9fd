package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
)

// DispatchStore is the part of the credit store the Dispatcher needs.
// credits.Store implements it.
type DispatchStore interface {
	// NextDispatch claims the next job of lane in fair-share order (the
	// member served longest ago first) among members with fewer than
	// maxRunning dispatched, unfinished jobs (maxRunning < 1: no limit),
	// marks it dispatched and returns it; ENOTFOUND when no job is
	// eligible. Concurrent callers never claim the same job.
	NextDispatchBatch(ctx context.Context, lane paimeng.Lane, maxRunning, n int) ([]*paimeng.Job, error)
}

// Dispatcher defaults.
const (
	DefaultMaxRunning       = 1
	DefaultAhead            = 2
	DefaultDispatchInterval = time.Second
)

// DispatcherConfig configures a Dispatcher. The zero value of each
// optional field is a sensible default.
type DispatcherConfig struct {
	Store     DispatchStore
	Client    *asynq.Client
	Inspector *asynq.Inspector
	Task      TaskOptions
	// MaxRunning is how many jobs of one member may be with the workers
	// (dispatched and unfinished) at once; default 1, negative for no limit.
	MaxRunning int
	// Ahead is how many tasks may wait as pending in each lane's asynq
	// queue, so a free worker never waits for the database; default 2.
	// Every other queued job waits in the database, where fair share
	// decides which goes next.
	Ahead    int
	Interval time.Duration // how often to look without a Kick; default 1 s
	// Workers tells which engines live workers serve; optional. With it,
	// while any worker is alive, tasks waiting for an engine no live
	// worker serves do not count against Ahead (they wait for a worker of
	// their own, and must not hold back the engines that have one), and
	// such waits are logged once per engine per minute.
	Workers *Registry
	Logger  *slog.Logger
}

// Dispatcher hands queued jobs from the database to asynq in fair-share
// order, keeping only a few tasks waiting in each lane queue.
//
// Several processes may run dispatchers on one database and Redis at
// once: NextDispatch claims each job atomically, and the task id (the job
// id) makes a second enqueue of one job a no-op. At worst the lane queues
// hold a few more than Ahead pending tasks.
type Dispatcher struct {
	cfg  DispatcherConfig
	log  *slog.Logger
	kick chan struct{}

	mu     sync.Mutex
	warned map[string]time.Time // engine → when its wait was last logged
}

// NewDispatcher returns a Dispatcher; Store, Client and Inspector are
// required.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	switch {
	case cfg.MaxRunning == 0:
		cfg.MaxRunning = DefaultMaxRunning
	case cfg.MaxRunning < 0:
		cfg.MaxRunning = 0 // NextDispatch's "no limit"
	}
	if cfg.Ahead <= 0 {
		cfg.Ahead = DefaultAhead
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultDispatchInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{cfg: cfg, log: log, kick: make(chan struct{}, 1), warned: map[string]time.Time{}}
}

// Kick asks Run for a pass now: a job was written or a slot was freed. It
// never blocks; kicks during a pass coalesce into one more pass.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run dispatches every Interval and on every Kick until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// Once fills the lane queues up to Ahead pending tasks each, fast lane
// first, and reports how many jobs it handed to asynq.
//
// The relax lane yields to the fast lane: when the fast queue is full
// (Ahead tasks pending), no relax job is dispatched in this pass. Workers
// weigh the queues (WorkerQueues), which is a preference, not an order: a
// relax task pending next to waiting fast tasks would still be picked now
// and then. Keeping relax tasks out of Redis while fast tasks wait makes
// the workers drain the fast lane first; relax jobs go out as soon as the
// fast lane has fewer than Ahead tasks waiting (no fast job left to
// dispatch, or members at their MaxRunning).
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	live := d.liveEngines(ctx)
	total := 0
	for _, lane := range []paimeng.Lane{paimeng.LaneFast, paimeng.LaneRelax} {
		n, full, err := d.fill(ctx, lane, live)
		total += n
		if err != nil {
			return total, err
		}
		if lane == paimeng.LaneFast && full {
			break
		}
	}
	return total, nil
}

// liveEngines returns the engines live workers serve, or nil when that is
// not known (no Workers, a registry error, or no worker alive at all).
func (d *Dispatcher) liveEngines(ctx context.Context) map[string]int {
	if d.cfg.Workers == nil {
		return nil
	}
	m, err := d.cfg.Workers.Engines(ctx)
	if err != nil {
		d.log.Debug("worker registry", "err", err)
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// fill dispatches jobs of lane while the lane's queues (those of every
// engine) have fewer than Ahead pending tasks; full reports that it
// stopped at that limit. With live (see liveEngines), queues of engines
// no live worker serves are not counted.
func (d *Dispatcher) fill(ctx context.Context, lane paimeng.Lane, live map[string]int) (n int, full bool, err error) {
	pending, err := d.lanePending(lane, live)
	if err != nil {
		return 0, false, err
	}
	for pending < d.cfg.Ahead {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		jobs, err := d.cfg.Store.NextDispatchBatch(ctx, lane, d.cfg.MaxRunning, min(d.cfg.Ahead-pending, maxBatch))
		if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
			return n, false, nil
		} else if err != nil {
			return n, false, fmt.Errorf("queue: dispatch %s: %w", lane, err)
		}
		for _, j := range jobs {
			if err := enqueueGen(ctx, d.cfg.Client, j, d.cfg.Task); err != nil {
				// The job is marked dispatched: the reconciler enqueues it
				// once Redis answers again.
				return n, false, err
			}
			d.log.Debug("job dispatched", "job_id", j.ID, "lane", lane, "engine", j.Engine, "account", j.AccountID)
			n++
			if counted(live, j.Engine) {
				pending++
			}
		}
	}
	return n, true, nil
}

// maxBatch bounds the jobs claimed per store call.
const maxBatch = 32

// lanePending returns the pending tasks of lane's queues, leaving out
// those of engines live says no worker serves (and logging them).
func (d *Dispatcher) lanePending(lane paimeng.Lane, live map[string]int) (int, error) {
	qnames := []string{LaneQueue(lane)}
	if all, err := d.cfg.Inspector.Queues(); err == nil {
		for _, q := range all {
			if e, l, ok := queueEngine(q); ok && l == lane && e != DefaultEngine {
				qnames = append(qnames, q)
			}
		}
	} else {
		return 0, fmt.Errorf("queue: list queues: %w", err)
	}
	total := 0
	for _, q := range qnames {
		n, err := d.pending(q)
		if err != nil {
			return 0, err
		}
		e, _, _ := queueEngine(q)
		if !counted(live, e) {
			if n > 0 {
				d.warnNoWorker(e, q, n)
			}
			continue
		}
		total += n
	}
	return total, nil
}

// counted reports whether tasks of engine count against Ahead: always
// without live, otherwise when a live worker serves it.
func counted(live map[string]int, engine string) bool {
	if engine == "" {
		engine = DefaultEngine
	}
	return live == nil || live[engine] > 0
}

// warnNoWorker logs, once per engine per minute, that tasks wait for an
// engine no live worker serves.
func (d *Dispatcher) warnNoWorker(engine, qname string, pending int) {
	d.mu.Lock()
	last, seen := d.warned[engine]
	now := time.Now()
	if seen && now.Sub(last) < time.Minute {
		d.mu.Unlock()
		return
	}
	d.warned[engine] = now
	d.mu.Unlock()
	d.log.Warn("jobs wait for an engine no live worker serves", "engine", engine, "queue", qname, "pending", pending)
}

// pending returns the number of pending tasks in queue qname; a queue
// that does not exist yet has none.
func (d *Dispatcher) pending(qname string) (int, error) {
	info, err := d.cfg.Inspector.GetQueueInfo(qname)
	if err == nil {
		return info.Pending, nil
	}
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0, nil
	}
	// GetQueueInfo does not wrap ErrQueueNotFound; ask which queues exist.
	if qs, qerr := d.cfg.Inspector.Queues(); qerr == nil && !slices.Contains(qs, qname) {
		return 0, nil
	}
	return 0, fmt.Errorf("queue: inspect %s: %w", qname, err)
}
