package wechat

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/config"
	wxcontext "github.com/silenceper/wechat/v2/officialaccount/context"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"
)

// Handler serves GET and POST /wechat, the account's server URL.
//
// GET is the URL check: a valid signature within the timestamp window
// (±5 minutes) gets echostr back. POST is a reader message: bodies over
// 1 MiB get 413; a bad or stale signature gets 401 without a body; in
// safe mode (encrypt_type=aes) msg_signature is checked too, then the
// message is decrypted (a wrong AppID or damaged ciphertext gets 400) and
// answered with a passive reply, encrypted in safe mode, within
// ReplyBudget. Work that takes longer finishes in the background.
func (b *Bot) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, b.serveHandshake)
	mux.HandleFunc("POST "+CallbackPath, b.serveMessage)
	return mux
}

// signature is WeChat's callback signature: the hex SHA-1 of the sorted
// strings, concatenated.
func signature(parts ...string) string {
	s := append([]string(nil), parts...)
	sort.Strings(s)
	h := sha1.New()
	for _, p := range s {
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// equal compares a received signature with the expected one in constant
// time (case-insensitively, as hex).
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// verify checks the query signature of a callback and its timestamp; it
// returns why the request is refused, or "".
func (b *Bot) verify(q url.Values, now time.Time) string {
	ts, nonce, sig := q.Get("timestamp"), q.Get("nonce"), q.Get("signature")
	if ts == "" || nonce == "" || sig == "" {
		return "missing signature"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "malformed timestamp"
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxClockSkew || d < -maxClockSkew {
		return "timestamp outside the window"
	}
	if !equal(sig, signature(b.token, ts, nonce)) {
		return "bad signature"
	}
	return ""
}

func (b *Bot) serveHandshake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if why := b.verify(q, time.Now()); why != "" {
		b.log.Info("callback check refused", "reason", why, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, q.Get("echostr"))
}

func (b *Bot) serveMessage(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.ContentLength > maxBody {
		b.log.Info("callback refused: body too large", "bytes", r.ContentLength)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		b.log.Info("callback refused: body too large", "bytes", len(body))
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	q := r.URL.Query()
	if why := b.verify(q, start); why != "" {
		b.log.Info("callback refused", "reason", why, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	safe := q.Get("encrypt_type") == "aes"
	if !safe && b.aesKey != "" {
		// With a key configured WeChat always encrypts (safe and
		// compatible modes both send encrypt_type=aes); a plain body could
		// only come from someone replaying a leaked query signature, which
		// does not cover the body.
		b.log.Info("callback refused: plain message while safe mode is configured", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if safe {
		if b.aesKey == "" {
			b.log.Warn("callback refused: safe mode without an EncodingAESKey configured")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var env message.EncryptedXMLMsg
		if err := xml.Unmarshal(body, &env); err != nil || env.EncryptedMsg == "" {
			b.log.Info("callback refused: no encrypted message", "err", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		want := signature(b.token, q.Get("timestamp"), q.Get("nonce"), env.EncryptedMsg)
		if !equal(q.Get("msg_signature"), want) {
			b.log.Info("callback refused", "reason", "bad msg_signature", "remote", r.RemoteAddr)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}

	// The request is WeChat's: silenceper's server decrypts (checking the
	// AppID inside the ciphertext), parses and, in safe mode, encrypts
	// the reply. It writes into a buffer so that a write error never
	// panics inside it.
	q.Del("echostr")
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	out := &bufferWriter{header: http.Header{}}
	srv := server.NewServer(&wxcontext.Context{Config: &config.Config{
		AppID: b.appID, AppSecret: b.secret, Token: b.token, EncodingAESKey: b.aesKey,
	}})
	srv.Writer, srv.Request = out, r2
	srv.SkipValidate(true) // verified above, in constant time and with a window
	handled, replied := false, false
	srv.SetMessageHandler(func(m *message.MixMessage) *message.Reply {
		handled = true
		rep := b.answer(m, start)
		replied = rep != nil
		return rep
	})
	if err := srv.Serve(); err != nil || !handled {
		b.log.Warn("callback refused: message unreadable", "safe", safe, "err", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if replied {
		if err := srv.Send(); err != nil {
			b.log.Error("passive reply failed", "err", err)
			out = &bufferWriter{header: http.Header{}}
			replied = false
		}
	}
	if !replied && out.buf.Len() == 0 {
		// Nothing to say: WeChat takes "success" (in either mode).
		out.header.Set("Content-Type", "text/plain; charset=utf-8")
		out.buf.WriteString("success")
	}
	for k, v := range out.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(out.buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.buf.Bytes())
}

// bufferWriter collects what silenceper's server writes.
type bufferWriter struct {
	header http.Header
	buf    bytes.Buffer
}

func (w *bufferWriter) Header() http.Header         { return w.header }
func (w *bufferWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *bufferWriter) WriteHeader(int)             {}
