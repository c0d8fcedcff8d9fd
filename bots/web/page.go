package web

import (
	_ "embed"
	"net/http"
)

// The playground and the leaderboard pages: self-contained HTML with inline
// CSS and JS that talk to the JSON API of this origin.
var (
	//go:embed static/index.html
	indexHTML []byte
	//go:embed static/top.html
	topHTML []byte
)

// Policy for the pages: everything comes from this origin; previews use
// blob: URLs.
const pageCSP = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; " +
	"style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) { writePage(w, indexHTML) }

func (s *Server) handleTopPage(w http.ResponseWriter, r *http.Request) { writePage(w, topHTML) }

func writePage(w http.ResponseWriter, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	_, _ = w.Write(page)
}
