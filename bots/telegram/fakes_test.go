package telegram_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
)

// service stands in for the queue, the credit store and the blob store:
// Submit is idempotent on the key, holds the price and rejects what the real
// submitter rejects first (no image, no credits).
type service struct {
	mu       sync.Mutex
	price    int64
	balances map[paimeng.Identity]int64
	jobs     map[string]*paimeng.Job
	order    []string
	byKey    map[string]string
	requests []paimeng.Request // every Submit call
	blobs    map[string][]byte
	failNext error // next Submit fails with this
}

func newService() *service {
	return &service{
		price:    10,
		balances: map[paimeng.Identity]int64{},
		jobs:     map[string]*paimeng.Job{},
		byKey:    map[string]string{},
		blobs:    map[string][]byte{},
	}
}

func clone(j *paimeng.Job) *paimeng.Job {
	c := *j
	c.Reply = slices.Clone(j.Reply)
	return &c
}

func (s *service) balanceLocked(id paimeng.Identity) int64 {
	b, ok := s.balances[id]
	if !ok {
		b = 100 // signup grant
		s.balances[id] = b
	}
	return b
}

func (s *service) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := *req
	r.Image = slices.Clone(req.Image)
	s.requests = append(s.requests, r)
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	if id, ok := s.byKey[req.IdempotencyKey]; ok {
		return clone(s.jobs[id]), nil
	}
	if len(req.Image) == 0 {
		return nil, paimeng.Errorf(paimeng.ENoImage, "no image")
	}
	bal := s.balanceLocked(req.Identity)
	if bal < s.price {
		return nil, paimeng.Errorf(paimeng.EInsufficient, "balance %d < price %d", bal, s.price)
	}
	s.balances[req.Identity] = bal - s.price
	seconds := req.Seconds
	if seconds == 0 {
		seconds = 5
	}
	j := &paimeng.Job{
		ID:       fmt.Sprintf("j%03d", len(s.jobs)+1),
		Identity: req.Identity,
		Lang:     req.Lang,
		Status:   paimeng.JobQueued,
		Prompt:   req.Prompt,
		Seconds:  seconds,
		Seed:     req.Seed,
		Price:    s.price,
		Reply:    slices.Clone(req.Reply),
		ImageKey: "in/" + req.IdempotencyKey,
	}
	j.CreatedAt = time.Now()
	s.jobs[j.ID] = j
	s.order = append(s.order, j.ID)
	s.byKey[req.IdempotencyKey] = j.ID
	return clone(j), nil
}

func (s *service) Job(ctx context.Context, id string) (*paimeng.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	return clone(j), nil
}

func (s *service) QueuePosition(ctx context.Context, id string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := 0
	for _, jid := range s.order {
		if s.jobs[jid].Status == paimeng.JobQueued {
			pos++
		}
		if jid == id {
			if s.jobs[jid].Status != paimeng.JobQueued {
				return 0, nil
			}
			return pos, nil
		}
	}
	return 0, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
}

func (s *service) SetReply(ctx context.Context, id string, reply []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	j.Reply = slices.Clone(reply)
	return nil
}

// finish marks a job final the way the finished-event path would.
func (s *service) finish(id string, status paimeng.JobStatus, videoKey, code string) *paimeng.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	j.Status, j.VideoKey, j.ErrorCode = status, videoKey, code
	now := time.Now()
	j.FinishedAt = &now
	if status != paimeng.JobSucceeded {
		s.balances[j.Identity] += j.Price
	}
	return clone(j)
}

func (s *service) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &paimeng.Account{ID: 1, Balance: s.balanceLocked(id)}, nil
}

func (s *service) submits() []paimeng.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *service) jobCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

func (s *service) Put(ctx context.Context, key string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[key] = data
	return nil
}

func (s *service) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.blobs[key]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "blob %s", key)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (s *service) Path(key string) string { return "" }
