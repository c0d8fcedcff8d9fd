package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
)

// backend is an in-memory Submitter, JobService and Community with the
// contracts the real ones keep: Submit is idempotent on the key, charges
// the price table's price once and refuses banned members; accounts are
// created on first sight with a grant and shared by linked identities.
type backend struct {
	mu        sync.Mutex
	grant     int64
	prices    *paimeng.Prices
	nextID    int64
	accounts  map[paimeng.Identity]*paimeng.Account
	names     map[paimeng.Identity]string
	jobs      map[string]*paimeng.Job
	order     []string
	keys      map[string]string
	created   int
	submitErr error
	lastReq   *paimeng.Request

	daily     int64
	claimed   map[int64]string // account → day of the last check-in
	codes     map[string]*fakeCode
	linkCodes map[string]fakeLink
	likes     map[string]map[int64]bool // job → liking accounts
	lastBoard [3]any                    // board, period, limit of the last Leaderboard
}

type fakeCode struct {
	credits int64
	expires time.Time
	used    bool
}

type fakeLink struct {
	account *paimeng.Account
	expires time.Time
}

func newBackend(grant int64) *backend {
	return &backend{
		grant:     grant,
		prices:    paimeng.NewPrices(10),
		accounts:  make(map[paimeng.Identity]*paimeng.Account),
		names:     make(map[paimeng.Identity]string),
		jobs:      make(map[string]*paimeng.Job),
		keys:      make(map[string]string),
		daily:     5,
		claimed:   make(map[int64]string),
		codes:     make(map[string]*fakeCode),
		linkCodes: make(map[string]fakeLink),
		likes:     make(map[string]map[int64]bool),
	}
}

func (b *backend) account(id paimeng.Identity) *paimeng.Account {
	a := b.accounts[id]
	if a == nil {
		b.nextID++
		a = &paimeng.Account{ID: b.nextID, Balance: b.grant, CreatedAt: time.Now()}
		b.accounts[id] = a
	}
	return a
}

// identities lists the identities on an account, sorted.
func (b *backend) identities(acct *paimeng.Account) []paimeng.Identity {
	var ids []paimeng.Identity
	for id, a := range b.accounts {
		if a == acct {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(x, y paimeng.Identity) int { return strings.Compare(x.String(), y.String()) })
	return ids
}

// owned returns id's job or ENOTFOUND.
func (b *backend) owned(id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	j, ok := b.jobs[jobID]
	if !ok || j.AccountID != b.account(id).ID {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s of %s", jobID, id)
	}
	return j, nil
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
	mode, lane := req.Mode, req.Lane
	if mode == "" {
		mode = paimeng.ModeStd
	}
	if lane == "" {
		lane = paimeng.LaneFast
	}
	price, err := b.prices.Price(req.Engine, mode, seconds, lane)
	if err != nil {
		return nil, err
	}
	acct := b.account(req.Identity)
	if acct.Banned {
		return nil, paimeng.Errorf(paimeng.EBanned, "%s is banned", req.Identity)
	}
	if req.DisplayName != "" {
		b.names[req.Identity] = req.DisplayName
	}
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
		Mode:      mode,
		Lane:      lane,
		Engine:    req.Engine,
		Price:     price,
		Reply:     append([]byte(nil), req.Reply...),
		CreatedAt: time.Now().UTC(),

		FPS:        cmp.Or(req.FPS, paimeng.DefaultFPS),
		Resolution: req.Resolution,
		Aspect:     req.Aspect,
	}
	if len(req.Tail) > 0 {
		j.TailKey = "tail/" + j.ID
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
	return b.position(id)
}

func (b *backend) position(id string) (int, error) {
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

func (b *backend) Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	acct := b.account(id)
	day := time.Now().Format(time.DateOnly)
	if b.claimed[acct.ID] == day {
		return nil, paimeng.Errorf(paimeng.EAlreadyClaimed, "account %d claimed %s", acct.ID, day)
	}
	b.claimed[acct.ID] = day
	acct.Balance += b.daily
	return &paimeng.Claim{Amount: b.daily, Balance: acct.Balance}, nil
}

func (b *backend) Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.codes[strings.ToUpper(code)]
	switch {
	case !ok:
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "code %q", code)
	case c.used:
		return nil, paimeng.Errorf(paimeng.ECodeUsed, "code %q", code)
	case !c.expires.IsZero() && time.Now().After(c.expires):
		return nil, paimeng.Errorf(paimeng.ECodeExpired, "code %q", code)
	}
	c.used = true
	acct := b.account(id)
	acct.Balance += c.credits
	return &paimeng.Claim{Amount: c.credits, Balance: acct.Balance}, nil
}

func (b *backend) NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	code := fmt.Sprintf("L%05d", len(b.linkCodes)+1)
	exp := time.Now().Add(10 * time.Minute).UTC()
	b.linkCodes[code] = fakeLink{account: b.account(id), expires: exp}
	return &paimeng.LinkCode{Code: code, ExpiresAt: exp}, nil
}

func (b *backend) Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.linkCodes[code]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "link code %q", code)
	}
	if time.Now().After(l.expires) {
		return nil, paimeng.Errorf(paimeng.ECodeExpired, "link code %q", code)
	}
	from := b.account(id)
	if from == l.account {
		return nil, paimeng.Errorf(paimeng.EAlreadyLinked, "%s is on account %d", id, from.ID)
	}
	delete(b.linkCodes, code)
	for _, other := range b.identities(from) {
		b.accounts[other] = l.account
	}
	l.account.Balance += from.Balance
	a := *l.account
	return &a, nil
}

func (b *backend) Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.identities(b.account(id))) < 2 {
		return nil, paimeng.Errorf(paimeng.ENotLinked, "%s is alone", id)
	}
	b.nextID++
	a := &paimeng.Account{ID: b.nextID, CreatedAt: time.Now()}
	b.accounts[id] = a
	c := *a
	return &c, nil
}

func (b *backend) MemberJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	acct := b.account(id)
	var out []paimeng.QueuedJob
	for _, jid := range b.order {
		j := b.jobs[jid]
		if j.AccountID != acct.ID || j.Status.Final() {
			continue
		}
		pos, _ := b.position(jid)
		c := *j
		out = append(out, paimeng.QueuedJob{Job: &c, Position: pos})
	}
	return out, nil
}

func (b *backend) Cancel(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, err := b.owned(id, jobID)
	if err != nil {
		return nil, err
	}
	if j.Status != paimeng.JobQueued {
		return nil, paimeng.Errorf(paimeng.ENotCancelable, "job %s is %s", jobID, j.Status)
	}
	now := time.Now().UTC()
	j.Status, j.FinishedAt = paimeng.JobCanceled, &now
	b.account(id).Balance += j.Price
	c := *j
	return &c, nil
}

func (b *backend) SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, err := b.owned(id, jobID)
	if err != nil {
		return err
	}
	j.Private = private
	return nil
}

func (b *backend) Like(ctx context.Context, id paimeng.Identity, jobID string) (bool, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[jobID]
	if !ok || j.Status != paimeng.JobSucceeded || j.Private {
		return false, 0, paimeng.Errorf(paimeng.ENOTFOUND, "no public video %s", jobID)
	}
	acct := b.account(id)
	if j.AccountID == acct.ID {
		return false, 0, paimeng.Errorf(paimeng.EForbidden, "own video %s", jobID)
	}
	if b.likes[jobID] == nil {
		b.likes[jobID] = make(map[int64]bool)
	}
	added := !b.likes[jobID][acct.ID]
	b.likes[jobID][acct.ID] = true
	return added, int64(len(b.likes[jobID])), nil
}

// Leaderboard ranks accounts over all time whatever the period (the
// handler's parameters are recorded in lastBoard).
func (b *backend) Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int) ([]paimeng.LeaderRow, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastBoard = [3]any{board, period, limit}
	scores := map[*paimeng.Account]int64{}
	for _, j := range b.jobs {
		if j.Status != paimeng.JobSucceeded {
			continue
		}
		a := b.account(j.Identity)
		switch board {
		case paimeng.BoardGenerations:
			scores[a]++
		case paimeng.BoardSpent:
			scores[a] += j.Price
		case paimeng.BoardLikes:
			scores[a] += int64(len(b.likes[j.ID]))
		}
	}
	var rows []paimeng.LeaderRow
	for a, score := range scores {
		row := paimeng.LeaderRow{AccountID: a.ID, Score: score, Name: fmt.Sprintf("member #%d", a.ID)}
		for _, id := range b.identities(a) {
			if n := b.names[id]; n != "" {
				row.Name = n
			}
			if !slices.Contains(row.Platforms, id.Platform) {
				row.Platforms = append(row.Platforms, id.Platform)
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(x, y paimeng.LeaderRow) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(x.AccountID, y.AccountID))
	})
	if len(rows) > limit {
		rows = rows[:limit]
	}
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows, nil
}

// Gallery lists public succeeded videos, newest first.
func (b *backend) Gallery(ctx context.Context, limit int, before time.Time) ([]paimeng.GalleryItem, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []paimeng.GalleryItem
	for _, j := range b.jobs {
		if j.Status != paimeng.JobSucceeded || j.Private || j.FinishedAt == nil || (!before.IsZero() && !j.FinishedAt.Before(before)) {
			continue
		}
		c := *j
		out = append(out, paimeng.GalleryItem{Job: &c, Name: b.names[j.Identity], Likes: int64(len(b.likes[j.ID]))})
	}
	slices.SortFunc(out, func(x, y paimeng.GalleryItem) int { return y.Job.FinishedAt.Compare(*x.Job.FinishedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (b *backend) Grant(ctx context.Context, actor, target paimeng.Identity, amount int64, reason string) (*paimeng.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.account(target)
	a.Balance += amount
	c := *a
	return &c, nil
}

func (b *backend) Ban(ctx context.Context, actor, target paimeng.Identity, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.account(target)
	a.Banned, a.BanReason = true, reason
	return nil
}

func (b *backend) Unban(ctx context.Context, actor, target paimeng.Identity) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.account(target)
	a.Banned, a.BanReason = false, ""
	return nil
}

// addCode stores a redemption code.
func (b *backend) addCode(code string, credits int64, expires time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.codes[code] = &fakeCode{credits: credits, expires: expires}
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
