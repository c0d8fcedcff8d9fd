package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

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
	Engine        string            `json:"engine,omitempty"`
	Private       bool              `json:"private"`
	Progress      *progressView     `json:"progress"`
	QueuePosition int               `json:"queue_position"`
	VideoURL      *string           `json:"video_url"`
	PosterURL     *string           `json:"poster_url"`
	Error         *errorView        `json:"error"`
	CreatedAt     time.Time         `json:"created_at"`
	FinishedAt    *time.Time        `json:"finished_at"`

	FPS         int            `json:"fps,omitempty"`
	Resolution  int            `json:"resolution,omitempty"`
	AspectRatio paimeng.Aspect `json:"aspect_ratio,omitempty"`
	EndFrame    bool           `json:"image_tail,omitempty"` // the job has an end frame
	// Notes say what the request asked for that was not done (a
	// negative prompt); only in the answer to the request itself.
	Notes []string `json:"notes,omitempty"`
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
		Engine:     job.Engine,
		Price:      job.Price,
		Private:    job.Private,
		CreatedAt:  job.CreatedAt,
		FinishedAt: job.FinishedAt,

		FPS:         job.FPS,
		Resolution:  job.Resolution,
		AspectRatio: job.Aspect,
		EndFrame:    job.TailKey != "",
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
		Tail:           up.tail,
		Prompt:         up.prompt,
		NegativePrompt: up.negative,
		Seconds:        up.seconds,
		Seed:           up.seed,
		Mode:           up.mode,
		Lane:           up.lane,
		Camera:         up.camera,
		FPS:            up.fps,
		Resolution:     up.resolution,
		Aspect:         up.aspect,
		DisplayName:    up.name,
		Engine:         s.engine(up),
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
	v := s.view(r.Context(), job, s.hub.progress(job.ID), lang)
	if up.negative != "" {
		v.Notes = append(v.Notes, command.Pick(lang, "negative_prompt（反向描述）暂不支持，已忽略。", "negative_prompt is accepted but not supported yet; it was ignored."))
	}
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	writeJSON(w, status, v)
}

// engine returns the engine a job request asks for: its engine field,
// checked by the Submitter, or else its model_name when that names an
// offered engine (Kling clients send their own model names, which are
// ignored); "" means the default.
func (s *Server) engine(up *upload) string {
	if up.engine != "" {
		return up.engine
	}
	if slices.Contains(s.cfg.Engines, up.modelName) {
		return up.modelName
	}
	return ""
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
