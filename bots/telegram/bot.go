// Package telegram is the Telegram front end: it long-polls the Bot API,
// turns /gen messages with an image into jobs, shows queue position, price
// and progress, delivers the finished video (with a like button) or a
// clear error, and answers the community commands (/daily, /balance, /top…)
// through bots/command's handler.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Config configures a Bot. Zero values take the defaults.
type Config struct {
	Token  string
	APIURL string // default https://api.telegram.org; methods {base}/bot{token}/{method}, files {base}/file/bot{token}/{path}
	// HTTPClient makes every Bot API call; its Timeout, if any, must exceed
	// PollTimeout. Default: a client without timeout (calls are bounded by
	// their contexts).
	HTTPClient    *http.Client
	PollTimeout   time.Duration // long-poll timeout, default 30s
	ProgressEvery time.Duration // default 3s: edit a job's status message at most this often
	Logger        *slog.Logger  // default slog.Default()
}

// Telegram limits and housekeeping.
const (
	defaultAPIURL   = "https://api.telegram.org"
	chatEditEvery   = time.Second      // progress edits per chat
	handleTimeout   = 2 * time.Minute  // one incoming message, download and submit included
	dedupeTTL       = 30 * time.Minute // how long update and message ids are remembered
	dedupeMax       = 20000
	maxConcurrent   = 8 // messages handled at once by Run
	maxBackoff      = time.Minute
	newTimeout      = 30 * time.Second
	progressForget  = time.Hour
	progressMaxKeep = 10000
)

// allowedUpdates are the update kinds the bot asks getUpdates for.
var allowedUpdates = []string{tgbotapi.UpdateTypeMessage, tgbotapi.UpdateTypeCallbackQuery}

// Bot is a Telegram front end and the Telegram paimeng.Deliverer.
type Bot struct {
	token         string
	base          string
	client        *http.Client
	self          tgbotapi.User
	pollTimeout   time.Duration
	progressEvery time.Duration
	log           *slog.Logger

	sub       paimeng.Submitter
	jobs      paimeng.JobService
	community paimeng.Community
	handler   *command.Handler
	blobs     paimeng.BlobStore

	mu        sync.Mutex
	updates   recent[int]    // update ids seen
	messages  recent[string] // "chat:message" seen
	queries   recent[string] // callback query ids seen
	delivered recent[string] // job ids whose result message was sent
	lastEdit  map[string]time.Time
	lastChat  map[int64]time.Time
}

// New checks the token with getMe and returns a bot ready to Run. /gen goes
// to sub; every other command except /start and /help goes to handler;
// like buttons call community.Like.
func New(cfg Config, sub paimeng.Submitter, jobs paimeng.JobService, community paimeng.Community, handler *command.Handler, blobs paimeng.BlobStore) (*Bot, error) {
	if cfg.Token == "" {
		return nil, errors.New("telegram: no bot token")
	}
	if sub == nil || jobs == nil || community == nil || handler == nil || blobs == nil {
		return nil, errors.New("telegram: submitter, job service, community, command handler and blob store are required")
	}
	b := &Bot{
		token:         cfg.Token,
		base:          strings.TrimRight(cfg.APIURL, "/"),
		client:        cfg.HTTPClient,
		pollTimeout:   cfg.PollTimeout,
		progressEvery: cfg.ProgressEvery,
		log:           cfg.Logger,
		sub:           sub,
		jobs:          jobs,
		community:     community,
		handler:       handler,
		blobs:         blobs,
		updates:       newRecent[int](),
		messages:      newRecent[string](),
		queries:       newRecent[string](),
		delivered:     newRecent[string](),
		lastEdit:      map[string]time.Time{},
		lastChat:      map[int64]time.Time{},
	}
	if b.base == "" {
		b.base = defaultAPIURL
	}
	if b.client == nil {
		b.client = &http.Client{}
	}
	if b.pollTimeout <= 0 {
		b.pollTimeout = 30 * time.Second
	}
	if b.progressEvery <= 0 {
		b.progressEvery = 3 * time.Second
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("platform", string(paimeng.PlatformTelegram))

	ctx, cancel := context.WithTimeout(context.Background(), newTimeout)
	defer cancel()
	d := &doer{ctx: ctx, client: b.client, token: b.token}
	api, err := tgbotapi.NewBotAPIWithClient(b.token, b.base+"/bot%s/%s", d)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", apiError("getMe", err, d.status))
	}
	b.self = api.Self
	b.log.Info("telegram bot ready", "bot", b.self.UserName, "bot_id", b.self.ID)
	return b, nil
}

// Self returns the bot's own user, as getMe reported it.
func (b *Bot) Self() tgbotapi.User { return b.self }

// Platform reports paimeng.PlatformTelegram.
func (b *Bot) Platform() paimeng.Platform { return paimeng.PlatformTelegram }

// Run long-polls getUpdates for messages and callback queries and handles
// them until ctx is done, then waits for updates in hand and returns nil. API errors are logged and
// retried with backoff.
func (b *Bot) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConcurrent)
	offset := 0
	backoff := time.Second
	timeout := max(int(b.pollTimeout/time.Second), 1)
	for ctx.Err() == nil {
		var updates []tgbotapi.Update
		pctx, cancel := context.WithTimeout(ctx, b.pollTimeout+15*time.Second)
		err := b.call(pctx, "getUpdates", func(api *tgbotapi.BotAPI) error {
			var err error
			updates, err = api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Timeout: timeout, AllowedUpdates: allowedUpdates})
			return err
		})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wait := backoff
			var ae *APIError
			if errors.As(err, &ae) && ae.RetryAfter > 0 {
				wait = ae.RetryAfter
			}
			b.log.Warn("getUpdates failed", "err", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				break
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = time.Second
		for _, u := range updates {
			if u.UpdateID >= offset {
				offset = u.UpdateID + 1
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				// Messages in hand finish even when Run is stopping.
				hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
				defer cancel()
				b.HandleUpdate(hctx, u)
			}()
		}
	}
	if offset != 0 {
		// Confirm what was handled so a restart does not see it again.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.call(cctx, "getUpdates", func(api *tgbotapi.BotAPI) error {
			_, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 1, AllowedUpdates: allowedUpdates})
			return err
		})
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// HandleUpdate handles one update (as from getUpdates or a webhook).
// Updates, messages and callback queries seen before are ignored.
func (b *Bot) HandleUpdate(ctx context.Context, u tgbotapi.Update) {
	b.mu.Lock()
	fresh := u.UpdateID == 0 || b.updates.add(u.UpdateID, time.Now())
	b.mu.Unlock()
	if !fresh {
		b.log.Debug("duplicate update", "update_id", u.UpdateID)
		return
	}
	switch {
	case u.Message != nil:
		b.handleMessage(ctx, u.Message)
	case u.CallbackQuery != nil:
		b.handleCallback(ctx, u.CallbackQuery)
	}
}

// APIError is an error answer from the Bot API.
type APIError struct {
	Method      string
	Code        int // error_code, or the HTTP status when the body said nothing
	Description string
	RetryAfter  time.Duration // flood control: wait this long before trying again
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Temporary reports whether the same call may succeed later: flood
// control (429) or a server error (5xx).
func (e *APIError) Temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500 || e.RetryAfter > 0
}

// apiError turns a client error into an *APIError when the API answered.
func apiError(method string, err error, status int) error {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		code := te.Code
		if code == 0 {
			code = status
		}
		return &APIError{Method: method, Code: code, Description: te.Message, RetryAfter: time.Duration(te.RetryAfter) * time.Second}
	}
	if status >= 400 {
		return &APIError{Method: method, Code: status, Description: http.StatusText(status)}
	}
	return fmt.Errorf("%s: %w", method, err)
}

// permanent reports whether err is a client error that no retry will fix.
func permanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && !ae.Temporary() && ae.Code >= 400 && ae.Code < 500
}

// editNoop reports the edit errors that mean there is nothing to do.
func editNoop(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest {
		return false
	}
	d := strings.ToLower(ae.Description)
	return strings.Contains(d, "message is not modified") || strings.Contains(d, "message to edit not found")
}

// doer binds a context to the client's requests, remembers the last HTTP
// status and keeps the token out of transport errors.
type doer struct {
	ctx    context.Context
	client *http.Client
	token  string
	status int
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req.WithContext(d.ctx))
	if err != nil {
		return nil, redact(err, d.token)
	}
	d.status = resp.StatusCode
	return resp, nil
}

func redact(err error, token string) error {
	var ue *url.Error
	if token != "" && errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, token, "<token>")
	}
	return err
}

// call runs fn with a client bound to ctx and classifies its error.
func (b *Bot) call(ctx context.Context, method string, fn func(api *tgbotapi.BotAPI) error) error {
	d := &doer{ctx: ctx, client: b.client, token: b.token}
	api := &tgbotapi.BotAPI{Token: b.token, Client: d, Self: b.self, Buffer: 100}
	api.SetAPIEndpoint(b.base + "/bot%s/%s")
	if err := fn(api); err != nil {
		return apiError(method, err, d.status)
	}
	return nil
}

// recent remembers keys for dedupeTTL, at most dedupeMax of them.
type recent[K comparable] struct {
	seen map[K]time.Time
}

func newRecent[K comparable]() recent[K] { return recent[K]{seen: map[K]time.Time{}} }

// add records k and reports whether it was new.
func (r recent[K]) add(k K, now time.Time) bool {
	if r.has(k, now) {
		return false
	}
	if len(r.seen) >= dedupeMax {
		for key, t := range r.seen {
			if now.Sub(t) > dedupeTTL || len(r.seen) >= dedupeMax {
				delete(r.seen, key)
			}
		}
	}
	r.seen[k] = now
	return true
}

func (r recent[K]) has(k K, now time.Time) bool {
	t, ok := r.seen[k]
	return ok && now.Sub(t) <= dedupeTTL
}
