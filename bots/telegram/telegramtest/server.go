// Package telegramtest is an in-process Telegram Bot API server for tests:
// it speaks the wire format (form, multipart and JSON requests; replies
// {"ok":true,"result":…}), queues updates for getUpdates, records what the
// bot sends and serves files for getFile and downloads.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Defaults for the bot the server impersonates.
const (
	Token       = "123456:TEST-token"
	BotID       = int64(123456)
	BotUserName = "PaimengBot"
)

// Sent is one call the bot made that sends or edits a message.
type Sent struct {
	Method    string // sendMessage, editMessageText, sendVideo, sendDocument, …
	ChatID    int64
	MessageID int // the new message, or the edited one
	ReplyTo   int // reply_to_message_id
	Text      string
	Caption   string
	Params    map[string]string
	FileField string // "video", "document", … when a file was uploaded
	FileName  string
	File      []byte
}

// Failure is an error the server answers with instead of running a method.
type Failure struct {
	Code        int // HTTP status and error_code
	Description string
	RetryAfter  int // seconds; sets parameters.retry_after
}

type file struct {
	path string
	data []byte
}

type message struct {
	text string
}

// Server is a fake Bot API. All methods are safe for concurrent use.
type Server struct {
	URL   string // base URL for the bot's API URL setting
	Token string
	Bot   tgbotapi.User

	srv *httptest.Server

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	updates   []tgbotapi.Update
	nextUpd   int
	nextMsg   int
	nextFile  int
	files     map[string]file // by file_id
	paths     map[string]string
	messages  map[[2]int64]*message // bot messages by chat, id
	sent      []Sent
	calls     map[string]int
	failures  map[string][]Failure
	maxUpload map[string]int
	offsets   []int
	closed    bool
}

// NewServer starts a server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		Token:     Token,
		Bot:       tgbotapi.User{ID: BotID, IsBot: true, FirstName: "Paimeng", UserName: BotUserName},
		changed:   make(chan struct{}),
		nextUpd:   1000,
		nextMsg:   500,
		files:     map[string]file{},
		paths:     map[string]string{},
		messages:  map[[2]int64]*message{},
		calls:     map[string]int{},
		failures:  map[string][]Failure{},
		maxUpload: map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server; pending getUpdates calls return.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// PushUpdate queues an update for getUpdates. A zero UpdateID gets the
// next one; the id is returned.
func (s *Server) PushUpdate(u tgbotapi.Update) int {
	return s.PushUpdates(u)[0]
}

// PushUpdates queues updates at once, so one getUpdates call sees them all;
// pushing an update with the same id twice delivers it twice.
func (s *Server) PushUpdates(us ...tgbotapi.Update) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, len(us))
	for i, u := range us {
		if u.UpdateID == 0 {
			s.nextUpd++
			u.UpdateID = s.nextUpd
		} else if u.UpdateID > s.nextUpd {
			s.nextUpd = u.UpdateID
		}
		ids[i] = u.UpdateID
		s.updates = append(s.updates, u)
	}
	s.notifyLocked()
	return ids
}

// PushMessage completes m (message id, date, chat from the sender, command
// entities for text and captions starting with "/"), queues it as a new
// update and returns the completed message.
func (s *Server) PushMessage(m tgbotapi.Message) tgbotapi.Message {
	m = s.CompleteMessage(m)
	s.PushUpdate(tgbotapi.Update{Message: &m})
	return m
}

// CompleteMessage fills in what Telegram would: a message id, the date,
// a private chat with the sender when Chat is nil and bot_command entities.
func (s *Server) CompleteMessage(m tgbotapi.Message) tgbotapi.Message {
	s.mu.Lock()
	if m.MessageID == 0 {
		s.nextMsg++
		m.MessageID = s.nextMsg
	}
	s.mu.Unlock()
	if m.Date == 0 {
		m.Date = int(time.Now().Unix())
	}
	if m.Chat == nil && m.From != nil {
		m.Chat = &tgbotapi.Chat{ID: m.From.ID, Type: "private", FirstName: m.From.FirstName}
	}
	if m.Entities == nil {
		m.Entities = commandEntity(m.Text)
	}
	if m.CaptionEntities == nil {
		m.CaptionEntities = commandEntity(m.Caption)
	}
	return m
}

func commandEntity(text string) []tgbotapi.MessageEntity {
	if !strings.HasPrefix(text, "/") {
		return nil
	}
	end := strings.IndexAny(text, " \n\t")
	if end < 0 {
		end = len(text)
	}
	return []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: utf16Len(text[:end])}}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xffff {
			n++
		}
	}
	return n
}

// AddFile serves data for getFile and download and returns its file id.
func (s *Server) AddFile(data []byte, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFile++
	id := fmt.Sprintf("file-%d", s.nextFile)
	if name == "" {
		name = "file"
	}
	path := fmt.Sprintf("documents/%d_%s", s.nextFile, name)
	s.files[id] = file{path: path, data: data}
	s.paths[path] = id
	return id
}

// AddPhoto serves data as the largest size of a photo and returns the
// sizes as Telegram lists them (a small thumbnail first).
func (s *Server) AddPhoto(data []byte, width, height int) []tgbotapi.PhotoSize {
	thumb := []byte("thumbnail:" + strconv.Itoa(len(data)))
	tid := s.AddFile(thumb, "thumb.jpg")
	id := s.AddFile(data, "photo.jpg")
	return []tgbotapi.PhotoSize{
		{FileID: tid, FileUniqueID: "u" + tid, Width: 90, Height: 90 * height / max(width, 1), FileSize: len(thumb)},
		{FileID: id, FileUniqueID: "u" + id, Width: width, Height: height, FileSize: len(data)},
	}
}

// AddDocument serves data as a document with the given name and MIME type.
func (s *Server) AddDocument(data []byte, name, mimeType string) *tgbotapi.Document {
	id := s.AddFile(data, name)
	return &tgbotapi.Document{FileID: id, FileUniqueID: "u" + id, FileName: name, MimeType: mimeType, FileSize: len(data)}
}

// FailNext makes the next call of method fail with f. Several calls queue.
func (s *Server) FailNext(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], f)
}

// SetUploadLimit makes method (sendVideo, sendDocument…) answer 413
// "Request Entity Too Large" for uploaded files over n bytes; 0 removes it.
func (s *Server) SetUploadLimit(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxUpload[method] = n
}

// Sent returns every sending or editing call so far, in order. With
// methods, only calls of those methods.
func (s *Server) Sent(methods ...string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Sent
	for _, c := range s.sent {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Calls returns how many times method was called, failures included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Offsets returns the offset of every getUpdates call so far.
func (s *Server) Offsets() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offsets)
}

// MessageText returns the current text of a message the bot sent.
func (s *Server) MessageText(chatID int64, messageID int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[[2]int64{chatID, int64(messageID)}]
	if !ok {
		return "", false
	}
	return m.text, true
}

// WaitSent waits up to 10 s until at least n calls of method were recorded
// and returns them; the test fails otherwise.
func (s *Server) WaitSent(t testing.TB, method string, n int) []Sent {
	t.Helper()
	return s.WaitFor(t, func() bool { return len(s.Sent(method)) >= n }, "%d %s calls", n, method).Sent(method)
}

// WaitFor waits up to a minute for cond to hold (renders run under -race on
// busy machines); the test fails otherwise.
func (s *Server) WaitFor(t testing.TB, cond func() bool, what string, args ...any) *Server {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return s
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("telegramtest: timed out waiting for "+what, args...)
			return s
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/file/bot"); ok {
		token, fpath, _ := strings.Cut(rest, "/")
		s.serveFile(w, token, fpath)
		return
	}
	rest, ok := strings.CutPrefix(path, "/bot")
	if !ok {
		http.NotFound(w, r)
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if token != s.Token {
		writeError(w, Failure{Code: 401, Description: "Unauthorized"})
		return
	}
	params, upload, err := readParams(r)
	if err != nil {
		writeError(w, Failure{Code: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	s.calls[method]++
	if fs := s.failures[method]; len(fs) > 0 {
		s.failures[method] = fs[1:]
		s.notifyLocked()
		s.mu.Unlock()
		writeError(w, fs[0])
		return
	}
	s.mu.Unlock()

	switch method {
	case "getMe":
		writeResult(w, s.Bot)
	case "getUpdates":
		s.getUpdates(w, r, params)
	case "getFile":
		s.getFile(w, params)
	case "sendMessage":
		s.send(w, method, params, nil)
	case "sendVideo", "sendDocument", "sendPhoto", "sendAnimation":
		s.send(w, method, params, upload)
	case "editMessageText":
		s.editText(w, params)
	case "deleteWebhook", "setMyCommands", "sendChatAction", "deleteMessage":
		writeResult(w, true)
	default:
		writeError(w, Failure{Code: 404, Description: "Not Found"})
	}
}

type uploaded struct {
	field, name string
	data        []byte
}

func readParams(r *http.Request) (map[string]string, *uploaded, error) {
	params := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(256 << 20); err != nil {
			return nil, nil, err
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
		for field, fhs := range r.MultipartForm.File {
			f, err := fhs[0].Open()
			if err != nil {
				return nil, nil, err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
			return params, &uploaded{field: field, name: fhs[0].Filename, data: data}, nil
		}
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && err != io.EOF {
			return nil, nil, err
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				params[k] = s
			} else {
				b, _ := json.Marshal(v)
				params[k] = string(b)
			}
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		for k, v := range r.Form {
			params[k] = v[0]
		}
	}
	return params, nil, nil
}

func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.Atoi(p["offset"])
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p["timeout"])
	deadline := time.After(time.Duration(timeout) * time.Second)
	s.mu.Lock()
	s.offsets = append(s.offsets, offset)
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if offset != 0 {
			// Like Telegram: an offset confirms every earlier update.
			s.updates = slices.DeleteFunc(s.updates, func(u tgbotapi.Update) bool { return u.UpdateID < offset })
		}
		out := slices.Clone(s.updates[:min(limit, len(s.updates))])
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if len(out) > 0 || timeout <= 0 || closed {
			writeResult(w, out)
			return
		}
		select {
		case <-ch:
		case <-deadline:
			writeResult(w, []tgbotapi.Update{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) getFile(w http.ResponseWriter, p map[string]string) {
	s.mu.Lock()
	f, ok := s.files[p["file_id"]]
	s.mu.Unlock()
	if !ok {
		writeError(w, Failure{Code: 400, Description: "Bad Request: invalid file_id"})
		return
	}
	writeResult(w, tgbotapi.File{FileID: p["file_id"], FileUniqueID: "u" + p["file_id"], FileSize: len(f.data), FilePath: f.path})
}

func (s *Server) serveFile(w http.ResponseWriter, token, path string) {
	s.mu.Lock()
	s.calls["download"]++
	id, ok := s.paths[path]
	f := s.files[id]
	s.mu.Unlock()
	if token != s.Token || !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	w.Write(f.data)
}

func (s *Server) send(w http.ResponseWriter, method string, p map[string]string, up *uploaded) {
	chatID, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil {
		writeError(w, Failure{Code: 400, Description: "Bad Request: chat not found"})
		return
	}
	if method == "sendMessage" && strings.TrimSpace(p["text"]) == "" {
		writeError(w, Failure{Code: 400, Description: "Bad Request: message text is empty"})
		return
	}
	replyTo, _ := strconv.Atoi(p["reply_to_message_id"])
	s.mu.Lock()
	if up != nil && s.maxUpload[method] > 0 && len(up.data) > s.maxUpload[method] {
		s.notifyLocked()
		s.mu.Unlock()
		writeError(w, Failure{Code: 413, Description: "Request Entity Too Large"})
		return
	}
	s.nextMsg++
	id := s.nextMsg
	c := Sent{Method: method, ChatID: chatID, MessageID: id, ReplyTo: replyTo, Text: p["text"], Caption: p["caption"], Params: p}
	if up != nil {
		c.FileField, c.FileName, c.File = up.field, up.name, up.data
	}
	s.sent = append(s.sent, c)
	s.messages[[2]int64{chatID, int64(id)}] = &message{text: c.Text}
	s.notifyLocked()
	s.mu.Unlock()

	msg := tgbotapi.Message{MessageID: id, Date: int(time.Now().Unix()), Chat: &tgbotapi.Chat{ID: chatID}, From: &s.Bot, Text: c.Text, Caption: c.Caption}
	if replyTo != 0 {
		msg.ReplyToMessage = &tgbotapi.Message{MessageID: replyTo, Chat: &tgbotapi.Chat{ID: chatID}}
	}
	fid := fmt.Sprintf("sent-%d", id)
	switch method {
	case "sendVideo":
		w, _ := strconv.Atoi(p["width"])
		h, _ := strconv.Atoi(p["height"])
		d, _ := strconv.Atoi(p["duration"])
		msg.Video = &tgbotapi.Video{FileID: fid, FileUniqueID: "u" + fid, Width: w, Height: h, Duration: d, MimeType: "video/mp4", FileSize: len(c.File)}
	case "sendDocument":
		msg.Document = &tgbotapi.Document{FileID: fid, FileUniqueID: "u" + fid, FileName: c.FileName, FileSize: len(c.File)}
	}
	writeResult(w, msg)
}

func (s *Server) editText(w http.ResponseWriter, p map[string]string) {
	chatID, _ := strconv.ParseInt(p["chat_id"], 10, 64)
	id, _ := strconv.Atoi(p["message_id"])
	s.mu.Lock()
	m, ok := s.messages[[2]int64{chatID, int64(id)}]
	if !ok {
		s.mu.Unlock()
		writeError(w, Failure{Code: 400, Description: "Bad Request: message to edit not found"})
		return
	}
	if m.text == p["text"] {
		s.mu.Unlock()
		writeError(w, Failure{Code: 400, Description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"})
		return
	}
	m.text = p["text"]
	s.sent = append(s.sent, Sent{Method: "editMessageText", ChatID: chatID, MessageID: id, Text: p["text"], Params: p})
	s.notifyLocked()
	s.mu.Unlock()
	writeResult(w, tgbotapi.Message{MessageID: id, Date: int(time.Now().Unix()), Chat: &tgbotapi.Chat{ID: chatID}, From: &s.Bot, Text: p["text"]})
}

func writeResult(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": v})
}

func writeError(w http.ResponseWriter, f Failure) {
	body := map[string]any{"ok": false, "error_code": f.Code, "description": f.Description}
	if f.RetryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": f.RetryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Code)
	json.NewEncoder(w).Encode(body)
}
