package web

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/paimeng/paimeng"
)

// Media is served to anyone who has the job id: ids are short but
// unguessable, so a clip link works like an unlisted link that can be
// shared or embedded without credentials.

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
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "private, max-age=86400")
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
