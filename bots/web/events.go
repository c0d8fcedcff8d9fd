package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
)

// Progress entries not updated for this long are dropped (a job whose
// final event never came here).
const progressTTL = time.Hour

// hub keeps the latest progress of running web jobs and wakes watchers.
type hub struct {
	mu   sync.Mutex
	jobs map[string]*jobState
}

type jobState struct {
	progress *paimeng.Progress
	final    bool
	updated  time.Time
	watchers int
	changed  chan struct{} // closed and replaced on every change
}

func newHub() *hub { return &hub{jobs: make(map[string]*jobState)} }

// progress returns the latest progress of a job, or nil.
func (h *hub) progress(id string) *paimeng.Progress {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.jobs[id]; st != nil && st.progress != nil {
		p := *st.progress
		return &p
	}
	return nil
}

// subscribe registers a watcher of a job; call unsubscribe when done.
func (h *hub) subscribe(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state(id).watchers++
}

func (h *hub) unsubscribe(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.jobs[id]
	if st == nil {
		return
	}
	st.watchers--
	if st.watchers <= 0 && (st.progress == nil || st.final) {
		delete(h.jobs, id)
	}
}

// snapshot returns the latest progress, whether the job was reported
// final, and a channel closed on the next change.
func (h *hub) snapshot(id string) (*paimeng.Progress, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.state(id)
	var p *paimeng.Progress
	if st.progress != nil {
		c := *st.progress
		p = &c
	}
	return p, st.final, st.changed
}

// state returns the entry of a job, creating it. Callers hold mu.
func (h *hub) state(id string) *jobState {
	st := h.jobs[id]
	if st == nil {
		st = &jobState{changed: make(chan struct{}), updated: time.Now()}
		h.jobs[id] = st
	}
	return st
}

func (h *hub) setProgress(id string, p paimeng.Progress, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.state(id)
	if st.final {
		return
	}
	st.progress = &p
	st.updated = now
	close(st.changed)
	st.changed = make(chan struct{})
	h.sweep(now)
}

func (h *hub) setFinal(id string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.jobs[id]
	if st == nil {
		return
	}
	st.final = true
	st.progress = nil
	st.updated = now
	close(st.changed)
	st.changed = make(chan struct{})
	if st.watchers <= 0 {
		delete(h.jobs, id)
	}
}

// sweep drops stale entries nobody watches. Callers hold mu.
func (h *hub) sweep(now time.Time) {
	if len(h.jobs) < 256 {
		return
	}
	for id, st := range h.jobs {
		if st.watchers <= 0 && now.Sub(st.updated) > progressTTL {
			delete(h.jobs, id)
		}
	}
}

// Progress implements paimeng.Deliverer: it remembers the latest progress
// and wakes the job's watchers.
func (s *Server) Progress(ctx context.Context, job *paimeng.Job, p paimeng.Progress) error {
	if job == nil || job.ID == "" {
		return paimeng.Errorf(paimeng.EINVALID, "progress for no job")
	}
	p.JobID = job.ID
	s.hub.setProgress(job.ID, p, time.Now())
	return nil
}

// Deliver implements paimeng.Deliverer: the result lives in the job row
// and the blob store, so delivering means waking the job's watchers.
func (s *Server) Deliver(ctx context.Context, job *paimeng.Job) error {
	if job == nil || job.ID == "" {
		return paimeng.Errorf(paimeng.EINVALID, "deliver no job")
	}
	s.hub.setFinal(job.ID, time.Now())
	s.log.InfoContext(ctx, "job final", "job_id", job.ID, "user", job.Identity.String(), "status", string(job.Status), "code", job.ErrorCode)
	return nil
}

// handleEvents streams the job as Server-Sent Events: "progress" events
// while it waits or runs, then one "done" event with the final state,
// after which the stream ends.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := s.identify(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	jobID := r.PathValue("id")
	log := s.log.With("user", id.String(), "job_id", jobID)
	job, err := s.ownedJob(ctx, id, jobID)
	if err != nil {
		s.writeError(w, r, err, "user", id.String(), "job_id", jobID)
		return
	}
	lang := langOf(r)

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives server write timeouts
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	s.hub.subscribe(jobID)
	defer s.hub.unsubscribe(jobID)

	poll := time.NewTicker(s.pollEvery)
	defer poll.Stop()
	heartbeat := time.NewTicker(s.heartbeatEvery)
	defer heartbeat.Stop()

	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err == nil {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			log.DebugContext(ctx, "event stream closed", "err", err)
			return false
		}
		return true
	}

	reload := func() bool {
		next, err := s.jobs.Job(ctx, jobID)
		if err != nil {
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "reload job for events", "err", err)
				send("error", errorView{Code: paimeng.EINTERNAL, Message: messageFor(paimeng.EINTERNAL, lang)})
			}
			return false
		}
		job = next
		return true
	}

	var last []byte
	for {
		p, final, changed := s.hub.snapshot(jobID)
		// Reported final, or running while the copy here still says
		// queued: the row has news.
		if !job.Status.Final() && (final || (p != nil && job.Status == paimeng.JobQueued)) && !reload() {
			return
		}
		if job.Status.Final() {
			send("done", s.view(ctx, job, nil, lang))
			return
		}
		v := s.view(ctx, job, p, lang)
		if b, _ := json.Marshal(v); !bytes.Equal(b, last) {
			if !send("progress", v) {
				return
			}
			last = b
			if s.minEventGap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(s.minEventGap):
				}
			}
		}

	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-heartbeat.C:
				if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-changed:
				break wait
			case <-poll.C:
				if !reload() {
					return
				}
				break wait
			}
		}
	}
}
