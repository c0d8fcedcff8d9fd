package web

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/paimeng/paimeng"
)

// Media of a succeeded job that is not private is served to anyone who has
// the job id: ids are short but unguessable, so a clip link works like an
// unlisted link that can be shared or embedded without credentials, and the
// public gallery links to it. A private job's media is served only to its
// owner (bearer token or playground cookie); everyone else, like anyone
// asking for an unfinished job, gets not found.

func (s *Server) handleVideo(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r, func(j *paimeng.Job) string { return j.VideoKey }, "video.mp4", "video/mp4")
}

func (s *Server) handlePoster(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r, func(j *paimeng.Job) string { return j.PosterKey }, "poster.jpg", "image/jpeg")
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, keyOf func(*paimeng.Job) string, name, contentType string) {
	ctx := r.Context()
	jobID := r.PathValue("id")
	job, err := s.jobs.Job(ctx, jobID)
	if err != nil {
		s.writeError(w, r, err, "job_id", jobID)
		return
	}
	key := keyOf(job)
	if job.Status != paimeng.JobSucceeded || key == "" {
		s.writeError(w, r, paimeng.Errorf(paimeng.ENOTFOUND, "job %s has no %s", jobID, name), "job_id", jobID)
		return
	}
	h := w.Header()
	cache := "private, max-age=3600"
	if job.Private {
		// Answers differ by caller, and hiding a video takes effect at once.
		h.Set("Vary", "Authorization, Cookie")
		cache = "private, no-cache"
		if !s.ownsMedia(r, job) {
			s.writeError(w, r, paimeng.Errorf(paimeng.ENOTFOUND, "job %s is private", jobID), "job_id", jobID)
			return
		}
	}
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Has("download") {
		h.Set("Content-Disposition", `attachment; filename="paimeng-`+job.ID+`-`+name+`"`)
	}

	modtime := time.Time{}
	if job.FinishedAt != nil {
		modtime = *job.FinishedAt
	}
	if p := s.blobs.Path(key); p != "" {
		if f, err := os.Open(p); err == nil {
			defer f.Close()
			if fi, err := f.Stat(); err == nil {
				modtime = fi.ModTime()
			}
			http.ServeContent(w, r, name, modtime, f)
			return
		}
	}
	rc, err := s.blobs.Open(ctx, key)
	if err != nil {
		h.Del("Content-Type")
		h.Del("Cache-Control")
		h.Del("Vary")
		h.Del("Content-Disposition")
		s.writeError(w, r, err, "job_id", jobID, "user", job.Identity.String())
		return
	}
	defer rc.Close()
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, name, modtime, rs)
		return
	}
	h.Set("Accept-Ranges", "none")
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "stream media", "job_id", jobID, "user", job.Identity.String(), "err", err)
	}
}

// ownsMedia reports whether the caller owns job. It never issues a
// playground user, and an unknown caller simply does not own it.
func (s *Server) ownsMedia(r *http.Request, job *paimeng.Job) bool {
	id, err := s.caller(r)
	if err != nil {
		return false
	}
	if job.Identity == id {
		return true
	}
	acct, err := s.community.Account(r.Context(), id)
	if err != nil {
		s.log.WarnContext(r.Context(), "media owner check", "job_id", job.ID, "user", id.String(), "err", err)
		return false
	}
	return job.AccountID != 0 && acct.ID == job.AccountID
}
