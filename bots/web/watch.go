package web

import (
	"html/template"
	"net/http"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// The watch page /v/{id}: one clip on a phone screen, for links sent by
// chat front ends (WeChat readers open it in the in-app browser). A job
// still in the queue or rendering refreshes itself; a private job is shown
// only to its owner, and everyone else sees "not found", as for media.

type watchView struct {
	Lang     paimeng.Lang
	Title    string
	Prompt   string
	Seed     int64
	State    string // "done", "waiting", "failed", "missing"
	Message  string
	VideoURL string
	Poster   string
	TopURL   string
}

var watchTmpl = template.Must(template.New("watch").Parse(`<!doctype html>
<html lang="{{if eq .Lang "en"}}en{{else}}zh-CN{{end}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if eq .State "waiting"}}<meta http-equiv="refresh" content="5">{{end}}
<title>{{.Title}}</title>
<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#111;color:#eee}
main{max-width:720px;margin:0 auto;padding:12px}
video{width:100%;max-height:80vh;background:#000;border-radius:8px}
p{margin:.6em 0}.muted{color:#999;font-size:14px}
a{color:#f08a8a}.box{padding:40px 16px;text-align:center;background:#1c1c1c;border-radius:8px}
</style>
</head>
<body><main>
{{if eq .State "done"}}
<video src="{{.VideoURL}}" poster="{{.Poster}}" controls playsinline preload="metadata"></video>
{{if .Prompt}}<p>🎬 {{.Prompt}}</p>{{end}}
<p class="muted">{{if eq .Lang "en"}}Seed{{else}}种子{{end}} {{.Seed}} · <a href="{{.VideoURL}}?download=1">{{if eq .Lang "en"}}Download{{else}}下载{{end}}</a></p>
{{else}}
<div class="box"><p>{{.Message}}</p></div>
{{end}}
<p class="muted"><a href="{{.TopURL}}">{{if eq .Lang "en"}}Leaderboard and gallery{{else}}排行榜与作品墙{{end}}</a></p>
</main></body>
</html>
`))

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	id := r.PathValue("id")
	v := watchView{Lang: lang, Title: command.Pick(lang, "拍梦", "paimeng"), TopURL: "/top", State: "missing"}
	status := http.StatusOK
	job, err := s.jobs.Job(r.Context(), id)
	switch {
	case err != nil && paimeng.ErrorCode(err) != paimeng.ENOTFOUND:
		s.log.ErrorContext(r.Context(), "watch page", "job_id", id, "err", err)
		status = http.StatusInternalServerError
		v.Message = messageFor(paimeng.EINTERNAL, lang)
	case err != nil || (job.Private && !s.ownsMedia(r, job)):
		status = http.StatusNotFound
		v.Message = command.Pick(lang, "没有找到这个视频。", "This video does not exist.")
	case job.Status == paimeng.JobSucceeded:
		v.State, v.Prompt, v.Seed = "done", job.Prompt, job.Seed
		v.VideoURL, v.Poster = "/media/"+job.ID+"/video.mp4", "/media/"+job.ID+"/poster.jpg"
	case job.Status.Final():
		v.State = "failed"
		v.Message = messageFor(job.ErrorCode, lang)
		if job.Status == paimeng.JobCanceled {
			v.Message = command.Pick(lang, "这个任务已取消，积分已退回。", "This job was canceled; nothing was charged.")
		}
	default:
		v.State = "waiting"
		v.Message = command.Pick(lang, "视频还在生成中，这个页面会自动刷新。", "The video is still being made; this page refreshes itself.")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Language, Authorization, Cookie")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if err := watchTmpl.Execute(w, v); err != nil {
		s.log.WarnContext(r.Context(), "watch page", "job_id", id, "err", err)
	}
}
