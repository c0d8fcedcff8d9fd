// Package wechat is the WeChat official-account front end. WeChat posts
// each reader message to the callback URL and wants a passive reply within
// five seconds; images carry no caption, so the conversation has two
// steps: the reader sends a picture, then a sentence saying how the camera
// moves, and that sentence becomes the job's prompt (two pictures and a
// prompt with --tail or 结束帧 make a clip from the first to the second,
// the end frame). The bot answers the community commands (余额, 签到,
// 兑换…) through bots/command's handler and delivers finished videos by
// customer-service message (verified accounts) or, without that
// permission, as the passive reply to the reader's next message.
//
// Signatures are checked here (constant time, with a timestamp window)
// before github.com/silenceper/wechat/v2's official-account server decrypts
// and parses a message; every API call (access token, media, customer
// service, menu) goes through this package's own HTTP client so that the
// API host is configurable. The root package of that library is never
// imported.
package wechat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Config configures a Bot. Zero values take the defaults.
type Config struct {
	AppID, Secret, Token, AESKey string // AESKey "" → plain mode only

	APIURL string // default https://api.weixin.qq.com

	// CustomerService delivers results by customer-service message (needs
	// a verified account). Without it, results wait for the reader's next
	// message and go out as its passive reply.
	CustomerService bool

	PublicURL string // web front end base, for /v/<job id> links

	ImageTTL    time.Duration // default 10 min: an image waits this long for its prompt (the last two are kept)
	ReplyBudget time.Duration // default 700ms: a passive reply never waits longer than this (at most 4s)
	// Shrink re-encodes the MP4 at in into out under maxBytes (media.Shrink);
	// nil sends a link to the web page for videos over 10 MB instead.
	Shrink func(ctx context.Context, in, out string, maxBytes int64) error

	// HTTPClient makes every API call and downloads images. Default: a
	// client with a one-minute timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger // default slog.Default()
}

// CallbackPath is where Handler receives WeChat's callbacks.
const CallbackPath = "/wechat"

// WeChat limits and housekeeping.
const (
	defaultAPIURL      = "https://api.weixin.qq.com"
	defaultImageTTL    = 10 * time.Minute
	defaultReplyBudget = 700 * time.Millisecond
	maxReplyBudget     = 4 * time.Second // WeChat gives up on a callback after 5 s
	maxBody            = 1 << 20         // a callback request body
	maxClockSkew       = 5 * time.Minute // timestamp window of signed callbacks
	handleTimeout      = 2 * time.Minute // one message's work, download and submit included
	maxConcurrent      = 256             // messages worked on at once
	seenTTL            = time.Hour       // Redis dedup keys of messages
	callsForget        = 10 * time.Minute
	callsMax           = 20000
	csWindow           = 48 * time.Hour // customer-service window after a reader's message
	csWindowMargin     = 5 * time.Minute
	csQuota            = 20       // customer-service messages per reader message
	maxVideoBytes      = 10 << 20 // temporary video media and video messages
	pendingTTL         = 7 * 24 * time.Hour
	mediaTTL           = 60 * time.Hour // temporary media live three days
	deliveredTTL       = 7 * 24 * time.Hour
)

// Bot is the WeChat front end and the WeChat paimeng.Deliverer.
type Bot struct {
	appID, secret, token, aesKey string
	apiURL                       string
	customerService              bool
	shrink                       func(ctx context.Context, in, out string, maxBytes int64) error
	publicURL                    string
	imageTTL, budget             time.Duration
	client                       *http.Client
	log                          *slog.Logger
	rdb                          redis.UniversalClient
	prefix                       string // Redis keys: paimeng:wechat:<app id>:

	sub       paimeng.Submitter
	jobs      paimeng.JobService
	community paimeng.Community
	handler   *command.Handler
	blobs     paimeng.BlobStore

	sem chan struct{}
	wg  sync.WaitGroup // messages worked on in the background

	mu    sync.Mutex
	calls map[string]*call // recent messages by dedup key
}

// New returns a bot ready to serve Handler. Text prompts go to sub; every
// other command goes to handler; rdb keeps the conversation state, the
// dedup keys, the access token and pending results, shared by replicas.
func New(cfg Config, rdb redis.UniversalClient, sub paimeng.Submitter, jobs paimeng.JobService,
	community paimeng.Community, handler *command.Handler, blobs paimeng.BlobStore) (*Bot, error) {
	if sub == nil || jobs == nil || community == nil || handler == nil || blobs == nil {
		return nil, errors.New("wechat: submitter, job service, community, command handler and blob store are required")
	}
	b, err := newBot(cfg, rdb)
	if err != nil {
		return nil, err
	}
	b.sub, b.jobs, b.community, b.handler, b.blobs = sub, jobs, community, handler, blobs
	return b, nil
}

// newBot checks cfg and returns a bot that can call the API (the access
// token cached in rdb) but has no services to answer readers with.
func newBot(cfg Config, rdb redis.UniversalClient) (*Bot, error) {
	if cfg.AppID == "" || cfg.Secret == "" || cfg.Token == "" {
		return nil, errors.New("wechat: app id, app secret and token are required")
	}
	if cfg.AESKey != "" {
		key, err := base64.StdEncoding.DecodeString(cfg.AESKey + "=")
		if len(cfg.AESKey) != 43 || err != nil || len(key) != 32 {
			return nil, errors.New("wechat: EncodingAESKey must be 43 characters of base64 (32 bytes)")
		}
	}
	if rdb == nil {
		return nil, errors.New("wechat: redis is required (the access token and conversations live there)")
	}
	b := &Bot{
		appID:           cfg.AppID,
		secret:          cfg.Secret,
		token:           cfg.Token,
		aesKey:          cfg.AESKey,
		apiURL:          strings.TrimRight(cfg.APIURL, "/"),
		customerService: cfg.CustomerService,
		shrink:          cfg.Shrink,
		publicURL:       strings.TrimRight(cfg.PublicURL, "/"),
		imageTTL:        cfg.ImageTTL,
		budget:          cfg.ReplyBudget,
		client:          cfg.HTTPClient,
		log:             cfg.Logger,
		rdb:             rdb,
		prefix:          "paimeng:wechat:" + cfg.AppID + ":",
		sem:             make(chan struct{}, maxConcurrent),
		calls:           map[string]*call{},
	}
	if b.apiURL == "" {
		b.apiURL = defaultAPIURL
	}
	if !strings.HasPrefix(b.apiURL, "http://") && !strings.HasPrefix(b.apiURL, "https://") {
		return nil, fmt.Errorf("wechat: bad API URL %q", cfg.APIURL)
	}
	if b.imageTTL <= 0 {
		b.imageTTL = defaultImageTTL
	}
	if b.budget <= 0 {
		b.budget = defaultReplyBudget
	}
	b.budget = min(b.budget, maxReplyBudget)
	if b.client == nil {
		b.client = &http.Client{Timeout: time.Minute}
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("platform", string(paimeng.PlatformWeChat))
	return b, nil
}

// SetMenu creates the account's custom menu (see DefaultMenu) using only
// cfg's API settings and the access token shared through rdb: what
// `paimeng admin wechat menu` runs.
func SetMenu(ctx context.Context, cfg Config, rdb redis.UniversalClient, menuJSON []byte) error {
	b, err := newBot(cfg, rdb)
	if err != nil {
		return err
	}
	return b.CreateMenu(ctx, menuJSON)
}

// Platform reports paimeng.PlatformWeChat.
func (b *Bot) Platform() paimeng.Platform { return paimeng.PlatformWeChat }

// key is a Redis key of this account.
func (b *Bot) key(parts ...string) string { return b.prefix + strings.Join(parts, ":") }

// identity is the member behind an openid.
func identity(openID string) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformWeChat, UserID: openID}
}

// videoURL is the web page of a job's video, or "" without PublicURL.
func (b *Bot) videoURL(jobID string) string {
	if b.publicURL == "" {
		return ""
	}
	return b.publicURL + "/v/" + jobID
}

// background runs fn after the reply, bounded by handleTimeout and the
// concurrency limit; dropped runs instead when fn cannot start in time.
func (b *Bot) background(fn func(ctx context.Context), dropped func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
		defer cancel()
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			b.log.Error("message dropped: too many in hand")
			dropped()
			return
		}
		defer func() { <-b.sem }()
		fn(ctx)
	}()
}

// Wait waits until the messages worked on in the background are done, or
// ctx is; the program calls it on shutdown after the HTTP server stopped.
func (b *Bot) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wechat: background work still running: %w", ctx.Err())
	}
}
