package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paimeng/paimeng"
)

// Largest JSON request body read.
const maxJSONBytes = 4 << 10

// Leaderboard and gallery page sizes: default and most.
const (
	defaultBoardLimit   = 10
	maxBoardLimit       = 100
	defaultGalleryLimit = 24
	maxGalleryLimit     = 60
)

// readJSON decodes a small JSON body into v; any problem is EINVALID.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return paimeng.Errorf(paimeng.EINVALID, "empty body, want JSON")
		}
		return paimeng.Errorf(paimeng.EINVALID, "JSON body: %v", err)
	}
	return nil
}

// intParam reads an optional integer query parameter in [1, max].
func intParam(q url.Values, name string, def, max int) (int, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, paimeng.Errorf(paimeng.EINVALID, "%s %q is not a number from 1 to %d", name, v, max)
	}
	return n, nil
}

// member runs h for an identified caller, answering errors the usual way.
func (s *Server) member(w http.ResponseWriter, r *http.Request, h func(id paimeng.Identity) error) {
	id, err := s.identify(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := h(id); err != nil {
		attrs := []any{"user", id.String()}
		if jobID := r.PathValue("id"); jobID != "" {
			attrs = append(attrs, "job_id", jobID)
		}
		s.writeError(w, r, err, attrs...)
	}
}

type claimView struct {
	Amount  int64 `json:"amount"`
	Balance int64 `json:"balance"`
}

type balanceView struct {
	Balance int64 `json:"balance"`
}

type linkCodeView struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

type codeBody struct {
	Code string `json:"code"`
}

// handleDaily pays the daily check-in.
func (s *Server) handleDaily(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		c, err := s.community.Daily(r.Context(), id)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "daily claimed", "user", id.String(), "amount", c.Amount)
		writeJSON(w, http.StatusOK, claimView{Amount: c.Amount, Balance: c.Balance})
		return nil
	})
}

// handleRedeem claims a redemption code.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		code, err := readCode(w, r)
		if err != nil {
			return err
		}
		c, err := s.community.Redeem(r.Context(), id, code)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "code redeemed", "user", id.String(), "amount", c.Amount)
		writeJSON(w, http.StatusOK, claimView{Amount: c.Amount, Balance: c.Balance})
		return nil
	})
}

// readCode reads {"code": "..."}.
func readCode(w http.ResponseWriter, r *http.Request) (string, error) {
	var body codeBody
	if err := readJSON(w, r, &body); err != nil {
		return "", err
	}
	code := strings.TrimSpace(body.Code)
	if code == "" {
		return "", paimeng.Errorf(paimeng.EINVALID, "no code")
	}
	return code, nil
}

// handleLinkCode issues a one-time code that another identity claims to
// join this account.
func (s *Server) handleLinkCode(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		lc, err := s.community.NewLinkCode(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, linkCodeView{Code: lc.Code, ExpiresAt: lc.ExpiresAt})
		return nil
	})
}

// handleLinkClaim joins the caller to the account that issued the code.
func (s *Server) handleLinkClaim(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		code, err := readCode(w, r)
		if err != nil {
			return err
		}
		acct, err := s.community.Link(r.Context(), id, code)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "identity linked", "user", id.String(), "account_id", acct.ID)
		writeJSON(w, http.StatusOK, balanceView{Balance: acct.Balance})
		return nil
	})
}

// handleUnlink gives the caller an account of its own again.
func (s *Server) handleUnlink(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		acct, err := s.community.Unlink(r.Context(), id)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "identity unlinked", "user", id.String(), "account_id", acct.ID)
		writeJSON(w, http.StatusOK, balanceView{Balance: acct.Balance})
		return nil
	})
}

type queueView struct {
	Jobs []jobView `json:"jobs"`
}

// handleQueue lists the caller's unfinished jobs with their positions.
func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		qs, err := s.community.MemberJobs(r.Context(), id)
		if err != nil {
			return err
		}
		lang := langOf(r)
		v := queueView{Jobs: make([]jobView, 0, len(qs))}
		for _, q := range qs {
			if q.Job == nil {
				continue
			}
			v.Jobs = append(v.Jobs, viewAt(q.Job, s.hub.progress(q.Job.ID), q.Position, lang))
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}

// handleCancel cancels one of the caller's queued jobs.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		job, err := s.community.Cancel(r.Context(), id, r.PathValue("id"))
		if err != nil {
			return err
		}
		if job.Status.Final() {
			s.hub.setFinal(job.ID, time.Now())
		}
		s.log.InfoContext(r.Context(), "job canceled", "job_id", job.ID, "user", id.String())
		writeJSON(w, http.StatusOK, s.view(r.Context(), job, nil, langOf(r)))
		return nil
	})
}

type likeView struct {
	Added bool  `json:"added"`
	Likes int64 `json:"likes"`
}

// handleLike likes a video once per member.
func (s *Server) handleLike(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		added, likes, err := s.community.Like(r.Context(), id, r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, likeView{Added: added, Likes: likes})
		return nil
	})
}

// handlePrivate hides one of the caller's videos from the gallery, or
// shows it again.
func (s *Server) handlePrivate(w http.ResponseWriter, r *http.Request) {
	s.member(w, r, func(id paimeng.Identity) error {
		var body struct {
			Private *bool `json:"private"`
		}
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
		if body.Private == nil {
			return paimeng.Errorf(paimeng.EINVALID, `want {"private": true|false}`)
		}
		if err := s.community.SetPrivate(r.Context(), id, r.PathValue("id"), *body.Private); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

type priceView struct {
	Engine  string       `json:"engine"`
	Mode    paimeng.Mode `json:"mode"`
	Seconds int          `json:"seconds"`
	Lane    paimeng.Lane `json:"lane"`
	Price   int64        `json:"price"`
}

type priceRowView struct {
	Engine  string       `json:"engine"`
	Mode    paimeng.Mode `json:"mode"`
	Seconds int          `json:"seconds"`
	Fast    int64        `json:"fast"`
	Relax   int64        `json:"relax"`
}

type priceTableView struct {
	Rows []priceRowView `json:"rows"`
}

// handlePrice answers one price, or the whole table when no parameter is
// given. Public.
func (s *Server) handlePrice(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Prices == nil {
		s.writeError(w, r, paimeng.Errorf(paimeng.ENOTFOUND, "no price table configured"))
		return
	}
	q := r.URL.Query()
	if !q.Has("engine") && !q.Has("mode") && !q.Has("seconds") && !q.Has("lane") {
		engines := s.cfg.Engines
		if len(engines) == 0 {
			engines = []string{"*"}
		}
		rows := s.cfg.Prices.Rows(engines)
		v := priceTableView{Rows: make([]priceRowView, 0, len(rows))}
		for _, row := range rows {
			v.Rows = append(v.Rows, priceRowView{Engine: row.Engine, Mode: row.Mode, Seconds: row.Seconds, Fast: row.Fast, Relax: row.Relax})
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	engine := strings.TrimSpace(q.Get("engine"))
	switch {
	case engine == "" && len(s.cfg.Engines) > 0:
		engine = s.cfg.Engines[0]
	case engine == "":
		engine = "*"
	case len(s.cfg.Engines) > 0 && !slices.Contains(s.cfg.Engines, engine):
		s.writeError(w, r, paimeng.Errorf(paimeng.EUnknownEngine, "engine %q", engine))
		return
	}
	v := priceView{
		Engine: engine,
		Mode:   paimeng.Mode(strings.ToLower(strings.TrimSpace(q.Get("mode")))),
		Lane:   paimeng.Lane(strings.ToLower(strings.TrimSpace(q.Get("lane")))),
	}
	if sec := strings.TrimSpace(q.Get("seconds")); sec != "" {
		n, err := strconv.Atoi(sec)
		if err != nil {
			s.writeError(w, r, paimeng.Errorf(paimeng.EBadOption, "seconds %q is not a number", sec))
			return
		}
		v.Seconds = n
	}
	price, err := s.cfg.Prices.Price(v.Engine, v.Mode, v.Seconds, v.Lane)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v.Price = price
	if v.Mode == "" {
		v.Mode = paimeng.ModeStd
	}
	if v.Seconds == 0 {
		v.Seconds = 5
	}
	if v.Lane == "" {
		v.Lane = paimeng.LaneFast
	}
	writeJSON(w, http.StatusOK, v)
}

type leaderRowView struct {
	Rank      int                `json:"rank"`
	Name      string             `json:"name"`
	Platforms []paimeng.Platform `json:"platforms"`
	Score     int64              `json:"score"`
}

type leaderboardView struct {
	Board  paimeng.Board   `json:"board"`
	Period paimeng.Period  `json:"period"`
	Rows   []leaderRowView `json:"rows"`
}

// handleLeaderboard ranks members. Public.
func (s *Server) handleLeaderboard(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	board := paimeng.Board(strings.ToLower(strings.TrimSpace(q.Get("board"))))
	switch board {
	case "":
		board = paimeng.BoardGenerations
	case paimeng.BoardGenerations, paimeng.BoardSpent, paimeng.BoardLikes:
	default:
		s.writeError(w, r, paimeng.Errorf(paimeng.EINVALID, "board %q is not generations, spent or likes", board))
		return
	}
	period := paimeng.Period(strings.ToLower(strings.TrimSpace(q.Get("period"))))
	switch period {
	case "":
		period = paimeng.PeriodWeek
	case paimeng.PeriodWeek, paimeng.PeriodMonth, paimeng.PeriodAll:
	default:
		s.writeError(w, r, paimeng.Errorf(paimeng.EINVALID, "period %q is not week, month or all", period))
		return
	}
	limit, err := intParam(q, "limit", defaultBoardLimit, maxBoardLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := s.community.Leaderboard(r.Context(), board, period, limit)
	if err != nil {
		s.writeError(w, r, err, "board", string(board), "period", string(period))
		return
	}
	v := leaderboardView{Board: board, Period: period, Rows: make([]leaderRowView, 0, len(rows))}
	for _, row := range rows {
		platforms := row.Platforms
		if platforms == nil {
			platforms = []paimeng.Platform{}
		}
		v.Rows = append(v.Rows, leaderRowView{Rank: row.Rank, Name: row.Name, Platforms: platforms, Score: row.Score})
	}
	writeJSON(w, http.StatusOK, v)
}

type galleryItemView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prompt     string     `json:"prompt"`
	Seconds    int        `json:"seconds"`
	PosterURL  *string    `json:"poster_url"`
	VideoURL   string     `json:"video_url"`
	ShareURL   string     `json:"share_url"`
	Likes      int64      `json:"likes"`
	FinishedAt *time.Time `json:"finished_at"`
}

type galleryView struct {
	Items []galleryItemView `json:"items"`
	// Next is the before= value of the following page; null on the last.
	Next *string `json:"next"`
}

// handleGallery lists public videos, newest first. Public.
func (s *Server) handleGallery(w http.ResponseWriter, r *http.Request) {
	if s.gallery == nil {
		s.writeError(w, r, paimeng.Errorf(paimeng.ENOTFOUND, "no gallery"))
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultGalleryLimit, maxGalleryLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var before time.Time
	if v := strings.TrimSpace(q.Get("before")); v != "" {
		if before, err = time.Parse(time.RFC3339, v); err != nil {
			s.writeError(w, r, paimeng.Errorf(paimeng.EINVALID, "before %q is not an RFC 3339 time", v))
			return
		}
	}
	items, err := s.gallery.Gallery(r.Context(), limit, before)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := galleryView{Items: make([]galleryItemView, 0, len(items))}
	for _, it := range items {
		j := it.Job
		if j == nil || j.Status != paimeng.JobSucceeded || j.Private || j.VideoKey == "" {
			continue // never list what /media would refuse
		}
		video := "/media/" + j.ID + "/video.mp4"
		item := galleryItemView{
			ID:         j.ID,
			Name:       it.Name,
			Prompt:     j.Prompt,
			Seconds:    j.Seconds,
			VideoURL:   video,
			ShareURL:   s.cfg.PublicURL + video,
			Likes:      it.Likes,
			FinishedAt: j.FinishedAt,
		}
		if j.PosterKey != "" {
			p := "/media/" + j.ID + "/poster.jpg"
			item.PosterURL = &p
		}
		v.Items = append(v.Items, item)
	}
	if len(items) == limit {
		if last := items[len(items)-1].Job; last != nil && last.FinishedAt != nil {
			next := last.FinishedAt.UTC().Format(time.RFC3339Nano)
			v.Next = &next
		}
	}
	writeJSON(w, http.StatusOK, v)
}
