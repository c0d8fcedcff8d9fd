// Package wechattest is an in-process WeChat official-account server for
// tests. It builds callback messages as WeChat documents them (XML with
// CDATA fields), posts them to a bot's endpoint in plain or safe (AES) mode
// with the documented signatures, checks, decrypts and parses the passive
// reply, and speaks the API the bot calls (access tokens, temporary media,
// customer-service messages, menus) with WeChat's JSON error shape
// {"errcode":…,"errmsg":"…"}.
package wechattest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng/internal/testenv"
)

// Limits WeChat documents.
const (
	// TokenTTL is how long an access token lives (expires_in 7200).
	TokenTTL = 7200 * time.Second
	// Window is how long after a reader's last message customer-service
	// messages may be sent to them.
	Window = 48 * time.Hour
	// WindowQuota is how many customer-service messages a reader may get
	// per message of theirs.
	WindowQuota = 20
	// MaxVideo is the largest temporary video (and image) upload.
	MaxVideo = 10 << 20
)

// maxSize is the largest temporary media of each type; thumbnails are 64 KB.
var maxSize = map[string]int{"image": 10 << 20, "voice": 2 << 20, "video": MaxVideo, "thumb": 64 << 10}

// fileTypes are the file name extensions each media type accepts.
var fileTypes = map[string][]string{
	"image": {".bmp", ".png", ".jpeg", ".jpg", ".gif"},
	"voice": {".amr", ".mp3"},
	"video": {".mp4"},
	"thumb": {".jpg", ".jpeg"},
}

// maxRequestBody bounds what the server reads of a request.
const maxRequestBody = 64 << 20

// Server is a fake WeChat. All methods are safe for concurrent use.
type Server struct {
	URL        string // API base, e.g. http://127.0.0.1:PORT (paths /cgi-bin/...)
	AppID      string // "wx" + 16 hex
	Secret     string
	Token      string // callback token (signature)
	AESKey     string // EncodingAESKey, 43 chars
	OriginalID string // the account's original id ("gh_" + 12 hex): ToUserName of callbacks

	srv *httptest.Server

	mu         sync.Mutex
	changes    testenv.Changes // wakes waiters on every change
	tokens     map[string]*token
	stable     *token // the token stable_token hands out while valid
	tokenCalls int
	media      map[string]*Upload // uploads and incoming images, by media id
	uploads    []Upload
	pics       map[string][]byte // PicUrl paths
	custom     map[string][]CustomMessage
	readers    map[string]*reader
	menu       []byte
	failures   map[string][]apiError
	calls      map[string]int
	nextMsgID  int64
	closed     bool
}

type token struct {
	value   string
	expires time.Time
	revoked bool // replaced by a forced stable_token refresh
}

// reader is what the server knows of one openid's conversation.
type reader struct {
	last time.Time // their last message
	sent int       // customer-service messages since then
}

// Upload is one temporary media file: uploaded by the bot, or the picture
// of an incoming image message (Type "image", Incoming).
type Upload struct {
	MediaID, Type, Name string
	ContentType         string
	Data                []byte
	CreatedAt           int64
	Incoming            bool
}

// CustomMessage is one accepted customer-service message.
type CustomMessage struct {
	MsgType, Content, MediaID, Title string
	Description, URL, PicURL         string
	ThumbMediaID                     string
	Raw                              []byte // the request body
}

// apiError is WeChat's error body.
type apiError struct {
	Code    int    `json:"errcode"`
	Message string `json:"errmsg"`
}

var (
	errSystem        = apiError{-1, "system error"}
	errInvalidToken  = apiError{40001, "invalid credential, access_token is invalid or not latest"}
	errGrantType     = apiError{40002, "invalid grant_type"}
	errOpenID        = apiError{40003, "invalid openid"}
	errMediaType     = apiError{40004, "invalid media type"}
	errFileType      = apiError{40005, "invalid file type"}
	errMediaSize     = apiError{40006, "invalid meida size"} // sic
	errMediaID       = apiError{40007, "invalid media_id"}
	errMessageType   = apiError{40008, "invalid message type"}
	errAppID         = apiError{40013, "invalid appid"}
	errButtonSize    = apiError{40016, "invalid button size"}
	errButtonType    = apiError{40017, "invalid button type"}
	errButtonName    = apiError{40018, "invalid button name size"}
	errButtonKey     = apiError{40019, "invalid button key size"}
	errButtonURL     = apiError{40020, "invalid button url size"}
	errSubButtonSize = apiError{40023, "invalid sub button size"}
	errSubButtonType = apiError{40024, "invalid sub button type"}
	errSubButtonName = apiError{40025, "invalid sub button name size"}
	errSubButtonKey  = apiError{40026, "invalid sub button key size"}
	errSubButtonURL  = apiError{40027, "invalid sub button url size"}
	errSecret        = apiError{40125, "invalid appsecret"}
	errTokenMissing  = apiError{41001, "access_token missing"}
	errMediaMissing  = apiError{41005, "media data missing"}
	errTokenExpired  = apiError{42001, "access_token expired"}
	errRequireGET    = apiError{43001, "require GET method"}
	errRequirePOST   = apiError{43002, "require POST method"}
	errEmptyPost     = apiError{44002, "empty post data"}
	errEmptyNews     = apiError{44003, "empty news data"}
	errEmptyContent  = apiError{44004, "empty content"}
	errOutOfTime     = apiError{45015, "response out of time limit"}
	errOutOfCount    = apiError{45047, "out of response count limit"}
	errArticleSize   = apiError{45008, "article size out of limit"}
	errDataFormat    = apiError{47001, "data format error"}
)

// NewServer starts a server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	key := randomBytes(32)
	s := &Server{
		AppID:      "wx" + hex.EncodeToString(randomBytes(8)),
		Secret:     hex.EncodeToString(randomBytes(16)),
		Token:      "tk" + hex.EncodeToString(randomBytes(8)),
		AESKey:     strings.TrimSuffix(base64.StdEncoding.EncodeToString(key), "="),
		OriginalID: "gh_" + hex.EncodeToString(randomBytes(6)),
		tokens:     map[string]*token{},
		media:      map[string]*Upload{},
		pics:       map[string][]byte{},
		custom:     map[string][]CustomMessage{},
		readers:    map[string]*reader{},
		failures:   map[string][]apiError{},
		calls:      map[string]int{},
		// Message ids are 64-bit numbers in the 2e16 range.
		nextMsgID: 24_000_000_000_000_000 + int64(randomBytes(2)[0])<<32,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.changes.Notify()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// TokenCalls returns how many times an access token was handed out
// (/cgi-bin/token and /cgi-bin/stable_token answers that carried one):
// bots sharing a token cache make one call between them.
func (s *Server) TokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// Tokens returns how many distinct access tokens were issued.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// Calls returns how many requests were made to path ("/cgi-bin/…"),
// failures included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Uploads returns the media the bot uploaded, in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.uploads)
}

// CustomMessages returns the customer-service messages accepted for
// openID, in order.
func (s *Server) CustomMessages(openID string) []CustomMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.custom[openID])
}

// Menu returns the body of the last accepted menu/create call; nil before
// one.
func (s *Server) Menu() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.menu)
}

// ExpireTokens makes every token issued so far answer 42001 "access_token
// expired"; the next token call issues a fresh one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, tk := range s.tokens {
		tk.expires = past
	}
}

// SetLastMessage records t as the time of openID's last message: the 48 h
// customer-service window runs from it and its quota starts over.
func (s *Server) SetLastMessage(openID string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers[openID] = &reader{last: t}
	s.changes.Notify()
}

// readerMessage records a message the reader sent now (through Deliver).
func (s *Server) readerMessage(openID string) {
	s.SetLastMessage(openID, time.Now())
}

// FailNext makes the next request to path (e.g. "/cgi-bin/message/custom/send")
// answer {"errcode":errcode,"errmsg":errmsg} without doing anything; an
// empty errmsg gets "system error". Several failures queue.
func (s *Server) FailNext(path string, errcode int, errmsg string) {
	if errmsg == "" {
		errmsg = errSystem.Message
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[path] = append(s.failures[path], apiError{errcode, errmsg})
}

// WaitFor waits up to a minute for cond to hold (work runs under -race on
// busy machines); the test fails otherwise.
func (s *Server) WaitFor(t testing.TB, cond func() bool, what string, args ...any) {
	t.Helper()
	s.changes.WaitFor(t, "wechattest", cond, what, args...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/mmbiz_") {
		s.servePic(w, r)
		return
	}
	if strings.HasPrefix(p, "/video/") {
		s.serveVideo(w, r)
		return
	}
	if !strings.HasPrefix(p, "/cgi-bin/") {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.calls[p]++
	if fs := s.failures[p]; len(fs) > 0 {
		s.failures[p] = fs[1:]
		s.changes.Notify()
		s.mu.Unlock()
		writeJSON(w, fs[0])
		return
	}
	s.mu.Unlock()
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	switch p {
	case "/cgi-bin/token":
		if r.Method != http.MethodGet {
			writeError(w, errRequireGET)
			return
		}
		q := r.URL.Query()
		s.issueToken(w, q.Get("grant_type"), q.Get("appid"), q.Get("secret"), false, false)
	case "/cgi-bin/stable_token":
		if r.Method != http.MethodPost {
			writeError(w, errRequirePOST)
			return
		}
		var req struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}
		body, _ := io.ReadAll(r.Body)
		if len(bytes.TrimSpace(body)) == 0 {
			writeError(w, errEmptyPost)
			return
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, errDataFormat)
			return
		}
		s.issueToken(w, req.GrantType, req.AppID, req.Secret, true, req.ForceRefresh)
	case "/cgi-bin/media/upload":
		if s.authorize(w, r, http.MethodPost) {
			s.upload(w, r)
		}
	case "/cgi-bin/media/get":
		if s.authorize(w, r, http.MethodGet) {
			s.getMedia(w, r)
		}
	case "/cgi-bin/message/custom/send":
		if s.authorize(w, r, http.MethodPost) {
			s.customSend(w, r)
		}
	case "/cgi-bin/menu/create":
		if s.authorize(w, r, http.MethodPost) {
			s.createMenu(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) issueToken(w http.ResponseWriter, grantType, appID, secret string, stable, force bool) {
	switch {
	case grantType != "client_credential":
		writeError(w, errGrantType)
		return
	case appID != s.AppID:
		writeError(w, errAppID)
		return
	case secret != s.Secret:
		writeError(w, errSecret)
		return
	}
	now := time.Now()
	s.mu.Lock()
	tk := s.stable
	if !stable || force || tk == nil || tk.revoked || !now.Before(tk.expires) {
		if stable && force && tk != nil {
			// Like WeChat: a forced refresh ends the previous stable token.
			tk.revoked = true
		}
		tk = &token{value: randomToken(), expires: now.Add(TokenTTL)}
		s.tokens[tk.value] = tk
		if stable {
			s.stable = tk
		}
	}
	s.tokenCalls++
	left := int(tk.expires.Sub(now).Round(time.Second) / time.Second)
	s.changes.Notify()
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tk.value, "expires_in": left})
}

// authorize checks the method and the access_token query parameter and
// answers the error when one is wrong.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, method string) bool {
	v := r.URL.Query().Get("access_token")
	if v == "" {
		writeError(w, errTokenMissing)
		return false
	}
	s.mu.Lock()
	tk := s.tokens[v]
	s.mu.Unlock()
	switch {
	case tk == nil || tk.revoked:
		writeError(w, errInvalidToken)
		return false
	case !time.Now().Before(tk.expires):
		writeError(w, errTokenExpired)
		return false
	case r.Method != method && method == http.MethodGet:
		writeError(w, errRequireGET)
		return false
	case r.Method != method:
		writeError(w, errRequirePOST)
		return false
	}
	return true
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type")
	limit, ok := maxSize[typ]
	if !ok {
		writeError(w, errMediaType)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		writeError(w, errMediaMissing)
		return
	}
	if err := r.ParseMultipartForm(maxRequestBody); err != nil {
		if strings.Contains(err.Error(), "too large") {
			writeError(w, errMediaSize)
		} else {
			writeError(w, errMediaMissing)
		}
		return
	}
	defer r.MultipartForm.RemoveAll()
	fhs := r.MultipartForm.File["media"]
	if len(fhs) == 0 {
		writeError(w, errMediaMissing)
		return
	}
	f, err := fhs[0].Open()
	if err != nil {
		writeError(w, errSystem)
		return
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		writeError(w, errSystem)
		return
	}
	name := fhs[0].Filename
	switch {
	case len(data) == 0:
		writeError(w, errMediaMissing)
		return
	case len(data) > limit:
		writeError(w, errMediaSize)
		return
	case !slices.Contains(fileTypes[typ], strings.ToLower(path.Ext(name))):
		// WeChat goes by the file name's extension.
		writeError(w, errFileType)
		return
	}
	contentType := fhs[0].Header.Get("Content-Type")
	if contentType == "" || contentType == "application/octet-stream" {
		contentType = http.DetectContentType(data)
	}
	u := s.addMedia(typ, name, contentType, data, false)
	key := "media_id"
	if typ == "thumb" {
		key = "thumb_media_id"
	}
	writeJSON(w, map[string]any{"type": typ, key: u.MediaID, "created_at": u.CreatedAt})
}

// addMedia stores temporary media and returns it.
func (s *Server) addMedia(typ, name, contentType string, data []byte, incoming bool) Upload {
	u := &Upload{
		MediaID:     randomMediaID(),
		Type:        typ,
		Name:        name,
		ContentType: contentType,
		Data:        data,
		CreatedAt:   time.Now().Unix(),
		Incoming:    incoming,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[u.MediaID] = u
	if !incoming {
		s.uploads = append(s.uploads, *u)
	}
	s.changes.Notify()
	return *u
}

// getMedia serves temporary media like /cgi-bin/media/get: the file, or
// for videos {"video_url": …} pointing at it.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("media_id")
	s.mu.Lock()
	u := s.media[id]
	s.mu.Unlock()
	if u == nil {
		writeError(w, errMediaID)
		return
	}
	if u.Type == "video" {
		writeJSON(w, map[string]any{"video_url": s.URL + "/video/" + u.MediaID})
		return
	}
	serveData(w, r, u.ContentType, u.Name, u.Data)
}

func (s *Server) serveVideo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u := s.media[strings.TrimPrefix(r.URL.Path, "/video/")]
	s.mu.Unlock()
	if u == nil || u.Type != "video" {
		http.NotFound(w, r)
		return
	}
	serveData(w, r, u.ContentType, u.Name, u.Data)
}

func (s *Server) servePic(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.pics[r.URL.Path]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	serveData(w, r, http.DetectContentType(data), "", data)
}

func serveData(w http.ResponseWriter, r *http.Request, contentType, name string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	if name != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// customRequest is the body of message/custom/send.
type customRequest struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Image *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Video *struct {
		MediaID      string `json:"media_id"`
		ThumbMediaID string `json:"thumb_media_id"`
		Title        string `json:"title"`
		Description  string `json:"description"`
	} `json:"video"`
	News *struct {
		Articles []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			URL         string `json:"url"`
			PicURL      string `json:"picurl"`
		} `json:"articles"`
	} `json:"news"`
}

func (s *Server) customSend(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, errSystem)
		return
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		writeError(w, errEmptyPost)
		return
	}
	var req customRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		writeError(w, errDataFormat)
		return
	}
	if req.ToUser == "" {
		writeError(w, errOpenID)
		return
	}
	m := CustomMessage{MsgType: req.MsgType, Raw: raw}
	switch req.MsgType {
	case "text":
		if req.Text == nil || strings.TrimSpace(req.Text.Content) == "" {
			writeError(w, errEmptyContent)
			return
		}
		m.Content = req.Text.Content
	case "image":
		if req.Image == nil || !s.hasMedia(req.Image.MediaID, "image") {
			writeError(w, errMediaID)
			return
		}
		m.MediaID = req.Image.MediaID
	case "video":
		if req.Video == nil || !s.hasMedia(req.Video.MediaID, "video") {
			writeError(w, errMediaID)
			return
		}
		v := req.Video
		m.MediaID, m.ThumbMediaID, m.Title, m.Description = v.MediaID, v.ThumbMediaID, v.Title, v.Description
	case "news":
		if req.News == nil || len(req.News.Articles) == 0 {
			writeError(w, errEmptyNews)
			return
		}
		if len(req.News.Articles) > 1 {
			// Customer-service news carries one article.
			writeError(w, errArticleSize)
			return
		}
		a := req.News.Articles[0]
		if a.Title == "" && a.Description == "" {
			writeError(w, errEmptyNews)
			return
		}
		m.Title, m.Description, m.URL, m.PicURL = a.Title, a.Description, a.URL, a.PicURL
	default:
		writeError(w, errMessageType)
		return
	}
	s.mu.Lock()
	rd := s.readers[req.ToUser]
	switch {
	case rd == nil || time.Since(rd.last) > Window:
		s.mu.Unlock()
		writeError(w, errOutOfTime)
		return
	case rd.sent >= WindowQuota:
		s.mu.Unlock()
		writeError(w, errOutOfCount)
		return
	}
	rd.sent++
	s.custom[req.ToUser] = append(s.custom[req.ToUser], m)
	s.changes.Notify()
	s.mu.Unlock()
	writeError(w, apiError{0, "ok"})
}

func (s *Server) hasMedia(id, typ string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.media[id]
	return u != nil && u.Type == typ
}

// menuButton is one button of menu/create.
type menuButton struct {
	Type      string       `json:"type"`
	Name      string       `json:"name"`
	Key       string       `json:"key"`
	URL       string       `json:"url"`
	AppID     string       `json:"appid"`
	PagePath  string       `json:"pagepath"`
	MediaID   string       `json:"media_id"`
	ArticleID string       `json:"article_id"`
	SubButton []menuButton `json:"sub_button"`
}

var buttonTypes = []string{"click", "view", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
	"pic_weixin", "location_select", "media_id", "view_limited", "article_id", "article_view_limited", "miniprogram"}

func (s *Server) createMenu(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, errSystem)
		return
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		writeError(w, errEmptyPost)
		return
	}
	var menu struct {
		Button []menuButton `json:"button"`
	}
	if err := json.Unmarshal(raw, &menu); err != nil {
		writeError(w, errDataFormat)
		return
	}
	if err := checkMenu(menu.Button); err != nil {
		writeError(w, *err)
		return
	}
	s.mu.Lock()
	s.menu = raw
	s.changes.Notify()
	s.mu.Unlock()
	writeError(w, apiError{0, "ok"})
}

// checkMenu applies the documented menu limits: 1–3 buttons of at most 16
// bytes each, 1–5 sub-buttons of at most 60 bytes; keys up to 128 bytes,
// URLs up to 1024.
func checkMenu(buttons []menuButton) *apiError {
	if len(buttons) == 0 || len(buttons) > 3 {
		return &errButtonSize
	}
	for _, b := range buttons {
		if b.Name == "" || len(b.Name) > 16 {
			return &errButtonName
		}
		if len(b.SubButton) > 0 || b.SubButton != nil && b.Type == "" {
			if len(b.SubButton) == 0 || len(b.SubButton) > 5 {
				return &errSubButtonSize
			}
			for _, sb := range b.SubButton {
				if len(sb.SubButton) > 0 {
					return &errSubButtonType
				}
				if sb.Name == "" || len(sb.Name) > 60 {
					return &errSubButtonName
				}
				if err := checkButton(sb, &errSubButtonType, &errSubButtonKey, &errSubButtonURL); err != nil {
					return err
				}
			}
			continue
		}
		if err := checkButton(b, &errButtonType, &errButtonKey, &errButtonURL); err != nil {
			return err
		}
	}
	return nil
}

func checkButton(b menuButton, errType, errKey, errURL *apiError) *apiError {
	if !slices.Contains(buttonTypes, b.Type) {
		return errType
	}
	switch b.Type {
	case "view", "miniprogram":
		if b.URL == "" || len(b.URL) > 1024 || !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://") {
			return errURL
		}
	case "media_id", "view_limited":
		if b.MediaID == "" {
			return errKey
		}
	case "article_id", "article_view_limited":
		if b.ArticleID == "" {
			return errKey
		}
	default:
		if b.Key == "" || len(b.Key) > 128 {
			return errKey
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	// WeChat answers errors with 200 as well.
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	json.NewEncoder(w).Encode(v)
}

// writeError answers e as WeChat does, with a request id after the
// message (" rid: …"); errcode 0 answers "ok" as it is.
func writeError(w http.ResponseWriter, e apiError) {
	if e.Code != 0 {
		e.Message += " rid: " + hex.EncodeToString(randomBytes(4)) + "-" + hex.EncodeToString(randomBytes(4)) + "-" + hex.EncodeToString(randomBytes(4))
	}
	writeJSON(w, e)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

// randomToken returns an access token shaped like WeChat's ("<n>_" and
// about 130 URL-safe characters).
func randomToken() string {
	b := randomBytes(130)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return fmt.Sprintf("%d_%s", 80+int(randomBytes(1)[0])%20, b)
}

// randomMediaID returns a media id shaped like WeChat's (64 URL-safe
// characters).
func randomMediaID() string {
	b := randomBytes(64)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}
