// Package discord is the Discord front end: it registers the slash
// commands (/gen with an image attachment, /balance, /daily, /top…),
// receives interactions over HTTP (signed with Ed25519) or the gateway,
// acknowledges each one at once with a deferred response and then turns
// /gen into a job, shows price, queue position and progress in the
// interaction's response, and delivers the finished video with Rerun, New
// seed and Like buttons (or a clear error). The community commands are
// answered through bots/command's handler.
package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Config configures a Bot. Zero values take the defaults.
type Config struct {
	Token     string // bot token, without the "Bot " prefix
	AppID     string // application id; "" asks GET /users/@me (the bot user's id)
	PublicKey string // hex Ed25519 key that signs HTTP interactions (required in http mode)

	APIURL    string // default https://discord.com/api/v10
	GuildID   string // register the commands in this guild; "" registers them globally
	Mode      string // ModeHTTP (default) or ModeGateway
	PublicURL string // web front end base, for links to videos too large to attach and to the gallery

	// HTTPClient makes every REST call (through a transport that sends
	// Discord's API URLs to APIURL) and downloads attachments. Default: a
	// client without timeout (calls are bounded by their contexts).
	HTTPClient *http.Client

	ProgressEvery time.Duration // default 2s: edit a job's response at most this often
	// TokenTTL is how long an interaction token can edit its response
	// (default 15m); from TokenTTL-1m on, results go to the channel.
	TokenTTL time.Duration
	Logger   *slog.Logger // default slog.Default()
}

// Modes of receiving interactions.
const (
	ModeHTTP    = "http"    // Discord POSTs interactions to Handler
	ModeGateway = "gateway" // the bot connects to the gateway and gets INTERACTION_CREATE
)

// Discord limits and housekeeping.
const (
	defaultAPIURL        = "https://discord.com/api/v10"
	defaultProgressEvery = 2 * time.Second
	defaultTokenTTL      = 15 * time.Minute
	tokenMargin          = time.Minute
	defaultUploadLimit   = 10 << 20  // bytes a message may attach without boosts
	maxUploadLimit       = 100 << 20 // the most this bot holds in memory for one upload
	maxContentRunes      = 2000      // message content
	maxBody              = 64 << 10  // an interaction request body
	maxAge               = 5 * time.Minute
	maxAhead             = time.Minute
	handleTimeout        = 2 * time.Minute
	maxConcurrent        = 32 // interactions handled at once after their acknowledgement
	dedupeTTL            = 30 * time.Minute
	dedupeMax            = 20000
	progressForget       = time.Hour
	progressMaxKeep      = 10000
	newTimeout           = 30 * time.Second
	maxBackoff           = time.Minute
)

// Bot is a Discord front end and the Discord paimeng.Deliverer.
type Bot struct {
	appID         string
	publicKey     ed25519.PublicKey
	guildID       string
	mode          string
	publicURL     string
	client        *http.Client // attachment downloads
	rest          *discordgo.Session
	progressEvery time.Duration
	tokenTTL      time.Duration
	log           *slog.Logger

	sub       paimeng.Submitter
	jobs      paimeng.JobService
	community paimeng.Community
	handler   *command.Handler
	blobs     paimeng.BlobStore

	sem chan struct{}

	mu        sync.Mutex
	seen      *recent[struct{}] // interaction ids handled
	delivered *recent[struct{}] // job ids whose result was sent
	owners    *recent[string]   // job id → Discord user id of its owner
	lastEdit  map[string]time.Time
	locks     map[string]*jobLock
	inFlight  int           // interactions being handled after their acknowledgement
	idle      chan struct{} // closed when inFlight drops to zero
}

// New returns a bot ready to serve Handler and Run. /gen and the Rerun and
// New seed buttons go to sub; every other command goes to handler; like
// buttons call community.Like. Without cfg.AppID, New asks Discord for the
// bot's user id.
func New(cfg Config, sub paimeng.Submitter, jobs paimeng.JobService, community paimeng.Community, handler *command.Handler, blobs paimeng.BlobStore) (*Bot, error) {
	if cfg.Token == "" {
		return nil, errors.New("discord: no bot token")
	}
	if sub == nil || jobs == nil || community == nil || handler == nil || blobs == nil {
		return nil, errors.New("discord: submitter, job service, community, command handler and blob store are required")
	}
	mode := strings.ToLower(strings.TrimSpace(cfg.Mode))
	switch mode {
	case "":
		mode = ModeHTTP
	case ModeHTTP, ModeGateway:
	default:
		return nil, fmt.Errorf("discord: mode %q is neither %q nor %q", cfg.Mode, ModeHTTP, ModeGateway)
	}
	var key ed25519.PublicKey
	if cfg.PublicKey != "" {
		raw, err := hex.DecodeString(strings.TrimSpace(cfg.PublicKey))
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("discord: public key is not 32 bytes of hex")
		}
		key = raw
	} else if mode == ModeHTTP {
		return nil, errors.New("discord: http mode needs the application's public key")
	}
	apiURL := strings.TrimRight(cfg.APIURL, "/")
	if apiURL == "" {
		apiURL = defaultAPIURL
	}
	base, err := url.Parse(apiURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("discord: bad API URL %q", cfg.APIURL)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	b := &Bot{
		appID:         cfg.AppID,
		publicKey:     key,
		guildID:       cfg.GuildID,
		mode:          mode,
		publicURL:     strings.TrimRight(cfg.PublicURL, "/"),
		client:        client,
		progressEvery: cfg.ProgressEvery,
		tokenTTL:      cfg.TokenTTL,
		log:           cfg.Logger,
		sub:           sub,
		jobs:          jobs,
		community:     community,
		handler:       handler,
		blobs:         blobs,
		sem:           make(chan struct{}, maxConcurrent),
		seen:          newRecent[struct{}](),
		delivered:     newRecent[struct{}](),
		owners:        newRecent[string](),
		lastEdit:      map[string]time.Time{},
		locks:         map[string]*jobLock{},
	}
	if b.progressEvery <= 0 {
		b.progressEvery = defaultProgressEvery
	}
	if b.tokenTTL <= 0 {
		b.tokenTTL = defaultTokenTTL
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("platform", string(paimeng.PlatformDiscord))

	s, err := discordgo.New("Bot " + cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	s.Client = &http.Client{
		Transport:     &rewriter{base: apiURL, next: client.Transport},
		Timeout:       client.Timeout,
		CheckRedirect: client.CheckRedirect,
		Jar:           client.Jar,
	}
	s.StateEnabled = false
	s.Identify.Intents = discordgo.IntentsNone // interactions need no intents
	s.Identify.Compress = false
	s.ShouldReconnectOnError = true
	s.AddHandler(b.onEvent)
	b.rest = s

	if b.appID == "" {
		ctx, cancel := context.WithTimeout(context.Background(), newTimeout)
		defer cancel()
		u, err := s.User("@me", discordgo.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("discord: GET /users/@me: %w", err)
		}
		b.appID = u.ID
	}
	b.log.Info("discord bot ready", "app_id", b.appID, "mode", b.mode, "guild_id", b.guildID)
	return b, nil
}

// Platform reports paimeng.PlatformDiscord.
func (b *Bot) Platform() paimeng.Platform { return paimeng.PlatformDiscord }

// Run registers the application commands (in GuildID, or globally) and,
// in gateway mode, connects to the gateway and handles interactions from
// it. It returns when ctx is done, after the interactions in hand are
// handled; temporary failures are retried with backoff, and a refusal
// (bad token, invalid command) is returned.
func (b *Bot) Run(ctx context.Context) error {
	defer b.waitIdle()
	if err := b.register(ctx); err != nil {
		return err
	}
	if b.mode == ModeGateway {
		if !b.openGateway(ctx) {
			return nil
		}
		defer func() {
			if err := b.rest.Close(); err != nil {
				b.log.Warn("closing the gateway failed", "err", err)
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// register overwrites the bot's commands with Commands().
func (b *Bot) register(ctx context.Context) error {
	backoff := time.Second
	for {
		cmds, err := b.rest.ApplicationCommandBulkOverwrite(b.appID, b.guildID, Commands(), discordgo.WithContext(ctx))
		if err == nil {
			b.log.Info("commands registered", "commands", len(cmds), "guild_id", b.guildID)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if !temporary(err) {
			return fmt.Errorf("discord: registering commands: %w", err)
		}
		b.log.Warn("registering commands failed", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// openGateway connects to the gateway, retrying until it works or ctx is
// done (false). discordgo reconnects by itself afterwards.
func (b *Bot) openGateway(ctx context.Context) bool {
	backoff := time.Second
	for {
		err := b.rest.Open()
		if err == nil {
			b.log.Info("gateway connected")
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		b.log.Warn("gateway connection failed", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
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

// begin and end count the interactions handled in the background.
func (b *Bot) begin() {
	b.mu.Lock()
	b.inFlight++
	b.mu.Unlock()
}

func (b *Bot) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
	if b.inFlight == 0 && b.idle != nil {
		close(b.idle)
		b.idle = nil
	}
}

// waitIdle waits (at most handleTimeout) for the interactions in hand.
func (b *Bot) waitIdle() {
	b.mu.Lock()
	if b.inFlight == 0 {
		b.mu.Unlock()
		return
	}
	if b.idle == nil {
		b.idle = make(chan struct{})
	}
	idle := b.idle
	b.mu.Unlock()
	t := time.NewTimer(handleTimeout + 5*time.Second)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// rewriter sends requests for Discord's API base to another base (a proxy
// or a local test server); discordgo computes its endpoints at init.
type rewriter struct {
	base string // without trailing slash
	next http.RoundTripper
}

func (t *rewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	api := strings.TrimSuffix(discordgo.EndpointAPI, "/")
	u := r.URL.String()
	if t.base == api || !strings.HasPrefix(u, api) {
		return next.RoundTrip(r)
	}
	nu, err := url.Parse(t.base + strings.TrimPrefix(u, api))
	if err != nil {
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.URL = nu
	r2.Host = nu.Host
	return next.RoundTrip(r2)
}

// recent remembers keys (with a value) for dedupeTTL, at most dedupeMax of
// them. The caller holds Bot.mu.
type recent[V any] struct {
	m map[string]stamped[V]
}

type stamped[V any] struct {
	v  V
	at time.Time
}

func newRecent[V any]() *recent[V] { return &recent[V]{m: map[string]stamped[V]{}} }

// add records k and reports whether it was new.
func (r *recent[V]) add(k string, v V, now time.Time) bool {
	if _, ok := r.get(k, now); ok {
		return false
	}
	r.put(k, v, now)
	return true
}

func (r *recent[V]) put(k string, v V, now time.Time) {
	if len(r.m) >= dedupeMax {
		for key, e := range r.m {
			if now.Sub(e.at) > dedupeTTL || len(r.m) >= dedupeMax {
				delete(r.m, key)
			}
		}
	}
	r.m[k] = stamped[V]{v: v, at: now}
}

func (r *recent[V]) get(k string, now time.Time) (V, bool) {
	e, ok := r.m[k]
	if !ok || now.Sub(e.at) > dedupeTTL {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (r *recent[V]) has(k string, now time.Time) bool {
	_, ok := r.get(k, now)
	return ok
}

// jobLock orders the edits of one job's response: the acknowledgement,
// progress and the result.
type jobLock struct {
	mu   sync.Mutex
	refs int
}

func (b *Bot) jobLockRef(id string) *jobLock {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.locks[id]
	if l == nil {
		l = &jobLock{}
		b.locks[id] = l
	}
	l.refs++
	return l
}

func (b *Bot) jobLockUnref(id string, l *jobLock) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(b.locks, id)
	}
}

// lockJob waits for the job's edits in flight and returns the unlock.
func (b *Bot) lockJob(id string) func() {
	l := b.jobLockRef(id)
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		b.jobLockUnref(id, l)
	}
}

// tryLockJob is lockJob that gives up (ok false) when an edit is in flight.
func (b *Bot) tryLockJob(id string) (unlock func(), ok bool) {
	l := b.jobLockRef(id)
	if !l.mu.TryLock() {
		b.jobLockUnref(id, l)
		return nil, false
	}
	return func() {
		l.mu.Unlock()
		b.jobLockUnref(id, l)
	}, true
}

// Wait waits until the interactions being handled are done, or ctx is.
// Run waits too when it returns; the program calls Wait again after its
// HTTP server stopped, for interactions that arrived meanwhile.
func (b *Bot) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.waitIdle(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("discord: interactions still being handled: %w", ctx.Err())
	}
}
