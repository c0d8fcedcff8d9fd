package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/kernels"
)

// Engine run outcomes, the outcome label of paimeng_engine_runs_total.
const (
	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeCanceled = "canceled"
)

var outcomes = []string{outcomeOK, outcomeError, outcomeCanceled}

// metrics is what /metrics shows about this process: the engines it
// serves, on which device, how busy they are, the jobs in flight and the
// GPUs found. It writes the Prometheus text format.
type metrics struct {
	epoch    time.Time // busy times are offsets from it (monotonic)
	inflight atomic.Int64

	mu      sync.Mutex
	engines []*engineStats // by name
	gpus    []kernels.Device
}

func newMetrics() *metrics { return &metrics{epoch: time.Now()} }

// engineStats counts one engine's Generate calls.
type engineStats struct {
	m      *metrics
	name   string
	device string

	mu       sync.Mutex
	busy     time.Duration // finished calls
	running  int64
	startSum time.Duration // sum of running calls' starts, from epoch
	runs     map[string]uint64
}

// addEngine registers an engine and the device it runs on.
func (m *metrics) addEngine(name, device string) *engineStats {
	st := &engineStats{m: m, name: name, device: device, runs: map[string]uint64{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.engines = append(m.engines, st)
	slices.SortFunc(m.engines, func(a, b *engineStats) int { return strings.Compare(a.name, b.name) })
	return st
}

// setGPUs records the GPUs found at start.
func (m *metrics) setGPUs(gs []kernels.Device) {
	m.mu.Lock()
	m.gpus = slices.Clone(gs)
	m.mu.Unlock()
}

func (s *engineStats) begin() time.Duration {
	start := time.Since(s.m.epoch)
	s.mu.Lock()
	s.running++
	s.startSum += start
	s.mu.Unlock()
	return start
}

func (s *engineStats) end(start time.Duration, outcome string) {
	now := time.Since(s.m.epoch)
	s.mu.Lock()
	s.running--
	s.startSum -= start
	s.busy += now - start
	s.runs[outcome]++
	s.mu.Unlock()
}

// snapshot returns the busy time, counting running calls up to now, the
// running calls and a copy of the run counts.
func (s *engineStats) snapshot() (time.Duration, int64, map[string]uint64) {
	now := time.Since(s.m.epoch)
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := s.busy + time.Duration(s.running)*now - s.startSum
	runs := make(map[string]uint64, len(s.runs))
	for k, v := range s.runs {
		runs[k] = v
	}
	return busy, s.running, runs
}

// meteredEngine is an engine whose Generate calls are timed and counted.
type meteredEngine struct {
	paimeng.Engine
	st *engineStats
}

func (e meteredEngine) Generate(ctx context.Context, in *paimeng.GenInput, sink paimeng.FrameSink, progress func(done, total int)) error {
	start := e.st.begin()
	err := e.Engine.Generate(ctx, in, sink, progress)
	e.st.end(start, runOutcome(ctx, err))
	return err
}

func runOutcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return outcomeCanceled
	}
	return outcomeError
}

// countJobs is worker middleware keeping paimeng_jobs_inflight.
func (m *metrics) countJobs(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		m.inflight.Add(1)
		defer m.inflight.Add(-1)
		return h.ProcessTask(ctx, t)
	})
}

// ServeHTTP writes the metrics in the Prometheus text format (0.0.4).
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	m.write(w)
}

func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	engines := slices.Clone(m.engines)
	gpus := slices.Clone(m.gpus)
	m.mu.Unlock()

	var b strings.Builder
	head := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name string, value string, labels ...string) {
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteByte('{')
			for i := 0; i+1 < len(labels); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(labels[i])
				b.WriteString(`="`)
				b.WriteString(escapeLabel(labels[i+1]))
				b.WriteByte('"')
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	type snap struct {
		busy    time.Duration
		running int64
		runs    map[string]uint64
	}
	snaps := make([]snap, len(engines))
	for i, e := range engines {
		snaps[i].busy, snaps[i].running, snaps[i].runs = e.snapshot()
	}

	if len(engines) > 0 {
		head("paimeng_engine_info", "gauge", "Engines this worker serves and the device each runs on (cpu, or the execution providers its sessions got).")
		for _, e := range engines {
			sample("paimeng_engine_info", "1", "engine", e.name, "device", e.device)
		}
		head("paimeng_engine_busy_seconds_total", "counter", "Time spent inside engine runs (Generate), including runs in progress.")
		for i, e := range engines {
			sample("paimeng_engine_busy_seconds_total", strconv.FormatFloat(snaps[i].busy.Seconds(), 'g', -1, 64), "engine", e.name)
		}
		head("paimeng_engine_runs_total", "counter", "Finished engine runs by outcome: ok, error or canceled.")
		for i, e := range engines {
			for _, o := range outcomes {
				sample("paimeng_engine_runs_total", strconv.FormatUint(snaps[i].runs[o], 10), "engine", e.name, "outcome", o)
			}
		}
		head("paimeng_engine_running", "gauge", "Engine runs in progress.")
		for i, e := range engines {
			sample("paimeng_engine_running", strconv.FormatInt(snaps[i].running, 10), "engine", e.name)
		}
		head("paimeng_jobs_inflight", "gauge", "Render tasks this worker is handling (fetching, rendering, encoding or uploading).")
		sample("paimeng_jobs_inflight", strconv.FormatInt(m.inflight.Load(), 10))
	}
	if len(gpus) > 0 {
		head("paimeng_gpu_info", "gauge", "GPUs found through the CUDA driver.")
		for _, g := range gpus {
			sample("paimeng_gpu_info", "1", "index", strconv.Itoa(g.Index), "name", g.Name, "compute_capability", g.ComputeCapability())
		}
		head("paimeng_gpu_memory_bytes", "gauge", "Total memory of each GPU.")
		for _, g := range gpus {
			sample("paimeng_gpu_memory_bytes", strconv.FormatUint(g.Memory, 10), "index", strconv.Itoa(g.Index))
		}
	}
	io.WriteString(w, b.String())
}

// escapeLabel escapes a label value for the text format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
