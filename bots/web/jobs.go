package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

// Largest text form field read; a longer prompt is rejected without
// reading it whole.
const maxFieldBytes = paimeng.MaxPromptRunes*4 + 1024

// Longest Idempotency-Key header accepted.
const maxIdempotencyKey = 200

// replyState is the web front end's state stored with each job.
type replyState struct {
	Lang paimeng.Lang `json:"lang"`
	// Nonce is fresh per HTTP request: a job that comes back from Submit
	// with another nonce was created by an earlier request with the same
	// idempotency key.
	Nonce string `json:"nonce"`
}

type progressView struct {
	Stage    string  `json:"stage"`
	Done     int     `json:"done"`
	Total    int     `json:"total"`
	Fraction float64 `json:"fraction"`
}

type jobView struct {
	ID            string            `json:"id"`
	Status        paimeng.JobStatus `json:"status"`
	Prompt        string            `json:"prompt"`
	Seconds       int               `json:"seconds"`
	Seed          int64             `json:"seed"`
	Mode          paimeng.Mode      `json:"mode"`
	Lane          paimeng.Lane      `json:"lane"`
	Price         int64             `json:"price"`
	Private       bool              `json:"private"`
	Progress      *progressView     `json:"progress"`
	QueuePosition int               `json:"queue_position"`
	VideoURL      *string           `json:"video_url"`
	PosterURL     *string           `json:"poster_url"`
	Error         *errorView        `json:"error"`
	CreatedAt     time.Time         `json:"created_at"`
	FinishedAt    *time.Time        `json:"finished_at"`
}

// view renders job for its owner; p is the latest known progress, if any.
func (s *Server) view(ctx context.Context, job *paimeng.Job, p *paimeng.Progress, lang paimeng.Lang) jobView {
	pos := 0
	if job.Status == paimeng.JobQueued {
		n, err := s.jobs.QueuePosition(ctx, job.ID)
		if err != nil {
			s.log.WarnContext(ctx, "queue position", "job_id", job.ID, "user", job.Identity.String(), "err", err)
		} else {
			pos = n
		}
	}
	return viewAt(job, p, pos, lang)
}

// viewAt renders job for its owner with a known queue position.
func viewAt(job *paimeng.Job, p *paimeng.Progress, pos int, lang paimeng.Lang) jobView {
	v := jobView{
		ID:         job.ID,
		Status:     job.Status,
		Prompt:     job.Prompt,
		Seconds:    job.Seconds,
		Seed:       job.Seed,
		Mode:       job.Mode,
		Lane:       job.Lane,
		Price:      job.Price,
		Private:    job.Private,
		CreatedAt:  job.CreatedAt,
		FinishedAt: job.FinishedAt,
	}
	if v.Mode == "" {
		v.Mode = paimeng.ModeStd
	}
	if v.Lane == "" {
		v.Lane = paimeng.LaneFast
	}
	if p != nil && !job.Status.Final() {
		v.Progress = &progressView{Stage: p.Stage, Done: p.Done, Total: p.Total, Fraction: p.Fraction()}
	}
	if job.Status == paimeng.JobQueued {
		v.QueuePosition = pos
	}
	if job.Status == paimeng.JobSucceeded {
		if job.VideoKey != "" {
			u := "/media/" + job.ID + "/video.mp4"
			v.VideoURL = &u
		}
		if job.PosterKey != "" {
			u := "/media/" + job.ID + "/poster.jpg"
			v.PosterURL = &u
		}
	}
	if job.ErrorCode != "" && job.Status != paimeng.JobSucceeded {
		v.Error = &errorView{Code: job.ErrorCode, Message: messageFor(job.ErrorCode, lang)}
	}
	return v
}

// upload is a parsed job form.
type upload struct {
	image   []byte
	prompt  string
	seconds int
	seed    int64
	mode    paimeng.Mode
	lane    paimeng.Lane
	name    string
}

// Longest display name accepted, in runes.
const maxNameRunes = 32

// handleCreateJob answers 201 with the new job, or 200 with the job an
// earlier request with the same Idempotency-Key created.
func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	user := id.String()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	up, err := readUpload(r)
	if err != nil {
		s.writeError(w, r, err, "user", user)
		return
	}

	userKey := id.UserID
	if id.Platform != paimeng.PlatformWeb {
		userKey = user
	}
	key := r.Header.Get("Idempotency-Key")
	switch {
	case key == "":
		key = "auto-" + randomHex(16)
	case len(key) > maxIdempotencyKey || !printableASCII(key):
		s.writeError(w, r, paimeng.Errorf(paimeng.EINVALID, "bad Idempotency-Key"), "user", user)
		return
	}
	lang := langOf(r)
	nonce := randomHex(12)
	reply, err := json.Marshal(replyState{Lang: lang, Nonce: nonce})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode reply state: %w", err), "user", user)
		return
	}
	job, err := s.sub.Submit(r.Context(), &paimeng.Request{
		Identity:       id,
		Lang:           lang,
		IdempotencyKey: "web:" + userKey + ":" + key,
		Image:          up.image,
		Prompt:         up.prompt,
		Seconds:        up.seconds,
		Seed:           up.seed,
		Mode:           up.mode,
		Lane:           up.lane,
		DisplayName:    up.name,
		Reply:          reply,
	})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("submit: %w", err), "user", user)
		return
	}
	status := http.StatusCreated
	var prior replyState
	if len(job.Reply) > 0 && json.Unmarshal(job.Reply, &prior) == nil && prior.Nonce != nonce {
		status = http.StatusOK
	}
	if status == http.StatusCreated {
		s.log.InfoContext(r.Context(), "job submitted", "job_id", job.ID, "user", user, "price", job.Price,
			"mode", string(job.Mode), "lane", string(job.Lane))
	}
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	writeJSON(w, status, s.view(r.Context(), job, s.hub.progress(job.ID), lang))
}

// readUpload streams the multipart form: image, prompt, seconds, seed,
// mode, lane, name. Unknown fields are skipped.
func readUpload(r *http.Request) (*upload, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		return nil, paimeng.Errorf(paimeng.EINVALID, "content type %q is not multipart/form-data", r.Header.Get("Content-Type"))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, paimeng.Errorf(paimeng.EINVALID, "multipart: %v", err)
	}
	up := &upload{}
	var secondsField, seedField, modeField, laneField, nameField string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bodyError("read form", err)
		}
		switch part.FormName() {
		case "image":
			b, err := io.ReadAll(io.LimitReader(part, paimeng.MaxImageBytes+1))
			if err != nil {
				return nil, bodyError("read image", err)
			}
			if len(b) > paimeng.MaxImageBytes {
				return nil, paimeng.Errorf(paimeng.EImageTooLarge, "image over %d bytes", paimeng.MaxImageBytes)
			}
			up.image = b
		case "prompt":
			v, err := readField(part)
			if err != nil {
				return nil, err
			}
			up.prompt = v
		case "seconds":
			if secondsField, err = readField(part); err != nil {
				return nil, err
			}
		case "seed":
			if seedField, err = readField(part); err != nil {
				return nil, err
			}
		case "mode":
			if modeField, err = readField(part); err != nil {
				return nil, err
			}
		case "lane":
			if laneField, err = readField(part); err != nil {
				return nil, err
			}
		case "name":
			if nameField, err = readField(part); err != nil {
				return nil, err
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError("skip field", err)
			}
		}
		_ = part.Close()
	}

	if len(up.image) == 0 {
		return nil, paimeng.Errorf(paimeng.ENoImage, "no image part")
	}
	up.prompt = strings.TrimSpace(up.prompt)
	if !utf8.ValidString(up.prompt) {
		return nil, paimeng.Errorf(paimeng.EINVALID, "prompt is not UTF-8")
	}
	if utf8.RuneCountInString(up.prompt) > paimeng.MaxPromptRunes {
		return nil, paimeng.Errorf(paimeng.EPromptTooLong, "prompt over %d runes", paimeng.MaxPromptRunes)
	}
	if v := strings.TrimSpace(secondsField); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 5 && n != 10) {
			return nil, paimeng.Errorf(paimeng.EBadOption, "seconds %q is not 5 or 10", v)
		}
		up.seconds = n
	}
	if v := strings.TrimSpace(seedField); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, paimeng.Errorf(paimeng.EBadOption, "seed %q is not a non-negative integer", v)
		}
		up.seed = n
	}
	switch m := paimeng.Mode(strings.ToLower(strings.TrimSpace(modeField))); m {
	case "", paimeng.ModeStd, paimeng.ModePro:
		up.mode = m
	default:
		return nil, paimeng.Errorf(paimeng.EBadOption, "mode %q is not std or pro", modeField)
	}
	switch l := paimeng.Lane(strings.ToLower(strings.TrimSpace(laneField))); l {
	case "", paimeng.LaneFast, paimeng.LaneRelax:
		up.lane = l
	default:
		return nil, paimeng.Errorf(paimeng.EBadOption, "lane %q is not fast or relax", laneField)
	}
	name, err := displayName(nameField)
	if err != nil {
		return nil, err
	}
	up.name = name
	return up, nil
}

// displayName cleans an optional name for the leaderboards: spaces
// collapsed, no control characters, at most maxNameRunes.
func displayName(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", paimeng.Errorf(paimeng.EINVALID, "name is not UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return "", paimeng.Errorf(paimeng.EINVALID, "name has control characters")
		}
	}
	name := strings.Join(strings.Fields(v), " ")
	if utf8.RuneCountInString(name) > maxNameRunes {
		return "", paimeng.Errorf(paimeng.EINVALID, "name over %d runes", maxNameRunes)
	}
	return name, nil
}

// readField reads a small text field; anything longer than any valid
// prompt is a prompt-too-long error.
func readField(part io.Reader) (string, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", bodyError("read field", err)
	}
	if n > maxFieldBytes {
		return "", paimeng.Errorf(paimeng.EPromptTooLong, "form field over %d bytes", maxFieldBytes)
	}
	return b.String(), nil
}

// bodyError keeps the body-size error recognisable and makes any other
// read failure a bad request.
func bodyError(what string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return paimeng.Errorf(paimeng.EINVALID, "%s: %v", what, err)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// handleGetJob returns the caller's job; other members' jobs are not found.
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	job, err := s.ownedJob(r.Context(), id, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, "user", id.String(), "job_id", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), job, s.hub.progress(job.ID), langOf(r)))
}

// ownedJob loads a job that belongs to id: the same identity, or another
// identity on the same account.
func (s *Server) ownedJob(ctx context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	job, err := s.jobs.Job(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("load job: %w", err)
	}
	if job.Identity == id {
		return job, nil
	}
	acct, err := s.community.Account(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load account: %w", err)
	}
	if job.AccountID == 0 || acct.ID != job.AccountID {
		return nil, paimeng.Errorf(paimeng.ENOTFOUND, "job %s is not owned by %s", jobID, id)
	}
	return job, nil
}
