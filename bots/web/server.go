// Package web is the browser and HTTP API front end: members upload an
// image and a prompt, follow progress live, download the finished clip,
// claim and redeem credits, link accounts, and browse the leaderboards and
// the public gallery.
//
// Routes ("public" ones need no identity):
//
//	GET  /                            the playground page (zh/en)
//	GET  /top                         leaderboards and gallery page (zh/en), public
//	GET  /healthz                     "ok"
//	POST /api/v1/jobs                 multipart image, prompt, seconds, seed, mode, lane, name; Idempotency-Key
//	GET  /api/v1/jobs/{id}            the caller's job
//	GET  /api/v1/jobs/{id}/events     Server-Sent Events: "progress"…, then "done"
//	POST /api/v1/jobs/{id}/cancel     cancel a queued job → the job
//	POST /api/v1/jobs/{id}/like       {added, likes}
//	PUT  /api/v1/jobs/{id}/private    {"private": bool} → 204
//	GET  /api/v1/queue                {jobs: the caller's unfinished jobs with positions}
//	GET  /api/v1/me                   {user, balance, banned}
//	POST /api/v1/daily                {amount, balance}
//	POST /api/v1/redeem               {"code"} → {amount, balance}
//	POST /api/v1/link                 {code, expires_at}: a code to claim from another account
//	POST /api/v1/link/claim           {"code"} → {balance}
//	POST /api/v1/unlink               {balance}
//	GET  /api/v1/price                ?engine=&mode=&seconds=&lane= → {price}; without them {rows}, public
//	GET  /api/v1/leaderboard          ?board=&period=&limit= → {board, period, rows}, public
//	GET  /api/v1/gallery              ?limit=&before= → {items, next}, public
//	GET  /v/{id}                      a phone-sized page playing one clip
//	GET  /media/{id}/video.mp4        the clip (Range supported); a private job's only to its owner
//	GET  /media/{id}/poster.jpg       the poster
//
// API callers authenticate with "Authorization: Bearer <token>"; in
// playground mode a browser without a token gets a cookie user. Errors are
// {"error": {"code", "message"}} with member-facing text in the language of
// Accept-Language.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paimeng/paimeng"
)

// Tokens resolves API bearer tokens to identities.
type Tokens interface {
	// IdentityForToken returns an EUNAUTH error for an unknown token.
	IdentityForToken(ctx context.Context, token string) (paimeng.Identity, error)
}

// Gallery lists public, succeeded videos, newest first, finished before
// before (all when before is zero). The gallery route uses the community
// service passed to New when it implements Gallery, else the job service
// when that does (the credit store does), else it answers not found.
type Gallery interface {
	Gallery(ctx context.Context, limit int, before time.Time) ([]paimeng.GalleryItem, error)
}

// Config configures a Server. The zero value is usable.
type Config struct {
	// Playground issues a local user per browser through a cookie
	// (identity web:<random>) for development; bearer tokens still work.
	Playground bool
	Logger     *slog.Logger // defaults to slog.Default()
	// MaxUploadBytes bounds a job upload body; defaults to two pictures
	// at paimeng.MaxImageBytes (image and image_tail) in base64, plus
	// 1 MB for the rest.
	MaxUploadBytes int64
	// Prices answers the price routes; nil leaves them not found. It
	// should be the table the Submitter charges by.
	Prices *paimeng.Prices
	// Engines lists the engines members may pick; the first is the
	// default. Empty means the price table's default ("*").
	Engines []string
	// PublicURL is where members reach this server (https://example.com),
	// for share links; an https URL also marks the playground cookie Secure
	// behind a TLS-terminating proxy.
	PublicURL string
}

// Cookie carrying the playground user.
const playgroundCookie = "paimeng_web"

// Server serves the web pages, the JSON API and the media, and delivers
// progress and results of web jobs to watching browsers.
type Server struct {
	cfg       Config
	log       *slog.Logger
	sub       paimeng.Submitter
	jobs      paimeng.JobService
	community paimeng.Community
	gallery   Gallery // nil when neither the community nor the jobs list one
	tokens    Tokens
	blobs     paimeng.BlobStore
	hub       *hub

	// SSE timing.
	pollEvery      time.Duration // reload the job (status, queue position)
	heartbeatEvery time.Duration // keep-alive comment
	minEventGap    time.Duration // at most one progress event per gap
}

// New returns a Server. tokens may be nil when only the playground is used.
func New(cfg Config, sub paimeng.Submitter, jobs paimeng.JobService, community paimeng.Community, tokens Tokens, blobs paimeng.BlobStore) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = defaultMaxUpload
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	cfg.Engines = slices.Clone(cfg.Engines)
	gallery, ok := community.(Gallery)
	if !ok {
		gallery, _ = jobs.(Gallery)
	}
	return &Server{
		cfg:            cfg,
		log:            cfg.Logger.With("platform", string(paimeng.PlatformWeb)),
		sub:            sub,
		jobs:           jobs,
		community:      community,
		gallery:        gallery,
		tokens:         tokens,
		blobs:          blobs,
		hub:            newHub(),
		pollEvery:      3 * time.Second,
		heartbeatEvery: 15 * time.Second,
		minEventGap:    250 * time.Millisecond,
	}
}

// Handler returns every route of the front end.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /top", s.handleTopPage)
	mux.HandleFunc("GET /v/{id}", s.handleWatch)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("POST /api/v1/jobs", s.handleCreateJob)
	mux.HandleFunc("GET /api/v1/jobs/{id}", s.handleGetJob)
	mux.HandleFunc("GET /api/v1/jobs/{id}/events", s.handleEvents)
	mux.HandleFunc("POST /api/v1/jobs/{id}/cancel", s.handleCancel)
	mux.HandleFunc("POST /api/v1/jobs/{id}/like", s.handleLike)
	mux.HandleFunc("PUT /api/v1/jobs/{id}/private", s.handlePrivate)
	mux.HandleFunc("GET /api/v1/queue", s.handleQueue)
	mux.HandleFunc("GET /api/v1/me", s.handleMe)
	mux.HandleFunc("POST /api/v1/daily", s.handleDaily)
	mux.HandleFunc("POST /api/v1/redeem", s.handleRedeem)
	mux.HandleFunc("POST /api/v1/link", s.handleLinkCode)
	mux.HandleFunc("POST /api/v1/link/claim", s.handleLinkClaim)
	mux.HandleFunc("POST /api/v1/unlink", s.handleUnlink)
	mux.HandleFunc("GET /api/v1/price", s.handlePrice)
	mux.HandleFunc("GET /api/v1/leaderboard", s.handleLeaderboard)
	mux.HandleFunc("GET /api/v1/gallery", s.handleGallery)
	mux.HandleFunc("GET /media/{id}/video.mp4", s.handleVideo)
	mux.HandleFunc("GET /media/{id}/poster.jpg", s.handlePoster)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, paimeng.Errorf(paimeng.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// Platform implements paimeng.Deliverer.
func (s *Server) Platform() paimeng.Platform { return paimeng.PlatformWeb }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

type meView struct {
	User    string `json:"user"`
	Balance int64  `json:"balance"`
	Banned  bool   `json:"banned"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	acct, err := s.community.Account(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err, "user", id.String())
		return
	}
	writeJSON(w, http.StatusOK, meView{User: id.String(), Balance: acct.Balance, Banned: acct.Banned})
}

// identify returns the caller: a bearer token wins; otherwise, in
// playground mode, the cookie user, issued on first sight.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) (paimeng.Identity, error) {
	id, err := s.caller(r)
	if err == nil || !s.cfg.Playground || r.Header.Get("Authorization") != "" {
		return id, err
	}
	user := "pg" + randomHex(16)
	http.SetCookie(w, &http.Cookie{
		Name:     playgroundCookie,
		Value:    user,
		Path:     "/",
		MaxAge:   365 * 24 * 3600,
		HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://"),
		SameSite: http.SameSiteLaxMode,
	})
	return paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user}, nil
}

// caller is identify without issuing a playground user: the bearer
// token's identity, or the playground cookie's, or an EUNAUTH error.
func (s *Server) caller(r *http.Request) (paimeng.Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "malformed authorization header")
		}
		if s.tokens == nil {
			return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "bearer tokens not accepted")
		}
		id, err := s.tokens.IdentityForToken(r.Context(), token)
		if err != nil {
			return paimeng.Identity{}, err
		}
		if id.IsZero() {
			return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "token maps to no identity")
		}
		return id, nil
	}
	if !s.cfg.Playground {
		return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "missing bearer token")
	}
	if c, err := r.Cookie(playgroundCookie); err == nil && validPlaygroundUser(c.Value) {
		return paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: c.Value}, nil
	}
	return paimeng.Identity{}, paimeng.Errorf(paimeng.EUNAUTH, "no playground user yet")
}

// validPlaygroundUser accepts only ids shaped like issued ones, so a cookie
// cannot name an arbitrary web user.
func validPlaygroundUser(v string) bool {
	if len(v) != 34 || !strings.HasPrefix(v, "pg") {
		return false
	}
	_, err := hex.DecodeString(v[2:])
	return err == nil && strings.ToLower(v) == v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// langOf picks zh or en from Accept-Language by quality, falling back to
// Chinese.
func langOf(r *http.Request) paimeng.Lang {
	best, bestQ := "", -1.0
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if !strings.HasPrefix(tag, "zh") && !strings.HasPrefix(tag, "en") {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			best, bestQ = tag, q
		}
	}
	return paimeng.LangFromCode(best)
}
