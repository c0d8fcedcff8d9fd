package wechat_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// service stands in for the queue, the credit store, the community
// service and the blob store: Submit is idempotent on the key, holds the
// price from the price table and rejects what the real submitter rejects
// first (no image, banned, no credits); the community calls keep the rules
// members see (one daily claim a day, codes redeemed once, one like per
// member and video, no likes of one's own video).
type service struct {
	mu       sync.Mutex
	prices   *paimeng.Prices
	balances map[paimeng.Identity]int64
	jobs     map[string]*paimeng.Job
	order    []string
	byKey    map[string]string
	requests []paimeng.Request // every Submit call
	blobs    map[string][]byte
	failNext error         // next Submit fails with this
	delay    time.Duration // Submit, Job and Account sleep this long first (a slow database)

	daily     int64                       // daily check-in amount
	claimed   map[paimeng.Identity]string // last daily claim, by date
	codes     map[string]int64            // redemption codes and their credits
	used      map[string]bool             // redeemed codes
	names     map[paimeng.Identity]string // display names from Submit
	likes     map[string]map[paimeng.Identity]bool
	likeCalls []string // "identity job" for every Like call
	banned    map[paimeng.Identity]string
	links     map[string]paimeng.Identity           // link code → issuer
	linked    map[paimeng.Identity]paimeng.Identity // identity → the identity whose wallet it shares
}

func newService() *service {
	return &service{
		prices:   paimeng.NewPrices(10),
		balances: map[paimeng.Identity]int64{},
		jobs:     map[string]*paimeng.Job{},
		byKey:    map[string]string{},
		blobs:    map[string][]byte{},
		daily:    15,
		claimed:  map[paimeng.Identity]string{},
		codes:    map[string]int64{},
		used:     map[string]bool{},
		names:    map[paimeng.Identity]string{},
		likes:    map[string]map[paimeng.Identity]bool{},
		banned:   map[paimeng.Identity]string{},
		links:    map[string]paimeng.Identity{},
		linked:   map[paimeng.Identity]paimeng.Identity{},
	}
}

func clone(j *paimeng.Job) *paimeng.Job {
	c := *j
	c.Reply = slices.Clone(j.Reply)
	return &c
}

// walletLocked is the identity whose balance id uses.
func (s *service) walletLocked(id paimeng.Identity) paimeng.Identity {
	if w, ok := s.linked[id]; ok {
		return w
	}
	return id
}

func (s *service) balanceLocked(id paimeng.Identity) int64 {
	id = s.walletLocked(id)
	b, ok := s.balances[id]
	if !ok {
		b = 100 // signup grant
		s.balances[id] = b
	}
	return b
}

// slow sleeps for the configured delay, outside the lock.
func (s *service) slow() {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
}

func (s *service) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *service) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	s.slow()
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
	if _, ok := s.banned[s.walletLocked(req.Identity)]; ok {
		return nil, paimeng.Errorf(paimeng.EBanned, "banned")
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
	price, err := s.prices.Price(req.Engine, mode, seconds, lane)
	if err != nil {
		return nil, err
	}
	bal := s.balanceLocked(req.Identity)
	if bal < price {
		return nil, paimeng.Errorf(paimeng.EInsufficient, "balance %d < price %d", bal, price)
	}
	s.balances[s.walletLocked(req.Identity)] = bal - price
	if req.DisplayName != "" {
		s.names[req.Identity] = req.DisplayName
	}
	j := &paimeng.Job{
		ID:       fmt.Sprintf("j%03d", len(s.jobs)+1),
		Identity: req.Identity,
		Lang:     req.Lang,
		Status:   paimeng.JobQueued,
		Prompt:   req.Prompt,
		Seconds:  seconds,
		Seed:     req.Seed,
		Mode:     mode,
		Lane:     lane,
		Price:    price,
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
	s.slow()
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
		s.balances[s.walletLocked(j.Identity)] += j.Price
	}
	return clone(j)
}

func (s *service) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	s.slow()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(id), nil
}

func (s *service) accountLocked(id paimeng.Identity) *paimeng.Account {
	bal := s.balanceLocked(id)
	w := s.walletLocked(id)
	reason, banned := s.banned[w]
	n, _ := strconv.ParseInt(w.UserID, 10, 64)
	return &paimeng.Account{ID: n, Balance: bal, Banned: banned, BanReason: reason}
}

func (s *service) Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.walletLocked(id)
	today := time.Now().Format(time.DateOnly)
	if s.claimed[w] == today {
		return nil, paimeng.Errorf(paimeng.EAlreadyClaimed, "claimed on %s", today)
	}
	s.claimed[w] = today
	s.balances[w] = s.balanceLocked(id) + s.daily
	return &paimeng.Claim{Amount: s.daily, Balance: s.balances[w]}, nil
}

func (s *service) Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	amount, ok := s.codes[code]
	switch {
	case !ok:
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "code %q", code)
	case s.used[code]:
		return nil, paimeng.Errorf(paimeng.ECodeUsed, "code %q", code)
	}
	s.used[code] = true
	w := s.walletLocked(id)
	s.balances[w] = s.balanceLocked(id) + amount
	return &paimeng.Claim{Amount: amount, Balance: s.balances[w]}, nil
}

func (s *service) NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := fmt.Sprintf("LINK%04d", len(s.links)+1)
	s.links[code] = s.walletLocked(id)
	return &paimeng.LinkCode{Code: code, ExpiresAt: time.Now().Add(10 * time.Minute)}, nil
}

func (s *service) Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.links[code]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ECodeInvalid, "link code %q", code)
	}
	delete(s.links, code)
	w := s.walletLocked(id)
	if w == owner {
		return nil, paimeng.Errorf(paimeng.EAlreadyLinked, "same account")
	}
	s.balances[owner] = s.balanceLocked(owner) + s.balanceLocked(id)
	delete(s.balances, w)
	s.linked[id] = owner
	return s.accountLocked(id), nil
}

func (s *service) Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.linked[id]; !ok {
		return nil, paimeng.Errorf(paimeng.ENotLinked, "%s stands alone", id)
	}
	delete(s.linked, id)
	s.balances[id] = 0
	return s.accountLocked(id), nil
}

func (s *service) MemberJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []paimeng.QueuedJob
	pos := 0
	for _, jid := range s.order {
		j := s.jobs[jid]
		if j.Status == paimeng.JobQueued {
			pos++
		}
		if j.Status.Final() || s.walletLocked(j.Identity) != s.walletLocked(id) {
			continue
		}
		p := 0
		if j.Status == paimeng.JobQueued {
			p = pos
		}
		out = append(out, paimeng.QueuedJob{Job: clone(j), Position: p})
	}
	return out, nil
}

// ownLocked returns id's job jobID, or the error the store would give.
func (s *service) ownLocked(id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", jobID)
	}
	if s.walletLocked(j.Identity) != s.walletLocked(id) {
		return nil, paimeng.Errorf(paimeng.EForbidden, "job %s is not %s's", jobID, id)
	}
	return j, nil
}

func (s *service) Cancel(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	s.mu.Lock()
	j, err := s.ownLocked(id, jobID)
	if err == nil && j.Status != paimeng.JobQueued {
		err = paimeng.Errorf(paimeng.ENotCancelable, "job %s is %s", jobID, j.Status)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.finish(jobID, paimeng.JobCanceled, "", ""), nil
}

func (s *service) SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.ownLocked(id, jobID)
	if err != nil {
		return err
	}
	j.Private = private
	return nil
}

func (s *service) Like(ctx context.Context, id paimeng.Identity, jobID string) (bool, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.likeCalls = append(s.likeCalls, id.String()+" "+jobID)
	j, ok := s.jobs[jobID]
	if !ok || j.Status != paimeng.JobSucceeded {
		return false, 0, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", jobID)
	}
	if s.walletLocked(j.Identity) == s.walletLocked(id) {
		return false, int64(len(s.likes[jobID])), paimeng.Errorf(paimeng.EForbidden, "own video")
	}
	if s.likes[jobID] == nil {
		s.likes[jobID] = map[paimeng.Identity]bool{}
	}
	w := s.walletLocked(id)
	added := !s.likes[jobID][w]
	s.likes[jobID][w] = true
	return added, int64(len(s.likes[jobID])), nil
}

// likesOf returns every Like call so far, as "identity job".
func (s *service) likesOf() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.likeCalls)
}

// Leaderboard ranks members by succeeded videos, spent credits or likes
// received, whatever the period.
func (s *service) Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int) ([]paimeng.LeaderRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	score := map[paimeng.Identity]int64{}
	for _, j := range s.jobs {
		if j.Status != paimeng.JobSucceeded {
			continue
		}
		w := s.walletLocked(j.Identity)
		switch board {
		case paimeng.BoardGenerations:
			score[w]++
		case paimeng.BoardSpent:
			score[w] += j.Price
		case paimeng.BoardLikes:
			score[w] += int64(len(s.likes[j.ID]))
		}
	}
	var rows []paimeng.LeaderRow
	for id, n := range score {
		if n == 0 {
			continue
		}
		acc, _ := strconv.ParseInt(id.UserID, 10, 64)
		name := s.names[id]
		if name == "" {
			name = fmt.Sprintf("member #%d", acc)
		}
		rows = append(rows, paimeng.LeaderRow{AccountID: acc, Name: name, Platforms: []paimeng.Platform{id.Platform}, Score: n})
	}
	slices.SortFunc(rows, func(a, b paimeng.LeaderRow) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.AccountID, b.AccountID)
	})
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows, nil
}

func (s *service) Grant(ctx context.Context, actor, target paimeng.Identity, amount int64, reason string) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bal := s.balanceLocked(target)
	if bal+amount < 0 {
		return nil, paimeng.Errorf(paimeng.EInsufficient, "balance %d", bal)
	}
	s.balances[s.walletLocked(target)] = bal + amount
	return s.accountLocked(target), nil
}

func (s *service) Ban(ctx context.Context, actor, target paimeng.Identity, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banned[s.walletLocked(target)] = reason
	return nil
}

func (s *service) Unban(ctx context.Context, actor, target paimeng.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.banned, s.walletLocked(target))
	return nil
}

var _ paimeng.Community = (*service)(nil)

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

// admin may use /ban, /unban and /grant.
var admin = paimeng.Identity{Platform: paimeng.PlatformWeChat, UserID: "o_admin"}

// newHandler is the real command handler over the fake community.
func newHandler(s *service) *command.Handler {
	return command.NewHandler(command.Env{Community: s, Prices: s.prices, Admins: []paimeng.Identity{admin}, PublicURL: "https://paimeng.example"})
}
