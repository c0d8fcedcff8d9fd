package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
)

// backend is an in-memory Submitter, JobService and AccountService with
// the contracts the real ones keep: Submit is idempotent on the key and
// charges once; accounts are created on first sight with a grant.
type backend struct {
	mu        sync.Mutex
	grant     int64
	accounts  map[paimeng.Identity]*paimeng.Account
	jobs      map[string]*paimeng.Job
	order     []string
	keys      map[string]string
	created   int
	submitErr error
	lastReq   *paimeng.Request
}

func newBackend(grant int64) *backend {
	return &backend{
		grant:    grant,
		accounts: make(map[paimeng.Identity]*paimeng.Account),
		jobs:     make(map[string]*paimeng.Job),
		keys:     make(map[string]string),
	}
}

func (b *backend) account(id paimeng.Identity) *paimeng.Account {
	a := b.accounts[id]
	if a == nil {
		a = &paimeng.Account{ID: int64(len(b.accounts) + 1), Balance: b.grant, CreatedAt: time.Now()}
		b.accounts[id] = a
	}
	return a
}

func (b *backend) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastReq = req
	if b.submitErr != nil {
		return nil, b.submitErr
	}
	if req.IdempotencyKey == "" {
		return nil, paimeng.Errorf(paimeng.EINVALID, "no idempotency key")
	}
	if id, ok := b.keys[req.IdempotencyKey]; ok {
		j := *b.jobs[id]
		return &j, nil
	}
	seconds := req.Seconds
	if seconds == 0 {
		seconds = 5
	}
	price := int64(seconds) * 2
	acct := b.account(req.Identity)
	if acct.Balance < price {
		return nil, paimeng.Errorf(paimeng.EInsufficient, "balance %d < price %d", acct.Balance, price)
	}
	acct.Balance -= price
	idb := make([]byte, 5)
	_, _ = rand.Read(idb)
	j := &paimeng.Job{
		ID:        hex.EncodeToString(idb),
		AccountID: acct.ID,
		Identity:  req.Identity,
		Lang:      req.Lang,
		Status:    paimeng.JobQueued,
		Prompt:    req.Prompt,
		Seconds:   seconds,
		Seed:      req.Seed,
		Price:     price,
		Reply:     append([]byte(nil), req.Reply...),
		CreatedAt: time.Now().UTC(),
	}
	b.jobs[j.ID] = j
	b.order = append(b.order, j.ID)
	b.keys[req.IdempotencyKey] = j.ID
	b.created++
	c := *j
	return &c, nil
}

func (b *backend) Job(ctx context.Context, id string) (*paimeng.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	c := *j
	return &c, nil
}

func (b *backend) QueuePosition(ctx context.Context, id string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return 0, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	if j.Status != paimeng.JobQueued {
		return 0, nil
	}
	n := 1
	for _, o := range b.order {
		if o == id {
			break
		}
		if b.jobs[o].Status == paimeng.JobQueued {
			n++
		}
	}
	return n, nil
}

func (b *backend) SetReply(ctx context.Context, id string, reply []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	j.Reply = append([]byte(nil), reply...)
	return nil
}

func (b *backend) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := *b.account(id)
	return &a, nil
}

// update changes a stored job and returns a copy.
func (b *backend) update(id string, f func(j *paimeng.Job)) *paimeng.Job {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b.jobs[id])
	c := *b.jobs[id]
	return &c
}

// set changes the backend's behaviour under its lock.
func (b *backend) set(f func(b *backend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *backend) last() *paimeng.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastReq
}

func (b *backend) createdJobs() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.created
}

func (b *backend) balance(id paimeng.Identity) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.account(id).Balance
}

type tokens map[string]paimeng.Identity

func (t tokens) IdentityForToken(ctx context.Context, token string) (paimeng.Identity, error) {
	id, ok := t[token]
	if !ok {
		return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "unknown token")
	}
	return id, nil
}

// dirBlobs keeps blobs as files and exposes their paths.
type dirBlobs struct{ dir string }

func (d dirBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	p := filepath.Join(d.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	return f.Close()
}

func (d dirBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(d.Path(key))
	if err != nil {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "blob %s", key)
	}
	return f, nil
}

func (d dirBlobs) Path(key string) string { return filepath.Join(d.dir, filepath.FromSlash(key)) }

// memBlobs keeps blobs in memory and has no paths.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[string][]byte)
	}
	m.m[key] = b
	return nil
}

func (m *memBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[key]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "blob %s", key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memBlobs) Path(string) string { return "" }
