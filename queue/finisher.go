package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/paimeng/paimeng"
	"github.com/redis/go-redis/v9"
)

// Finisher runs in the front-end process. It settles credits when a
// job:finished event arrives, delivers the result through the job's front
// end, and relays progress events to the front ends.
type Finisher struct {
	store Store
	log   *slog.Logger

	mu         sync.Mutex
	deliverers map[paimeng.Platform]paimeng.Deliverer
	running    map[string]time.Time // jobs already marked running, by when
	jobs       map[string]cachedJob
	delivering map[string]chan struct{} // closed when the delivery in flight ends
	settled    func()
}

type cachedJob struct {
	job *paimeng.Job
	at  time.Time
}

// NewFinisher returns a Finisher delivering through ds.
func NewFinisher(store Store, log *slog.Logger, ds ...paimeng.Deliverer) *Finisher {
	if log == nil {
		log = slog.Default()
	}
	f := &Finisher{
		store: store, log: log, deliverers: map[paimeng.Platform]paimeng.Deliverer{},
		running: map[string]time.Time{}, jobs: map[string]cachedJob{}, delivering: map[string]chan struct{}{},
	}
	f.AddDeliverers(ds...)
	return f
}

// AddDeliverers adds front ends to deliver through, replacing any of the
// same platform. Front ends that need the finisher (through the Community
// service) are built after it and added here.
func (f *Finisher) AddDeliverers(ds ...paimeng.Deliverer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range ds {
		if d != nil {
			f.deliverers[d.Platform()] = d
		}
	}
}

func (f *Finisher) deliverer(p paimeng.Platform) (paimeng.Deliverer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deliverers[p]
	return d, ok
}

// OnSettle sets a function called after a job becomes final through this
// finisher (a member's slot is free again): the Dispatcher's Kick. Call it
// before the finisher handles events.
func (f *Finisher) OnSettle(fn func()) { f.settled = fn }

// Register adds the finisher's handlers to mux.
func (f *Finisher) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeJobFinished, f.ProcessTask)
}

// ProcessTask handles a job:finished event. It is idempotent: the credit
// hold resolves once, and delivery happens until it is marked done.
func (f *Finisher) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p FinishedPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		return fmt.Errorf("queue: bad finished payload: %v: %w", err, asynq.SkipRetry)
	}
	return f.Finish(ctx, p.Outcome)
}

// Finish settles a job's outcome and delivers it.
func (f *Finisher) Finish(ctx context.Context, o paimeng.Outcome) error {
	j, changed, err := f.store.FinishJob(ctx, o)
	if paimeng.ErrorCode(err) == paimeng.ENOTFOUND {
		return fmt.Errorf("queue: finished event for unknown job %s: %w", o.JobID, asynq.SkipRetry)
	} else if err != nil {
		return fmt.Errorf("queue: finish %s: %w", o.JobID, err)
	}
	log := f.log.With("job_id", j.ID, "user", j.Identity.String(), "platform", string(j.Identity.Platform))
	if changed {
		log.Info("job finished", "status", j.Status, "code", j.ErrorCode)
		if f.settled != nil {
			f.settled()
		}
	}
	f.forget(j.ID)
	return f.Deliver(ctx, j)
}

// Deliver hands a final job to its front end unless that already happened.
// Within one process a job is delivered by one call at a time; a
// concurrent call waits for it and delivers only if it failed.
func (f *Finisher) Deliver(ctx context.Context, j *paimeng.Job) error {
	if j.DeliveredAt != nil || !j.Status.Final() {
		return nil
	}
	release, j, err := f.claimDelivery(ctx, j)
	if err != nil || release == nil {
		return err
	}
	defer release()
	log := f.log.With("job_id", j.ID, "user", j.Identity.String(), "platform", string(j.Identity.Platform))
	d, ok := f.deliverer(j.Identity.Platform)
	if !ok {
		// This process has no front end for the platform (e.g. a replica
		// without the Telegram token): let another try.
		return fmt.Errorf("queue: no front end for platform %q in this process", j.Identity.Platform)
	}
	if err := d.Deliver(ctx, j); err != nil {
		log.Warn("delivery failed; will retry", "err", err)
		return fmt.Errorf("queue: deliver %s: %w", j.ID, err)
	}
	if _, err := f.store.MarkDelivered(ctx, j.ID); err != nil {
		return fmt.Errorf("queue: mark delivered %s: %w", j.ID, err)
	}
	log.Info("job delivered", "status", j.Status)
	return nil
}

// claimDelivery makes this call the one delivering j in this process. It
// returns the job as stored now, or a nil release when nothing is left to
// deliver.
func (f *Finisher) claimDelivery(ctx context.Context, j *paimeng.Job) (release func(), cur *paimeng.Job, err error) {
	for {
		f.mu.Lock()
		busy, ok := f.delivering[j.ID]
		if !ok {
			done := make(chan struct{})
			f.delivering[j.ID] = done
			f.mu.Unlock()
			release = func() {
				f.mu.Lock()
				delete(f.delivering, j.ID)
				f.mu.Unlock()
				close(done)
			}
			break
		}
		f.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	// Another call may have delivered it since j was read.
	cur, err = f.store.Job(ctx, j.ID)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("queue: deliver %s: %w", j.ID, err)
	}
	if cur.DeliveredAt != nil || !cur.Status.Final() {
		release()
		return nil, nil, nil
	}
	return release, cur, nil
}

// Progress relays one progress event to the job's front end, marking the
// job running on its first event.
func (f *Finisher) Progress(ctx context.Context, ev ProgressEvent) error {
	j, err := f.job(ctx, ev.JobID)
	if err != nil {
		return err
	}
	if j.Status.Final() {
		return nil
	}
	f.mu.Lock()
	_, marked := f.running[j.ID]
	if !marked {
		f.running[j.ID] = time.Now()
	}
	f.mu.Unlock()
	if !marked && j.Status == paimeng.JobQueued {
		if _, err := f.store.MarkRunning(ctx, j.ID); err != nil {
			return err
		}
		j.Status = paimeng.JobRunning
	}
	d, ok := f.deliverer(j.Identity.Platform)
	if !ok {
		return nil
	}
	return d.Progress(ctx, j, paimeng.Progress{JobID: ev.JobID, Stage: ev.Stage, Done: ev.Done, Total: ev.Total})
}

func (f *Finisher) job(ctx context.Context, id string) (*paimeng.Job, error) {
	f.mu.Lock()
	c, ok := f.jobs[id]
	f.mu.Unlock()
	if ok && time.Since(c.at) < 30*time.Second {
		return c.job, nil
	}
	j, err := f.store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.jobs[id] = cachedJob{job: j, at: time.Now()}
	f.gcLocked()
	f.mu.Unlock()
	return j, nil
}

func (f *Finisher) forget(id string) {
	f.mu.Lock()
	delete(f.jobs, id)
	delete(f.running, id)
	f.mu.Unlock()
}

func (f *Finisher) gcLocked() {
	if len(f.jobs) < 1024 {
		return
	}
	for id, c := range f.jobs {
		if time.Since(c.at) > time.Minute {
			delete(f.jobs, id)
		}
	}
	for id, at := range f.running {
		if time.Since(at) > time.Hour {
			delete(f.running, id)
		}
	}
}

// ListenProgress relays progress events from Redis until ctx is done.
func (f *Finisher) ListenProgress(ctx context.Context, rdb redis.UniversalClient) error {
	for {
		err := f.listenOnce(ctx, rdb)
		if ctx.Err() != nil {
			return nil
		}
		f.log.Warn("progress subscription lost; resubscribing", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (f *Finisher) listenOnce(ctx context.Context, rdb redis.UniversalClient) error {
	sub := rdb.Subscribe(ctx, ProgressChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return fmt.Errorf("queue: subscribe: %w", err)
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return errors.New("queue: progress channel closed")
			}
			var ev ProgressEvent
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil || ev.JobID == "" {
				continue
			}
			if err := f.Progress(ctx, ev); err != nil {
				f.log.Debug("progress relay failed", "job_id", ev.JobID, "err", err)
			}
		}
	}
}
