package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// WorkerKeyPrefix starts the Redis key of each live worker: the key holds
// the worker's WorkerInfo as JSON and expires unless the worker's
// heartbeat refreshes it.
const WorkerKeyPrefix = "paimeng:workers:"

// Registry defaults.
const (
	DefaultWorkerTTL       = 30 * time.Second
	DefaultWorkerHeartbeat = 10 * time.Second
)

// WorkerInfo is what a worker advertises.
type WorkerInfo struct {
	ID      string    `json:"id"`
	Engines []string  `json:"engines"`
	Started time.Time `json:"started"`
	Host    string    `json:"host"`
}

// Registry records which workers are alive and which engines they serve.
type Registry struct {
	rdb redis.UniversalClient
	// TTL is how long a worker's key outlives its last heartbeat; default
	// DefaultWorkerTTL.
	TTL time.Duration
	// Heartbeat is how often a registered worker refreshes its key;
	// default DefaultWorkerHeartbeat.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// NewRegistry returns a Registry on rdb.
func NewRegistry(rdb redis.UniversalClient) *Registry {
	return &Registry{rdb: rdb}
}

func (r *Registry) ttl() time.Duration {
	if r.TTL <= 0 {
		return DefaultWorkerTTL
	}
	return r.TTL
}

func (r *Registry) heartbeat() time.Duration {
	if r.Heartbeat <= 0 {
		return min(DefaultWorkerHeartbeat, r.ttl()/3)
	}
	return r.Heartbeat
}

func (r *Registry) log() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// Registration is one worker's entry; Close removes it.
type Registration struct {
	r      *Registry
	key    string
	value  []byte
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Register advertises a worker serving engines under id ("" means
// host-pid) and keeps its key alive until Close.
func (r *Registry) Register(ctx context.Context, id string, engines []string) (*Registration, error) {
	host, _ := os.Hostname()
	if id == "" {
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	info := WorkerInfo{ID: id, Engines: slices.Clone(engines), Started: time.Now().UTC(), Host: host}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	reg := &Registration{r: r, key: WorkerKeyPrefix + id, value: b, done: make(chan struct{})}
	if err := r.rdb.Set(ctx, reg.key, b, r.ttl()).Err(); err != nil {
		return nil, fmt.Errorf("queue: register worker: %w", err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	reg.cancel = cancel
	go reg.beat(hctx)
	return reg, nil
}

func (reg *Registration) beat(ctx context.Context) {
	defer close(reg.done)
	t := time.NewTicker(reg.r.heartbeat())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := reg.r.rdb.Set(ctx, reg.key, reg.value, reg.r.ttl()).Err(); err != nil && ctx.Err() == nil {
				reg.r.log().Warn("worker heartbeat failed", "key", reg.key, "err", err)
			}
		}
	}
}

// Close stops the heartbeat and removes the worker's key.
func (reg *Registration) Close() error {
	var err error
	reg.once.Do(func() {
		reg.cancel()
		<-reg.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if derr := reg.r.rdb.Del(ctx, reg.key).Err(); derr != nil {
			err = fmt.Errorf("queue: unregister worker: %w", derr)
		}
	})
	return err
}

// Workers lists the live workers.
func (r *Registry) Workers(ctx context.Context) ([]WorkerInfo, error) {
	var keys []string
	iter := r.rdb.Scan(ctx, 0, WorkerKeyPrefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("queue: list workers: %w", err)
	}
	var out []WorkerInfo
	for _, k := range keys {
		b, err := r.rdb.Get(ctx, k).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired since the scan
		} else if err != nil {
			return nil, fmt.Errorf("queue: read worker %s: %w", k, err)
		}
		var w WorkerInfo
		if err := json.Unmarshal(b, &w); err != nil {
			r.log().Debug("unreadable worker entry", "key", k, "err", err)
			continue
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Engines returns how many live workers serve each engine.
func (r *Registry) Engines(ctx context.Context) (map[string]int, error) {
	ws, err := r.Workers(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, w := range ws {
		for _, e := range w.Engines {
			m[e]++
		}
	}
	return m, nil
}
