package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// replyState is what the bot stores with a job to answer later.
type replyState struct {
	ChatID    int64        `json:"chat_id"`
	MessageID int          `json:"message_id"`                  // the member's /gen message
	StatusID  int          `json:"status_message_id,omitempty"` // the bot's queued/progress message
	Lang      paimeng.Lang `json:"lang,omitempty"`
}

func parseReply(raw []byte) (replyState, bool) {
	var st replyState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil || st.ChatID == 0 {
		return replyState{}, false
	}
	return st, true
}

func (st replyState) marshal() []byte {
	raw, _ := json.Marshal(st)
	return raw
}

func identityOf(u *tgbotapi.User) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: strconv.FormatInt(u.ID, 10)}
}

func displayName(u *tgbotapi.User) string {
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.UserName
}

func (b *Bot) handleMessage(ctx context.Context, m *tgbotapi.Message) {
	if m.From == nil || m.Chat == nil || m.From.IsBot {
		return
	}
	b.mu.Lock()
	fresh := b.messages.add(fmt.Sprintf("%d:%d", m.Chat.ID, m.MessageID), time.Now())
	b.mu.Unlock()
	if !fresh {
		return
	}
	id := identityOf(m.From)
	lang := paimeng.LangFromCode(m.From.LanguageCode)
	private := m.Chat.Type == "private"
	log := b.log.With("user", id.String(), "chat_id", m.Chat.ID, "message_id", m.MessageID)

	text := m.Text
	if text == "" {
		text = m.Caption
	}
	if strings.HasPrefix(strings.TrimSpace(text), "/") {
		cmd, perr := command.Parse(text)
		if cmd.Bot != "" && !strings.EqualFold(cmd.Bot, b.self.UserName) {
			return // for another bot
		}
		switch cmd.Name {
		case command.Start, command.Help:
			b.answer(ctx, log, m, command.Message(lang, command.KeyHelp))
		case command.Gen:
			b.gen(ctx, log, m, cmd, perr, lang)
		default:
			if !private && command.PrivateOnly(cmd) {
				// A link code shown in a group could be claimed by anyone
				// there, joining them to this member's wallet.
				b.answer(ctx, log, m, command.Message(lang, command.KeyPrivateOnly))
				return
			}
			// Known commands are answered anywhere; unknown ones only in
			// private chats or when addressed to this bot, so a group's
			// other bots keep their commands.
			if reply, ok := b.handler.Handle(ctx, id, lang, cmd); ok {
				log.Info("command", "command", cmd.Name)
				if strings.TrimSpace(reply) != "" {
					b.answer(ctx, log, m, reply)
				}
			} else if private || cmd.Bot != "" {
				b.answer(ctx, log, m, command.Message(lang, command.KeyHelp))
			}
		}
		return
	}
	// Groups: only commands are for the bot. Private chats get a hint,
	// except for albums (one hint per picture would flood the chat).
	if !private || m.MediaGroupID != "" {
		return
	}
	if ref, _ := imageOf(m); ref != nil || text != "" {
		b.answer(ctx, log, m, command.Message(lang, command.KeyHint))
	}
}

// answer replies to m, logging failures.
func (b *Bot) answer(ctx context.Context, log *slog.Logger, m *tgbotapi.Message, text string) {
	if _, err := b.reply(ctx, m.Chat.ID, m.MessageID, text); err != nil {
		log.Error("reply failed", "err", err)
	}
}

// reply sends text as a reply and returns the new message id. Text over
// Telegram's message limit is cut short.
func (b *Bot) reply(ctx context.Context, chatID int64, replyTo int, text string) (int, error) {
	msg := tgbotapi.NewMessage(chatID, clip(text, maxMessageUTF16))
	msg.ReplyToMessageID = replyTo
	msg.AllowSendingWithoutReply = true
	var sent tgbotapi.Message
	err := b.call(ctx, "sendMessage", func(api *tgbotapi.BotAPI) error {
		var err error
		sent, err = api.Send(msg)
		return err
	})
	return sent.MessageID, err
}

// edit replaces a message's text; "not modified" and "not found" are fine.
func (b *Bot) edit(ctx context.Context, chatID int64, messageID int, text string) error {
	err := b.call(ctx, "editMessageText", func(api *tgbotapi.BotAPI) error {
		_, err := api.Request(tgbotapi.NewEditMessageText(chatID, messageID, text))
		return err
	})
	if err != nil && !editNoop(err) {
		return err
	}
	return nil
}

// Telegram's limits on text, in UTF-16 code units.
const (
	maxMessageUTF16 = 4096 // sendMessage text
	maxAnswerUTF16  = 200  // answerCallbackQuery text
)

// clip shortens s to at most n UTF-16 code units, ending in "…" when cut.
func clip(s string, n int) string {
	if utf16Len(s) <= n {
		return s
	}
	units := 0
	for i, r := range s {
		units += utf16Width(r)
		if units > n-1 {
			return s[:i] + "…"
		}
	}
	return s
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Width(r)
	}
	return n
}

func utf16Width(r rune) int {
	if r > 0xffff {
		return 2
	}
	return 1
}

// imageRef is an image a message carries.
type imageRef struct {
	fileID string
	size   int
}

// imageOf returns the largest photo size or an image document of m, or the
// error code for a document that is not an image.
func imageOf(m *tgbotapi.Message) (*imageRef, string) {
	if m == nil {
		return nil, ""
	}
	if len(m.Photo) > 0 {
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height >= best.Width*best.Height {
				best = p
			}
		}
		return &imageRef{fileID: best.FileID, size: best.FileSize}, ""
	}
	if d := m.Document; d != nil {
		if imageDocument(d) {
			return &imageRef{fileID: d.FileID, size: d.FileSize}, ""
		}
		return nil, paimeng.EImageFormat
	}
	return nil, ""
}

func imageDocument(d *tgbotapi.Document) bool {
	return command.IsImageFile(d.MimeType, d.FileName)
}

// gen turns a /gen message into a job and acknowledges it once.
func (b *Bot) gen(ctx context.Context, log *slog.Logger, m *tgbotapi.Message, cmd command.Command, perr error, lang paimeng.Lang) {
	fail := func(err error) {
		if paimeng.ErrorCode(err) == paimeng.EINTERNAL {
			log.Error("/gen failed", "err", err)
		} else {
			log.Info("/gen refused", "code", paimeng.ErrorCode(err), "err", err)
		}
		b.answer(ctx, log, m, command.ErrorText(lang, err))
	}
	if perr != nil {
		fail(perr)
		return
	}
	ref, tailRef, err := genImages(m, cmd.Tail)
	if err != nil {
		fail(err)
		return
	}
	if ref == nil {
		// --tail without a picture replied to: say how it works.
		log.Info("/gen refused: --tail without two pictures")
		b.answer(ctx, log, m, command.Message(lang, command.KeyTailNeedsReply))
		return
	}
	image, err := b.download(ctx, ref.fileID)
	if err != nil {
		fail(err)
		return
	}
	var tail []byte
	if tailRef != nil {
		if tail, err = b.download(ctx, tailRef.fileID); err != nil {
			fail(err)
			return
		}
	}

	st := replyState{ChatID: m.Chat.ID, MessageID: m.MessageID, Lang: lang}
	req := &paimeng.Request{
		Identity:       identityOf(m.From),
		DisplayName:    displayName(m.From),
		Lang:           lang,
		IdempotencyKey: fmt.Sprintf("telegram:%d:%d:%d", b.self.ID, m.Chat.ID, m.MessageID),
		Image:          image,
		Tail:           tail,
		Reply:          st.marshal(),
	}
	cmd.FillRequest(req)
	job, err := b.sub.Submit(ctx, req)
	if err != nil {
		fail(err)
		return
	}
	log = log.With("job_id", job.ID)
	if prev, ok := parseReply(job.Reply); (ok && prev.StatusID != 0) || job.Status.Final() {
		log.Info("/gen seen before; already acknowledged")
		return
	}
	pos, err := b.jobs.QueuePosition(ctx, job.ID)
	if err != nil {
		log.Warn("queue position unknown", "err", err)
		pos = -1
	}
	ack := command.AckNotes(command.QueuedPriceText(lang, job.ID, pos, job.Price),
		command.CameraLine(lang, job.Shot), command.NegativeNote(lang, req.NegativePrompt))
	statusID, err := b.reply(ctx, m.Chat.ID, m.MessageID, ack)
	if err != nil {
		log.Error("queued reply failed", "err", err)
		return
	}
	st.StatusID = statusID
	if err := b.jobs.SetReply(ctx, job.ID, st.marshal()); err != nil {
		log.Error("storing status message failed", "err", err)
		return
	}
	log.Info("job queued", "position", pos, "price", job.Price, "mode", string(job.Mode), "lane", string(job.Lane))

	// A fast job may have been delivered before the status message existed.
	b.mu.Lock()
	done := b.delivered.has(job.ID, time.Now())
	b.mu.Unlock()
	if j, err := b.jobs.Job(ctx, job.ID); err == nil && (done || j.DeliveredAt != nil) {
		if err := b.edit(ctx, st.ChatID, st.StatusID, statusText(lang, j)); err != nil {
			log.Warn("status edit failed", "err", err)
		}
	}
}

// genImages finds /gen's picture: the message's own, or the one it
// replies to. With tail, the picture replied to is the first frame and the
// message's own the end frame; a nil first frame without an error means
// one of the two is missing. A document that is not an image, or a
// picture over the size limit, is an error.
func genImages(m *tgbotapi.Message, tail bool) (first, end *imageRef, err error) {
	own, code := imageOf(m)
	if code != "" {
		return nil, nil, paimeng.Errorf(code, "the message's document is not an image")
	}
	replied, rcode := imageOf(m.ReplyToMessage)
	switch {
	case tail:
		if rcode != "" {
			return nil, nil, paimeng.Errorf(rcode, "the replied-to document is not an image")
		}
		if own == nil || replied == nil {
			return nil, nil, nil
		}
		first, end = replied, own
	case own != nil:
		first = own
	case rcode != "":
		return nil, nil, paimeng.Errorf(rcode, "the replied-to document is not an image")
	case replied != nil:
		first = replied
	default:
		return nil, nil, paimeng.Errorf(paimeng.ENoImage, "no usable image")
	}
	for _, r := range []*imageRef{first, end} {
		if r != nil && r.size > paimeng.MaxImageBytes {
			return nil, nil, paimeng.Errorf(paimeng.EImageTooLarge, "file_size %d", r.size)
		}
	}
	return first, end, nil
}

// download fetches a file through getFile and the file URL, refusing
// anything over paimeng.MaxImageBytes.
func (b *Bot) download(ctx context.Context, fileID string) ([]byte, error) {
	var f tgbotapi.File
	err := b.call(ctx, "getFile", func(api *tgbotapi.BotAPI) error {
		var err error
		f, err = api.GetFile(tgbotapi.FileConfig{FileID: fileID})
		return err
	})
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "file is too big") {
			return nil, paimeng.Errorf(paimeng.EImageTooLarge, "getFile: %v", err)
		}
		return nil, fmt.Errorf("telegram: %w", err)
	}
	if f.FileSize > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "file_size %d", f.FileSize)
	}
	if f.FilePath == "" {
		return nil, fmt.Errorf("telegram: getFile %s: no file_path", fileID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/file/bot"+b.token+"/"+f.FilePath, nil)
	if err != nil {
		return nil, fmt.Errorf("telegram: download: %w", redact(err, b.token))
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("telegram: download: %w", redact(err, b.token))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("telegram: download %s: HTTP %d", f.FilePath, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, paimeng.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("telegram: download %s: %w", f.FilePath, err)
	}
	if len(data) > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "download over %d bytes", paimeng.MaxImageBytes)
	}
	return data, nil
}

// statusText is the final text of a job's status message.
func statusText(lang paimeng.Lang, job *paimeng.Job) string {
	switch job.Status {
	case paimeng.JobSucceeded:
		return command.Message(lang, command.KeyDone, job.ID)
	case paimeng.JobCanceled:
		return command.Message(lang, command.KeyCanceled)
	}
	return command.Message(lang, command.KeyFailed, job.ID)
}
