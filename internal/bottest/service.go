// Package bottest gives the chat front ends' tests one in-memory stand-in
// for the services a bot talks to: the queue, the credit store, the
// community service and the blob store.
package bottest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Service stands in for the queue, the credit store, the community
// service and the blob store: Submit is idempotent on the key, holds the
// price from the price table and rejects what the real submitter rejects
// first (no image, banned, no credits); the community calls keep the rules
// members see (one daily claim a day, codes redeemed once, one like per
// member and video, no likes of one's own video). Every identity starts
// with a signup grant of 100 credits; its account id is its numeric user
// id.
type Service struct {
	// Prices is the price table Submit charges from.
	Prices *paimeng.Prices

	mu       sync.Mutex
	balances map[paimeng.Identity]int64
	jobs     map[string]*paimeng.Job
	order    []string
	byKey    map[string]string
	requests []paimeng.Request // every Submit call
	blobs    map[string][]byte
	paths    map[string]string // blobs kept as local files
	failNext error             // next Submit fails with this

	// A slow database: Submit, Job and Account sleep delay first, and when
	// gate is set, Submit reports on entered and waits for gate to close
	// (or 10 s) before it does anything.
	delay   time.Duration
	gate    <-chan struct{}
	entered chan struct{}

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

var (
	_ paimeng.Submitter  = (*Service)(nil)
	_ paimeng.JobService = (*Service)(nil)
	_ paimeng.Community  = (*Service)(nil)
	_ paimeng.BlobStore  = (*Service)(nil)
)

// NewService returns an empty service with a daily check-in of 15 credits.
func NewService() *Service {
	return &Service{
		Prices:   paimeng.NewPrices(10),
		balances: map[paimeng.Identity]int64{},
		jobs:     map[string]*paimeng.Job{},
		byKey:    map[string]string{},
		blobs:    map[string][]byte{},
		paths:    map[string]string{},
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

// NewHandler is the real command handler over s, with admins allowed to
// use /ban, /unban and /grant.
func NewHandler(s *Service, admins ...paimeng.Identity) *command.Handler {
	return command.NewHandler(command.Env{Community: s, Prices: s.Prices, Admins: admins, PublicURL: "https://paimeng.example"})
}

func clone(j *paimeng.Job) *paimeng.Job {
	c := *j
	c.Reply = slices.Clone(j.Reply)
	c.Shot.Moves = slices.Clone(j.Shot.Moves)
	return &c
}

// walletLocked is the identity whose balance id uses.
func (s *Service) walletLocked(id paimeng.Identity) paimeng.Identity {
	if w, ok := s.linked[id]; ok {
		return w
	}
	return id
}

func (s *Service) balanceLocked(id paimeng.Identity) int64 {
	id = s.walletLocked(id)
	b, ok := s.balances[id]
	if !ok {
		b = 100 // signup grant
		s.balances[id] = b
	}
	return b
}

// SetDelay makes Submit, Job and Account sleep d before they do anything.
func (s *Service) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// slow sleeps for the configured delay, outside the lock.
func (s *Service) slow() {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// Gate holds every later Submit until gate closes (or 10 s pass). Each
// held Submit reports on the returned channel, without waiting for a
// reader; it buffers one report.
func (s *Service) Gate(gate <-chan struct{}) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate, s.entered = gate, make(chan struct{}, 1)
	return s.entered
}

// FailNext makes the next Submit fail with err.
func (s *Service) FailNext(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = err
}

// Submit records the request and creates a queued job j001, j002, …,
// keeping its image under the job's ImageKey and its end frame, if any,
// under TailKey. A bad camera control or output option is refused as the
// real submitter refuses it.
func (s *Service) Submit(ctx context.Context, req *paimeng.Request) (*paimeng.Job, error) {
	s.slow()
	s.mu.Lock()
	gate, entered := s.gate, s.entered
	s.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-time.After(10 * time.Second):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := *req
	r.Image = slices.Clone(req.Image)
	r.Tail = slices.Clone(req.Tail)
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
	if err := req.Camera.Validate(); err != nil {
		return nil, err
	}
	if err := paimeng.CheckVideoOptions(req.FPS, req.Resolution, req.Aspect); err != nil {
		return nil, err
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
	price, err := s.Prices.Price(req.Engine, mode, seconds, lane)
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

		FPS:        cmp.Or(req.FPS, paimeng.DefaultFPS),
		Resolution: req.Resolution,
		Aspect:     req.Aspect,
	}
	// The real submitter also reads the prompt's camera words; here the
	// shot is the rerun's or the camera control's.
	if req.Shot != nil {
		j.Shot = *req.Shot
		j.Shot.Moves = slices.Clone(req.Shot.Moves)
	} else {
		j.Shot = paimeng.Shot{}.WithControl(req.Camera)
	}
	if len(req.Tail) > 0 {
		j.TailKey = "tail/" + req.IdempotencyKey
		s.blobs[j.TailKey] = slices.Clone(req.Tail)
	}
	j.CreatedAt = time.Now()
	s.jobs[j.ID] = j
	s.order = append(s.order, j.ID)
	s.byKey[req.IdempotencyKey] = j.ID
	s.blobs[j.ImageKey] = slices.Clone(req.Image)
	return clone(j), nil
}

func (s *Service) Job(ctx context.Context, id string) (*paimeng.Job, error) {
	s.slow()
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	return clone(j), nil
}

func (s *Service) QueuePosition(ctx context.Context, id string) (int, error) {
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

func (s *Service) SetReply(ctx context.Context, id string, reply []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return paimeng.Errorf(paimeng.ENOTFOUND, "job %s", id)
	}
	j.Reply = slices.Clone(reply)
	return nil
}

// Finish marks a job final the way the finished-event path would,
// refunding its price unless it succeeded.
func (s *Service) Finish(id string, status paimeng.JobStatus, videoKey, code string) *paimeng.Job {
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

// Update changes the stored job id under the lock and returns a copy.
func (s *Service) Update(id string, f func(j *paimeng.Job)) *paimeng.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.jobs[id])
	return clone(s.jobs[id])
}

func (s *Service) Account(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	s.slow()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(id), nil
}

func (s *Service) accountLocked(id paimeng.Identity) *paimeng.Account {
	bal := s.balanceLocked(id)
	w := s.walletLocked(id)
	reason, banned := s.banned[w]
	n, _ := strconv.ParseInt(w.UserID, 10, 64)
	return &paimeng.Account{ID: n, Balance: bal, Banned: banned, BanReason: reason}
}

// SetBalance sets the balance of id's wallet.
func (s *Service) SetBalance(id paimeng.Identity, credits int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.balances[s.walletLocked(id)] = credits
}

func (s *Service) Daily(ctx context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
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

// AddCode stores a redemption code worth credits.
func (s *Service) AddCode(code string, credits int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = credits
}

func (s *Service) Redeem(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
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

func (s *Service) NewLinkCode(ctx context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := fmt.Sprintf("LINK%04d", len(s.links)+1)
	s.links[code] = s.walletLocked(id)
	return &paimeng.LinkCode{Code: code, ExpiresAt: time.Now().Add(10 * time.Minute)}, nil
}

func (s *Service) Link(ctx context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
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

func (s *Service) Unlink(ctx context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.linked[id]; !ok {
		return nil, paimeng.Errorf(paimeng.ENotLinked, "%s stands alone", id)
	}
	delete(s.linked, id)
	s.balances[id] = 0
	return s.accountLocked(id), nil
}

func (s *Service) MemberJobs(ctx context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
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
func (s *Service) ownLocked(id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s", jobID)
	}
	if s.walletLocked(j.Identity) != s.walletLocked(id) {
		return nil, paimeng.Errorf(paimeng.EForbidden, "job %s is not %s's", jobID, id)
	}
	return j, nil
}

func (s *Service) Cancel(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	s.mu.Lock()
	j, err := s.ownLocked(id, jobID)
	if err == nil && j.Status != paimeng.JobQueued {
		err = paimeng.Errorf(paimeng.ENotCancelable, "job %s is %s", jobID, j.Status)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Finish(jobID, paimeng.JobCanceled, "", ""), nil
}

func (s *Service) SetPrivate(ctx context.Context, id paimeng.Identity, jobID string, private bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.ownLocked(id, jobID)
	if err != nil {
		return err
	}
	j.Private = private
	return nil
}

func (s *Service) Like(ctx context.Context, id paimeng.Identity, jobID string) (bool, int64, error) {
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

// LikeCalls returns every Like call so far, as "identity job".
func (s *Service) LikeCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.likeCalls)
}

// Likes returns how many members like job jobID.
func (s *Service) Likes(jobID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.likes[jobID])
}

// Leaderboard ranks members by succeeded videos, spent credits or likes
// received, whatever the period.
func (s *Service) Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int) ([]paimeng.LeaderRow, error) {
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

func (s *Service) Grant(ctx context.Context, actor, target paimeng.Identity, amount int64, reason string) (*paimeng.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bal := s.balanceLocked(target)
	if bal+amount < 0 {
		return nil, paimeng.Errorf(paimeng.EInsufficient, "balance %d", bal)
	}
	s.balances[s.walletLocked(target)] = bal + amount
	return s.accountLocked(target), nil
}

func (s *Service) Ban(ctx context.Context, actor, target paimeng.Identity, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banned[s.walletLocked(target)] = reason
	return nil
}

func (s *Service) Unban(ctx context.Context, actor, target paimeng.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.banned, s.walletLocked(target))
	return nil
}

// Submits returns every Submit call so far, rejected ones included.
func (s *Service) Submits() []paimeng.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// JobCount is how many jobs Submit created.
func (s *Service) JobCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// LastJobID is the id of the newest job, or "".
func (s *Service) LastJobID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return ""
	}
	return s.order[len(s.order)-1]
}

func (s *Service) Put(ctx context.Context, key string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[key] = data
	return nil
}

// SetPath keeps the blob key as the local file path: Open reads the file
// and Path returns it.
func (s *Service) SetPath(key, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[key] = path
}

func (s *Service) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.paths[key]; ok {
		return os.Open(p)
	}
	data, ok := s.blobs[key]
	if !ok {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "blob %s", key)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Path is the local file of a blob given to SetPath, or "".
func (s *Service) Path(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[key]
}
