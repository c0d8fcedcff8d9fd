// Package telegramtest is an in-process Telegram Bot API server for tests:
// it speaks the wire format (form, multipart and JSON requests; replies
// {"ok":true,"result":…}), queues updates for getUpdates (honouring
// allowed_updates), records what the bot sends (inline keyboards included),
// lets members press the bot's inline buttons (callback_query updates),
// records answerCallbackQuery calls and serves files for getFile and
// downloads.
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
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng/internal/testenv"
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
	// ReplyMarkup is the inline keyboard sent with the message (from the
	// reply_markup parameter), nil when there was none.
	ReplyMarkup *tgbotapi.InlineKeyboardMarkup
}

// CallbackData lists the callback_data of every inline button of the
// message, row by row.
func (c Sent) CallbackData() []string {
	var out []string
	if c.ReplyMarkup == nil {
		return nil
	}
	for _, row := range c.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData != nil {
				out = append(out, *b.CallbackData)
			}
		}
	}
	return out
}

// Answer is one accepted answerCallbackQuery call.
type Answer struct {
	CallbackQueryID string
	Text            string
	ShowAlert       bool
	URL             string
	CacheTime       int
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

// callbackDataMax is Telegram's limit on a button's callback_data, in bytes.
const callbackDataMax = 64

// answerTextMax is Telegram's limit on an answerCallbackQuery text, in characters.
const answerTextMax = 200

// Server is a fake Bot API. All methods are safe for concurrent use.
type Server struct {
	URL   string // base URL for the bot's API URL setting
	Token string
	Bot   tgbotapi.User

	srv *httptest.Server

	mu        sync.Mutex
	changes   testenv.Changes // wakes waiters on every change
	updates   []tgbotapi.Update
	nextUpd   int
	nextMsg   int
	nextFile  int
	files     map[string]file // by file_id
	paths     map[string]string
	messages  map[[2]int64]*tgbotapi.Message // bot messages by chat, id
	sent      []Sent
	queries   map[string]bool // callback query ids issued: answered?
	answers   []Answer
	nextQuery int
	allowed   []string // allowed_updates as last set; nil: Telegram's default
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
		nextUpd:   1000,
		nextMsg:   500,
		files:     map[string]file{},
		paths:     map[string]string{},
		messages:  map[[2]int64]*tgbotapi.Message{},
		queries:   map[string]bool{},
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
	s.changes.Notify()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

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
	s.changes.Notify()
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

// NewCallbackQuery builds the callback query Telegram sends when from
// presses the inline button with callback_data data on a message the bot
// sent: a fresh query id, the presser, the message as it now stands and the
// data. It fails when there is no such message or button.
func (s *Server) NewCallbackQuery(from *tgbotapi.User, chatID int64, messageID int, data string) (*tgbotapi.CallbackQuery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[[2]int64{chatID, int64(messageID)}]
	if !ok {
		return nil, fmt.Errorf("telegramtest: no message %d in chat %d", messageID, chatID)
	}
	if !slices.Contains(Sent{ReplyMarkup: m.ReplyMarkup}.CallbackData(), data) {
		return nil, fmt.Errorf("telegramtest: message %d in chat %d has no button with data %q", messageID, chatID, data)
	}
	s.nextQuery++
	id := fmt.Sprintf("%d%06d", BotID, s.nextQuery)
	s.queries[id] = false
	msg := *m
	return &tgbotapi.CallbackQuery{
		ID:           id,
		From:         from,
		Message:      &msg,
		ChatInstance: fmt.Sprintf("ci%d", chatID),
		Data:         data,
	}, nil
}

// PressButton queues the callback_query update of from pressing the button
// with callback_data data on the bot's message (see NewCallbackQuery) and
// returns the update; pushing it again delivers the same query twice.
func (s *Server) PressButton(from *tgbotapi.User, chatID int64, messageID int, data string) (tgbotapi.Update, error) {
	q, err := s.NewCallbackQuery(from, chatID, messageID, data)
	if err != nil {
		return tgbotapi.Update{}, err
	}
	u := tgbotapi.Update{CallbackQuery: q}
	u.UpdateID = s.PushUpdate(u)
	return u, nil
}

// Answers returns every accepted answerCallbackQuery call so far, in order.
// Telegram accepts one answer per query; later ones fail with 400.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// WaitAnswers waits until at least n callback queries were answered and
// returns the answers; the test fails otherwise.
func (s *Server) WaitAnswers(t testing.TB, n int) []Answer {
	t.Helper()
	return s.WaitFor(t, func() bool { return len(s.Answers()) >= n }, "%d answerCallbackQuery calls", n).Answers()
}

// AllowedUpdates returns the update types the bot last asked getUpdates
// for; nil until it asked (Telegram's default then applies).
func (s *Server) AllowedUpdates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.allowed)
}

// Message returns a message the bot sent as it now stands (edits and
// keyboard included).
func (s *Server) Message(chatID int64, messageID int) (tgbotapi.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[[2]int64{chatID, int64(messageID)}]
	if !ok {
		return tgbotapi.Message{}, false
	}
	return *m, true
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
	if m.Text == "" {
		return m.Caption, true
	}
	return m.Text, true
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
	s.changes.WaitFor(t, "telegramtest", cond, what, args...)
	return s
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
		s.changes.Notify()
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
	case "answerCallbackQuery":
		s.answerCallback(w, params)
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
	var allowed []string
	if raw := p["allowed_updates"]; raw != "" && raw != "null" {
		if err := json.Unmarshal([]byte(raw), &allowed); err != nil {
			writeError(w, Failure{Code: 400, Description: "Bad Request: can't parse allowed updates"})
			return
		}
		if allowed == nil {
			allowed = []string{}
		}
	}
	s.mu.Lock()
	s.offsets = append(s.offsets, offset)
	if allowed != nil {
		// Like Telegram: the setting sticks until the next call that names one.
		s.allowed = allowed
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if offset != 0 {
			// Like Telegram: an offset confirms every earlier update.
			s.updates = slices.DeleteFunc(s.updates, func(u tgbotapi.Update) bool { return u.UpdateID < offset })
		}
		// Updates of types the bot did not ask for are dropped.
		s.updates = slices.DeleteFunc(s.updates, func(u tgbotapi.Update) bool { return !s.allowedLocked(updateType(u)) })
		out := slices.Clone(s.updates[:min(limit, len(s.updates))])
		ch, closed := s.changes.C(), s.closed
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

// allowedLocked reports whether getUpdates hands out updates of type typ.
func (s *Server) allowedLocked(typ string) bool {
	if len(s.allowed) == 0 {
		// Telegram's default: everything but these.
		return typ != "chat_member" && typ != "message_reaction" && typ != "message_reaction_count"
	}
	return slices.Contains(s.allowed, typ)
}

// updateType is the allowed_updates name of the update's kind.
func updateType(u tgbotapi.Update) string {
	switch {
	case u.Message != nil:
		return "message"
	case u.EditedMessage != nil:
		return "edited_message"
	case u.ChannelPost != nil:
		return "channel_post"
	case u.EditedChannelPost != nil:
		return "edited_channel_post"
	case u.InlineQuery != nil:
		return "inline_query"
	case u.ChosenInlineResult != nil:
		return "chosen_inline_result"
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.ShippingQuery != nil:
		return "shipping_query"
	case u.PreCheckoutQuery != nil:
		return "pre_checkout_query"
	case u.Poll != nil:
		return "poll"
	case u.PollAnswer != nil:
		return "poll_answer"
	case u.MyChatMember != nil:
		return "my_chat_member"
	case u.ChatMember != nil:
		return "chat_member"
	case u.ChatJoinRequest != nil:
		return "chat_join_request"
	}
	return ""
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
	markup, err := readMarkup(p["reply_markup"])
	if err != nil {
		writeError(w, Failure{Code: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	if up != nil && s.maxUpload[method] > 0 && len(up.data) > s.maxUpload[method] {
		s.changes.Notify()
		s.mu.Unlock()
		writeError(w, Failure{Code: 413, Description: "Request Entity Too Large"})
		return
	}
	s.nextMsg++
	id := s.nextMsg
	c := Sent{Method: method, ChatID: chatID, MessageID: id, ReplyTo: replyTo, Text: p["text"], Caption: p["caption"], Params: p, ReplyMarkup: markup}
	if up != nil {
		c.FileField, c.FileName, c.File = up.field, up.name, up.data
	}
	msg := tgbotapi.Message{MessageID: id, Date: int(time.Now().Unix()), Chat: &tgbotapi.Chat{ID: chatID}, From: &s.Bot, Text: c.Text, Caption: c.Caption, ReplyMarkup: markup}
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
	s.sent = append(s.sent, c)
	stored := msg
	s.messages[[2]int64{chatID, int64(id)}] = &stored
	s.changes.Notify()
	s.mu.Unlock()
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
	markup, err := readMarkup(p["reply_markup"])
	if err != nil {
		s.mu.Unlock()
		writeError(w, Failure{Code: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	if m.Text == p["text"] && sameMarkup(m.ReplyMarkup, markup) {
		s.mu.Unlock()
		writeError(w, Failure{Code: 400, Description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"})
		return
	}
	// Like Telegram: an edit without reply_markup removes the keyboard.
	m.Text, m.ReplyMarkup = p["text"], markup
	s.sent = append(s.sent, Sent{Method: "editMessageText", ChatID: chatID, MessageID: id, Text: p["text"], Params: p, ReplyMarkup: markup})
	out := *m
	s.changes.Notify()
	s.mu.Unlock()
	writeResult(w, out)
}

func (s *Server) answerCallback(w http.ResponseWriter, p map[string]string) {
	id := p["callback_query_id"]
	text := p["text"]
	if utf8.RuneCountInString(text) > answerTextMax {
		writeError(w, Failure{Code: 400, Description: "Bad Request: MESSAGE_TOO_LONG"})
		return
	}
	s.mu.Lock()
	answered, ok := s.queries[id]
	if !ok || answered {
		s.changes.Notify()
		s.mu.Unlock()
		writeError(w, Failure{Code: 400, Description: "Bad Request: query is too old and response timeout expired or query ID is invalid"})
		return
	}
	s.queries[id] = true
	alert, _ := strconv.ParseBool(p["show_alert"])
	cache, _ := strconv.Atoi(p["cache_time"])
	s.answers = append(s.answers, Answer{CallbackQueryID: id, Text: text, ShowAlert: alert, URL: p["url"], CacheTime: cache})
	s.changes.Notify()
	s.mu.Unlock()
	writeResult(w, true)
}

// readMarkup reads a reply_markup parameter; only inline keyboards are
// kept (reply keyboards and force_reply attach nothing to the message).
func readMarkup(raw string) (*tgbotapi.InlineKeyboardMarkup, error) {
	if raw == "" || raw == "null" {
		return nil, nil
	}
	var m struct {
		InlineKeyboard *[][]tgbotapi.InlineKeyboardButton `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	if m.InlineKeyboard == nil {
		return nil, nil
	}
	for _, row := range *m.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" {
				return nil, fmt.Errorf("text buttons are unallowed in the inline keyboard")
			}
			if b.CallbackData != nil && (len(*b.CallbackData) == 0 || len(*b.CallbackData) > callbackDataMax) {
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
		}
	}
	return &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: *m.InlineKeyboard}, nil
}

func sameMarkup(a, b *tgbotapi.InlineKeyboardMarkup) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
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
