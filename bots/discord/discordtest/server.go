// Package discordtest is an in-process Discord server for tests: it speaks
// the REST wire format of API v10 (interaction callbacks, interaction
// webhooks, channel messages with nonces and uploads, DM channels, command
// registration), serves attachments like the CDN, builds signed
// interaction payloads shaped like Discord's and runs a minimal JSON
// gateway (HELLO, IDENTIFY, READY, heartbeats, RESUME, dispatches), so the
// real discordgo client works against it unchanged but for its URLs.
package discordtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/paimeng/paimeng/internal/testenv"
)

// Defaults for the application the server impersonates.
const (
	BotToken    = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gx-test.paimeng-bot-token"
	BotUserName = "Paimeng"
)

// TokenTTL is how long Discord accepts an interaction token.
const TokenTTL = 15 * time.Minute

// maxRequestBody bounds what the server reads of a request; bigger bodies
// fail with 413 like uploads over the limit.
const maxRequestBody = 64 << 20

// messageFlagLoading marks a deferred response that still shows "thinking".
const messageFlagLoading = 1 << 7

// Message is a message the bot sent as it now stands.
type Message struct {
	ID, ChannelID, Content, Nonce string
	Embeds                        []*discordgo.MessageEmbed
	Components                    []discordgo.MessageComponent // decoded
	CustomIDs                     []string                     // custom_id of every component, in order
	Files                         []File                       // the attachments
	Flags                         int
	Edits                         int // accepted edits since it was created
}

// File is an attachment of a message.
type File struct {
	Name, ContentType string
	Data              []byte
}

// Call is one request the server received.
type Call struct {
	Method  string         // GET, POST…; "WS" for a frame the gateway client sent
	Path    string         // REST paths without the /api/v10 prefix ("/channels/1/messages"); CDN paths as they are; "/gateway" for frames
	Query   url.Values     // the query string
	Payload map[string]any // the JSON object of the body (or of payload_json in a multipart body); a gateway frame
	Body    []byte         // that JSON as sent (arrays too, e.g. command overwrites)
	Files   []File         // multipart files
	Status  int            // the status answered; 101 for a gateway upgrade, 0 for frames
}

// Server is a fake Discord. All methods are safe for concurrent use.
type Server struct {
	URL       string // REST base: "http://127.0.0.1:PORT/api/v10"
	AppID     string // application id (a snowflake), also the bot user's id
	Token     string // bot token ("Bot " prefix expected in Authorization)
	PublicKey string // hex Ed25519 public key matching the server's private key

	srv  *httptest.Server
	root string // "http://127.0.0.1:PORT"
	key  ed25519.PrivateKey

	idMu   sync.Mutex
	lastID uint64

	mu           sync.Mutex
	changes      testenv.Changes // wakes waiters on every change
	calls        []Call
	failures     []failure
	interactions map[string]*interaction // by token
	byID         map[string]*interaction // by interaction id
	messages     map[string]*message     // by id
	channels     map[string][]*message   // POST /channels/{id}/messages, by channel
	dms          map[string]string       // DM channel by recipient
	attachments  map[string]*attachment  // CDN, by id
	commands     map[string][]*discordgo.ApplicationCommand
	commandIDs   map[string]string // by guild+"/"+name
	uploadLimit  map[string]int    // by channel
	tokenTTL     time.Duration
	gw           gateway
	closed       bool
}

type failure struct {
	method, prefix string
	status         int
	body           string
}

type interaction struct {
	id, token          string
	guildID, channelID string
	created            time.Time
	sizeLimit          int
	raw                []byte
	origin             string // the message a component interaction is on
	expired            bool
	callbacks          int
	callbackType       int
	original           string // id of @original once there is one
	followups          []string
}

type attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	ContentType string `json:"content_type,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	data        []byte
}

// NewServer starts a server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("discordtest: %v", err)
	}
	s := &Server{
		Token:        BotToken,
		PublicKey:    hex.EncodeToString(pub),
		key:          priv,
		interactions: map[string]*interaction{},
		byID:         map[string]*interaction{},
		messages:     map[string]*message{},
		channels:     map[string][]*message{},
		dms:          map[string]string{},
		attachments:  map[string]*attachment{},
		commands:     map[string][]*discordgo.ApplicationCommand{},
		commandIDs:   map[string]string{},
		uploadLimit:  map[string]int{},
		tokenTTL:     TokenTTL,
	}
	s.AppID = s.Snowflake()
	s.gw.init()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.root = s.srv.URL
	s.URL = s.srv.URL + "/api/v10"
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops gateway connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.changes.Notify()
	s.mu.Unlock()
	s.closeAllGateway()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an HTTP client for the server. Its transport also sends
// requests for https://discord.com/api/v9/… and …/v10/… (discordgo v0.29
// builds v9 endpoints) and for the CDN hosts to the server, so a discordgo.Session whose Client is this
// one talks to the server.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: rewriter{s: s, next: s.srv.Client().Transport}}
}

type rewriter struct {
	s    *Server
	next http.RoundTripper
}

func (r rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	var to string
	switch {
	case strings.HasPrefix(u, "https://discord.com/api/v"):
		// discordgo v0.29 builds https://discord.com/api/v9/… URLs.
		rest := strings.TrimPrefix(u, "https://discord.com/api/v")
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			to = r.s.URL + rest[i:]
		}
	case strings.HasPrefix(u, "https://cdn.discordapp.com/"), strings.HasPrefix(u, "https://media.discordapp.net/"):
		to = r.s.root + "/" + strings.SplitN(u, "/", 4)[3]
	}
	if to != "" {
		nu, err := url.Parse(to)
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL = nu
		req.Host = nu.Host
	}
	return r.next.RoundTrip(req)
}

// SetTokenTTL changes how long interaction tokens stay valid (Discord: 15
// minutes) for interactions old and new.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// SetUploadLimit makes files over n bytes sent to channelID fail with 413
// code 40005, whether posted to the channel or through an interaction in
// it; 0 restores the default (10 MiB, or an interaction's
// attachment_size_limit).
func (s *Server) SetUploadLimit(channelID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.uploadLimit, channelID)
		return
	}
	s.uploadLimit[channelID] = n
}

// ExpireToken makes the interaction token invalid now: later webhook calls
// with it get 401 {"message":"Invalid Webhook Token","code":50027}.
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.interactions[token]; in != nil {
		in.expired = true
	}
}

// FailNext makes the next request whose method is method ("" for any) and
// whose path starts with pathPrefix (as in Call.Path, e.g. "/webhooks/" or
// "/channels/42/messages") fail with status and body. An empty body gets
// Discord's usual one for the status (429: retry_after 0.05 s). Several
// failures queue.
func (s *Server) FailNext(method, pathPrefix string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{method: method, prefix: trimAPI(pathPrefix), status: status, body: body})
}

func trimAPI(p string) string {
	if rest, ok := apiPath(p); ok {
		return rest
	}
	return p
}

// Calls returns every request received so far (and every gateway frame the
// client sent), in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the calls with method ("" for any) whose path starts with
// pathPrefix.
func (s *Server) CallsTo(method, pathPrefix string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.Path, pathPrefix) {
			out = append(out, c)
		}
	}
	return out
}

// Original returns the interaction's original response as it now stands
// (after its callback and edits of @original); false before there is one
// or after it was deleted.
func (s *Server) Original(token string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.interactions[token]
	if in == nil || in.original == "" {
		return Message{}, false
	}
	m := s.messages[in.original]
	if m == nil || m.deleted {
		return Message{}, false
	}
	return m.export(), true
}

// Followups returns the interaction's followup messages as they now stand.
// Like Discord, the first followup after a deferred response (type 5) that
// was not edited yet fills in that response instead: it shows in Original.
func (s *Server) Followups(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.interactions[token]
	if in == nil {
		return nil
	}
	var out []Message
	for _, id := range in.followups {
		if m := s.messages[id]; m != nil && !m.deleted {
			out = append(out, m.export())
		}
	}
	return out
}

// ChannelMessages returns the messages posted with POST
// /channels/{id}/messages to channelID, as they now stand.
func (s *Server) ChannelMessages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.channels[channelID] {
		if !m.deleted {
			out = append(out, m.export())
		}
	}
	return out
}

// MessageByID returns any message the bot sent (channel message,
// interaction response or followup) as it now stands.
func (s *Server) MessageByID(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[id]
	if m == nil || m.deleted {
		return Message{}, false
	}
	return m.export(), true
}

// Callbacks returns how many callbacks were accepted for the interaction:
// Discord accepts one; later ones get 400 code 40060.
func (s *Server) Callbacks(interactionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.byID[interactionID]; in != nil {
		return in.callbacks
	}
	return 0
}

// CallbackType returns the type of the interaction's accepted callback
// (4 message, 5 deferred, 6 deferred update, 7 update…), 0 before one.
func (s *Server) CallbackType(interactionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.byID[interactionID]; in != nil {
		return in.callbackType
	}
	return 0
}

// Commands returns the commands registered by bulk overwrite for guildID
// ("" for global ones).
func (s *Server) Commands(guildID string) []*discordgo.ApplicationCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[guildID])
}

// DMChannel returns the id of the DM channel between the bot and userID,
// the one POST /users/@me/channels answers with.
func (s *Server) DMChannel(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dmChannelLocked(userID)
}

func (s *Server) dmChannelLocked(userID string) string {
	id, ok := s.dms[userID]
	if !ok {
		id = s.Snowflake()
		s.dms[userID] = id
	}
	return id
}

// WaitFor waits up to a minute for cond to hold (work runs under -race on
// busy machines); the test fails otherwise.
func (s *Server) WaitFor(t testing.TB, cond func() bool, what string, args ...any) {
	t.Helper()
	s.changes.WaitFor(t, "discordtest", cond, what, args...)
}

func (s *Server) register(in *interaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interactions[in.token] = in
	s.byID[in.id] = in
}

func (s *Server) botUser() map[string]any {
	return map[string]any{"id": s.AppID, "username": BotUserName, "global_name": BotUserName,
		"discriminator": "0", "avatar": nil, "bot": true, "public_flags": 0}
}

func (s *Server) commandID(guildID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.commands[guildID] {
		if c.Name == name {
			return c.ID
		}
	}
	return s.commandIDLocked(guildID, name)
}

// apiError is Discord's error body.
type apiError struct {
	status  int
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Errors  map[string]any `json:"errors,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s (code %d)", e.status, e.Message, e.Code) }

var (
	errUnauthorized       = &apiError{status: 401, Code: 0, Message: "401: Unauthorized"}
	errNotFound           = &apiError{status: 404, Code: 0, Message: "404: Not Found"}
	errMethod             = &apiError{status: 405, Code: 0, Message: "405: Method Not Allowed"}
	errUnknownInteraction = &apiError{status: 404, Code: 10062, Message: "Unknown interaction"}
	errAcknowledged       = &apiError{status: 400, Code: 40060, Message: "Interaction has already been acknowledged."}
	errInvalidToken       = &apiError{status: 401, Code: 50027, Message: "Invalid Webhook Token"}
	errUnknownWebhook     = &apiError{status: 404, Code: 10015, Message: "Unknown Webhook"}
	errUnknownMessage     = &apiError{status: 404, Code: 10008, Message: "Unknown Message"}
	errTooLarge           = &apiError{status: 413, Code: 40005, Message: "Request entity too large"}
	errEmptyMessage       = &apiError{status: 400, Code: 50006, Message: "Cannot send an empty message"}
)

// formError is 400 Invalid Form Body with Discord's nested error shape:
// path "data.content" → {"data":{"content":{"_errors":[{code,message}]}}}.
func formError(path, code, msg string) *apiError {
	leaf := map[string]any{"_errors": []any{map[string]any{"code": code, "message": msg}}}
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i > 0; i-- {
		leaf = map[string]any{parts[i]: leaf}
	}
	return &apiError{status: 400, Code: 50035, Message: "Invalid Form Body", Errors: map[string]any{parts[0]: leaf}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{status: 400, Code: 50035, Message: "Invalid Form Body: " + err.Error()}
	}
	writeJSON(w, e.status, e)
}

// request is a decoded REST request.
type request struct {
	method string
	path   string   // without /api/v10
	parts  []string // path split at "/", without the leading ""
	query  url.Values
	raw    []byte         // JSON body or payload_json
	body   map[string]any // raw decoded
	files  []upload
	auth   bool // Authorization: Bot <token>
}

type upload struct {
	index             int // n of files[n]; -1 for other fields
	name, contentType string
	data              []byte
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/gateway" || r.URL.Path == "/gateway/" {
		if websocket.IsWebSocketUpgrade(r) {
			s.serveGateway(w, r)
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, "/attachments/") || strings.HasPrefix(r.URL.Path, "/media/attachments/") {
		s.serveCDN(w, r)
		return
	}
	path, ok := apiPath(r.URL.Path)
	if !ok {
		s.record(Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: 404})
		writeError(w, errNotFound)
		return
	}
	req := &request{method: r.Method, path: path, parts: strings.Split(strings.Trim(path, "/"), "/"), query: r.URL.Query(),
		auth: r.Header.Get("Authorization") == "Bot "+s.Token}
	err := readBody(w, r, req)
	call := Call{Method: r.Method, Path: path, Query: req.query, Payload: req.body, Body: req.raw}
	for _, f := range req.files {
		call.Files = append(call.Files, File{Name: f.name, ContentType: f.contentType, Data: f.data})
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		call.Status = sw.status
		s.record(call)
	}()
	if err != nil {
		writeError(sw, err)
		return
	}
	if s.injectFailure(sw, req) {
		return
	}
	s.route(sw, req)
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	s.changes.Notify()
}

func (s *Server) injectFailure(w http.ResponseWriter, req *request) bool {
	s.mu.Lock()
	i := slices.IndexFunc(s.failures, func(f failure) bool {
		return (f.method == "" || f.method == req.method) && strings.HasPrefix(req.path, f.prefix)
	})
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	f := s.failures[i]
	s.failures = slices.Delete(s.failures, i, i+1)
	s.mu.Unlock()
	body := f.body
	if body == "" {
		if f.status == http.StatusTooManyRequests {
			body = `{"message":"You are being rate limited.","retry_after":0.05,"global":false}`
		} else {
			b, _ := json.Marshal(map[string]any{"message": fmt.Sprintf("%d: %s", f.status, http.StatusText(f.status)), "code": 0})
			body = string(b)
		}
	}
	if f.status == http.StatusTooManyRequests {
		var ra struct {
			RetryAfter float64 `json:"retry_after"`
		}
		json.Unmarshal([]byte(body), &ra)
		w.Header().Set("Retry-After", strconv.Itoa(int(ra.RetryAfter+0.999)))
		w.Header().Set("X-RateLimit-Scope", "user")
	}
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(f.status)
	io.WriteString(w, body)
	return true
}

// readBody reads a JSON or multipart body (payload_json + files[n]),
// bounded by maxRequestBody.
func readBody(w http.ResponseWriter, r *http.Request, req *request) error {
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) || strings.Contains(err.Error(), "too large") {
				return errTooLarge
			}
			return err
		}
		defer r.MultipartForm.RemoveAll()
		if v := r.MultipartForm.Value["payload_json"]; len(v) > 0 {
			req.raw = []byte(v[0])
		}
		fields := make([]string, 0, len(r.MultipartForm.File))
		for k := range r.MultipartForm.File {
			fields = append(fields, k)
		}
		slices.SortFunc(fields, func(a, b string) int { return fileIndex(a) - fileIndex(b) })
		for _, field := range fields {
			for _, fh := range r.MultipartForm.File[field] {
				f, err := fh.Open()
				if err != nil {
					return err
				}
				data, err := io.ReadAll(f)
				f.Close()
				if err != nil {
					return err
				}
				ct := fh.Header.Get("Content-Type")
				if ct == "" || ct == "application/octet-stream" {
					ct = http.DetectContentType(data)
				}
				req.files = append(req.files, upload{index: fileIndex(field), name: fh.Filename, contentType: ct, data: data})
			}
		}
	default:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				return errTooLarge
			}
			return err
		}
		req.raw = data
	}
	if len(bytes.TrimSpace(req.raw)) > 0 {
		if !json.Valid(req.raw) {
			return &apiError{status: 400, Code: 50109, Message: "The request body contains invalid JSON."}
		}
		var v any
		json.Unmarshal(req.raw, &v)
		req.body, _ = v.(map[string]any) // nil for arrays
	}
	return nil
}

// fileIndex returns n of "files[n]" (also "file" → 0, "file1" → 1), a
// large number for other names.
func fileIndex(field string) int {
	if rest, ok := strings.CutPrefix(field, "files["); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
			return n
		}
	}
	if rest, ok := strings.CutPrefix(field, "file"); ok {
		if rest == "" {
			return 0
		}
		if n, err := strconv.Atoi(rest); err == nil {
			return n
		}
	}
	return 1 << 20
}

func (s *Server) route(w http.ResponseWriter, req *request) {
	p := req.parts
	n := len(p)
	is := func(method string, parts ...string) bool {
		if req.method != method || n != len(parts) {
			return false
		}
		for i, part := range parts {
			if part != "*" && part != p[i] {
				return false
			}
		}
		return true
	}
	needAuth := func() bool {
		if !req.auth {
			writeError(w, errUnauthorized)
			return false
		}
		return true
	}
	switch {
	case is("GET", "gateway"):
		writeJSON(w, 200, map[string]any{"url": s.gatewayURL()})
	case is("GET", "gateway", "bot"):
		if needAuth() {
			writeJSON(w, 200, map[string]any{"url": s.gatewayURL(), "shards": 1, "session_start_limit": map[string]any{
				"total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 1}})
		}
	case is("GET", "users", "@me"):
		if needAuth() {
			writeJSON(w, 200, s.botUser())
		}
	case is("POST", "users", "@me", "channels"):
		if needAuth() {
			s.createDM(w, req)
		}
	case n >= 3 && p[0] == "applications" && p[n-1] == "commands" && (n == 3 || n == 5 && p[2] == "guilds"):
		if !needAuth() {
			return
		}
		if p[1] != s.AppID {
			writeError(w, &apiError{status: 403, Code: 50001, Message: "Missing Access"})
			return
		}
		guild := ""
		if n == 5 {
			guild = p[3]
		}
		switch req.method {
		case "PUT":
			s.overwriteCommands(w, req, guild)
		case "GET":
			writeJSON(w, 200, s.Commands(guild))
		default:
			writeError(w, errMethod)
		}
	case is("POST", "interactions", "*", "*", "callback"):
		s.callback(w, req, p[1], p[2])
	case n >= 3 && p[0] == "webhooks":
		s.webhook(w, req)
	case n >= 3 && p[0] == "channels" && p[2] == "messages":
		if needAuth() {
			s.channelMessages(w, req)
		}
	case is("POST", "channels", "*", "typing"):
		if needAuth() {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		writeError(w, errNotFound)
	}
}

// apiPath strips the API prefix: /api/v10, or /api/v9, the version
// discordgo v0.29 builds its endpoints with (the routes used here are the
// same in both).
func apiPath(p string) (string, bool) {
	for _, v := range []string{"/api/v10", "/api/v9"} {
		if rest, ok := strings.CutPrefix(p, v); ok && (rest == "" || rest[0] == '/') {
			return rest, true
		}
	}
	return "", false
}

func (s *Server) gatewayURL() string {
	return "ws" + strings.TrimPrefix(s.root, "http") + "/gateway"
}

func (s *Server) createDM(w http.ResponseWriter, req *request) {
	var body struct {
		RecipientID string `json:"recipient_id"`
	}
	json.Unmarshal(req.raw, &body)
	if body.RecipientID == "" {
		writeError(w, formError("recipient_id", "BASE_TYPE_REQUIRED", "This field is required"))
		return
	}
	id := s.DMChannel(body.RecipientID)
	writeJSON(w, 200, map[string]any{
		"id": id, "type": int(discordgo.ChannelTypeDM), "last_message_id": nil, "flags": 0,
		"recipients": []any{map[string]any{"id": body.RecipientID, "username": "user" + body.RecipientID,
			"global_name": nil, "discriminator": "0", "avatar": nil, "public_flags": 0}},
	})
}

// addAttachment stores data on the CDN.
func (s *Server) addAttachment(channelID, filename, contentType string, data []byte) *attachment {
	if channelID == "" {
		channelID = "0"
	}
	id := s.Snowflake()
	a := newAttachment(s.root, channelID, id, filename, contentType, data)
	s.mu.Lock()
	s.attachments[id] = a
	s.mu.Unlock()
	return a
}

func newAttachment(root, channelID, id, filename, contentType string, data []byte) *attachment {
	if contentType == "" {
		contentType = http.DetectContentType(data)
	}
	w, h := imageSize(data)
	// Like the CDN: signed URLs that expire (ex), issued at (is), hash (hm).
	now := time.Now()
	q := fmt.Sprintf("?ex=%x&is=%x&hm=%s&", now.Add(24*time.Hour).Unix(), now.Unix(), id)
	path := "/attachments/" + channelID + "/" + id + "/" + url.PathEscape(filename)
	return &attachment{ID: id, Filename: filename, Size: len(data), URL: root + path + q, ProxyURL: root + "/media" + path + q,
		ContentType: contentType, Width: w, Height: h, data: data}
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/media"), "/"), "/")
	status := http.StatusOK
	defer func() { s.record(Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: status}) }()
	var a *attachment
	if len(parts) == 4 {
		s.mu.Lock()
		a = s.attachments[parts[2]]
		s.mu.Unlock()
	}
	if a == nil || r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusNotFound
		http.Error(w, "404: Not Found", status)
		return
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
	if r.Method == http.MethodGet {
		w.Write(a.data)
	}
}
