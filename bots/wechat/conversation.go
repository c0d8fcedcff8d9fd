package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Menu click keys (see DefaultMenu).
const (
	ClickHelp    = "HELP"
	ClickBalance = "BALANCE"
)

// lang is the language of WeChat readers.
const lang = paimeng.LangZH

// replyState is what the bot stores with a job to answer later.
type replyState struct {
	OpenID     string    `json:"openid"`
	MsgID      int64     `json:"msg_id"`                 // the reader's prompt message
	ImageMsgID int64     `json:"image_msg_id,omitempty"` // the image it animates
	TailMsgID  int64     `json:"tail_msg_id,omitempty"`  // the end frame, with --tail
	Created    time.Time `json:"created"`
}

func parseReply(raw []byte) (replyState, bool) {
	var st replyState
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil || st.OpenID == "" {
		return replyState{}, false
	}
	return st, true
}

func (st replyState) marshal() []byte {
	raw, _ := json.Marshal(st)
	return raw
}

// interactive reports whether m is the reader talking to the account
// (which opens the 48-hour customer-service window and may carry pending
// results back) rather than a notification such as unsubscribe.
func interactive(m *message.MixMessage) bool {
	switch m.MsgType {
	case message.MsgTypeEvent:
		switch m.Event {
		case message.EventSubscribe, message.EventScan, message.EventClick:
			return true
		}
		return false
	case "":
		return false
	}
	return true
}

// resultsOnly is route's answer to "结果": nothing of its own beyond the
// pending results.
const resultsOnly = "\x00results"

// pendingMargin is kept from the reply budget for writing the reply.
const pendingMargin = 250 * time.Millisecond

// pendingDeadline is when preparing pending results for the reply to a
// message that arrived at start must be done.
func (b *Bot) pendingDeadline(start time.Time) time.Time {
	return start.Add(b.budget - min(pendingMargin, b.budget/4))
}

// process works out the answer to one message.
func (b *Bot) process(ctx context.Context, key string, m *message.MixMessage, start time.Time) *outcome {
	openID := string(m.FromUserName)
	o := &outcome{openID: openID}
	if openID == "" {
		o.foreign = true
		return o
	}
	if !b.claim(ctx, key) {
		b.log.Info("message handled before; replaying its answer", "msg_key", key, "user", openID)
		o.foreign = true
		o.reply = b.replay(ctx, key, start.Add(b.budget))
		return o
	}
	if !interactive(m) {
		return o
	}
	b.touch(ctx, openID)

	// Results waiting for this reader ride on the reply; they are
	// prepared while the message itself is answered.
	var wg sync.WaitGroup
	var prep *prepared
	wg.Go(func() { prep = b.takePending(ctx, openID, b.pendingDeadline(start)) })
	own := b.route(ctx, m)
	wg.Wait()

	if own == resultsOnly {
		own = ""
		if prep.empty() {
			own = noResultsText
		}
	}
	o.own, o.popped = own, prep.popped
	if prep.video != nil {
		v := *prep.video
		v.Desc = joinText(append(append([]string{v.Desc}, prep.texts...), own)...)
		o.reply = &v
	} else if text := joinText(append(prep.texts, own)...); text != "" {
		o.reply = &reply{Text: text}
	}
	return o
}

// touch records that the reader just wrote: the customer-service window
// opens for 48 hours and the message quota starts again.
func (b *Bot) touch(ctx context.Context, openID string) {
	pipe := b.rdb.TxPipeline()
	pipe.Set(ctx, b.key("last", openID), strconv.FormatInt(time.Now().Unix(), 10), csWindow)
	pipe.Del(ctx, b.key("cs", openID))
	if _, err := pipe.Exec(ctx); err != nil {
		b.log.Warn("recording the reader's last message failed", "user", openID, "err", err)
	}
}

// route answers m itself: a text, or "" for nothing to say.
func (b *Bot) route(ctx context.Context, m *message.MixMessage) string {
	switch m.MsgType {
	case message.MsgTypeText:
		return b.onText(ctx, m, m.Content)
	case message.MsgTypeVoice:
		if strings.TrimSpace(m.Recognition) != "" {
			return b.onText(ctx, m, m.Recognition)
		}
		return unsupportedText
	case message.MsgTypeImage:
		return b.onImage(ctx, m)
	case message.MsgTypeEvent:
		switch m.Event {
		case message.EventSubscribe:
			return b.help()
		case message.EventClick:
			switch m.EventKey {
			case ClickHelp:
				return b.help()
			case ClickBalance:
				return b.command(ctx, m, command.Command{Name: command.Balance})
			}
		}
		return ""
	}
	return unsupportedText
}

// keywords are the Chinese words (first word of a text) that run a command.
var keywords = map[string]string{
	"余额": command.Balance, "积分": command.Balance, "查询余额": command.Balance,
	"签到": command.Daily, "打卡": command.Daily,
	"兑换": command.Redeem,
	"排行": command.Top, "排行榜": command.Top,
	"价格": command.Price, "价格表": command.Price,
	"队列": command.Queue, "任务": command.Queue,
	"取消": command.Cancel,
	"关联": command.Link, "解除关联": command.Unlink,
	"点赞": command.Like, "赞": command.Like,
	"隐藏": command.Private, "公开": command.Public,
}

// onText answers a text: a command word, a slash command, or the prompt
// for the images the reader sent last.
func (b *Bot) onText(ctx context.Context, m *message.MixMessage, content string) string {
	text := strings.TrimSpace(content)
	if text == "" {
		return instructionsText
	}
	if strings.HasPrefix(text, "/") {
		cmd, perr := command.Parse(text)
		switch cmd.Name {
		case command.Gen:
			cmd, perr = parsePrompt(cmd.Args)
			return b.gen(ctx, m, cmd, perr)
		case command.Help, command.Start:
			return b.help()
		case "results":
			return resultsOnly
		}
		return b.command(ctx, m, cmd)
	}
	word, rest := text, ""
	if i := strings.IndexFunc(text, isSpace); i >= 0 {
		word, rest = text[:i], strings.TrimSpace(text[i:])
	}
	switch strings.ToLower(word) {
	case "拍梦":
		if rest == "" {
			return b.help()
		}
		cmd, perr := parsePrompt(rest)
		return b.gen(ctx, m, cmd, perr)
	case "帮助", "help", "菜单", "?", "？":
		if rest == "" {
			return b.help()
		}
	case "结果":
		if rest == "" {
			return resultsOnly
		}
	}
	if name, ok := keywords[word]; ok {
		return b.command(ctx, m, command.Command{Name: name, Args: rest})
	}
	cmd, perr := parsePrompt(text)
	return b.gen(ctx, m, cmd, perr)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '　' }

// command runs a community command through the shared handler.
func (b *Bot) command(ctx context.Context, m *message.MixMessage, cmd command.Command) string {
	id := identity(string(m.FromUserName))
	if text, ok := b.handler.Handle(ctx, id, lang, cmd); ok {
		b.log.Info("command", "command", cmd.Name, "user", id.String())
		return text
	}
	return instructionsText
}

// onImage remembers the reader's image for ImageTTL, with the one sent
// before it (an earlier one is dropped), and asks for the prompt.
func (b *Bot) onImage(ctx context.Context, m *message.MixMessage) string {
	openID := string(m.FromUserName)
	if m.PicURL == "" && m.MediaID == "" {
		return unsupportedText
	}
	memo := imageMemo{MediaID: m.MediaID, PicURL: m.PicURL, MsgID: m.MsgID, Sent: m.CreateTime, At: time.Now()}
	memos, err := b.rememberImage(ctx, openID, memo)
	if err != nil {
		b.log.Error("remembering an image failed", "user", openID, "err", err)
		return command.Message(lang, command.KeyTryLater)
	}
	b.log.Info("image received", "user", openID, "msg_id", m.MsgID, "images", len(memos))
	if len(memos) >= maxImages {
		return fmt.Sprintf(twoImagesText, minutes(b.imageTTL.Minutes()))
	}
	return fmt.Sprintf(imageSavedText, minutes(b.imageTTL.Minutes()))
}

// tailWords in a prompt ask for the end frame as --tail does.
var tailWords = []string{"首尾帧", "结束帧"}

// parsePrompt parses a prompt with its options (the text after /gen),
// taking the tail words out of it.
func parsePrompt(text string) (command.Command, error) {
	tail := false
	for _, w := range tailWords {
		if strings.Contains(text, w) {
			text, tail = strings.ReplaceAll(text, w, " "), true
		}
	}
	cmd, err := command.Parse("/gen " + text)
	if tail {
		cmd.Tail = true
		cmd.Prompt = strings.Trim(cmd.Prompt, " ，,、。.;；:：!！")
	}
	return cmd, err
}

// gen turns the reader's prompt and remembered images into a job and
// returns the acknowledgement (or a clear refusal). The latest image is
// the picture; with --tail the one before it is, and the latest is the
// end frame.
func (b *Bot) gen(ctx context.Context, m *message.MixMessage, cmd command.Command, perr error) string {
	openID := string(m.FromUserName)
	log := b.log.With("user", "wechat:"+openID, "msg_id", m.MsgID)
	memos, err := b.recallImages(ctx, openID)
	if err != nil {
		log.Error("reading the remembered images failed", "err", err)
		return command.Message(lang, command.KeyTryLater)
	}
	if cmd.Tail && len(memos) < maxImages {
		// The image stays for the end frame or a prompt without --tail.
		log.Info("request refused: --tail without two images", "images", len(memos))
		if len(memos) == 1 {
			return tailNeedsTwoText + "\n" + tailKeptText
		}
		return tailNeedsTwoText
	}
	if len(memos) == 0 {
		return instructionsText
	}
	if perr != nil {
		return refuse(log, perr)
	}
	used := memos[len(memos)-1:]
	if cmd.Tail {
		used = memos[len(memos)-maxImages:]
	}
	refused := func(err error) string {
		text := refuse(log, err)
		if imageProblem(err) {
			b.forgetImages(ctx, openID, used)
			if cmd.Tail {
				text += "\n" + tailResendText
			}
		}
		return text
	}
	image, err := b.downloadImage(ctx, &used[0])
	if err != nil {
		return refused(err)
	}
	var tail []byte
	if cmd.Tail {
		if tail, err = b.downloadImage(ctx, &used[1]); err != nil {
			return refused(err)
		}
	}
	st := replyState{OpenID: openID, MsgID: m.MsgID, ImageMsgID: used[0].MsgID, Created: time.Now().UTC()}
	key := "wechat:" + b.appID + ":" + strconv.FormatInt(used[0].MsgID, 10)
	if cmd.Tail {
		st.TailMsgID = used[1].MsgID
		key += ":" + strconv.FormatInt(used[1].MsgID, 10)
	}
	req := &paimeng.Request{
		Identity:       identity(openID),
		Lang:           lang,
		IdempotencyKey: key,
		Image:          image,
		Tail:           tail,
		Reply:          st.marshal(),
	}
	cmd.FillRequest(req)
	job, err := b.sub.Submit(ctx, req)
	if err != nil {
		return refused(err)
	}
	// Every remembered image is consumed: the next prompt needs a new one.
	b.forgetImages(ctx, openID, memos)
	log = log.With("job_id", job.ID)
	if prev, ok := parseReply(job.Reply); ok && prev.MsgID != m.MsgID {
		log.Info("image used before", "first_msg_id", prev.MsgID)
		return fmt.Sprintf(imageUsedText, job.ID)
	}
	pos, err := b.jobs.QueuePosition(ctx, job.ID)
	if err != nil {
		log.Warn("queue position unknown", "err", err)
		pos = -1
	}
	log.Info("job queued", "position", pos, "price", job.Price, "mode", string(job.Mode), "lane", string(job.Lane), "tail", cmd.Tail)
	ack := command.AckNotes(command.QueuedPriceText(lang, job.ID, pos, job.Price),
		command.CameraLine(lang, job.Shot), command.NegativeNote(lang, req.NegativePrompt))
	if !b.customerService {
		ack += nextMessageText
		if u := b.videoURL(job.ID); u != "" {
			ack += fmt.Sprintf(watchOnWebText, u)
		}
	}
	return ack
}

// imageProblem reports errors that the same image will always get.
func imageProblem(err error) bool {
	switch paimeng.ErrorCode(err) {
	case paimeng.EImageFormat, paimeng.EImageTooLarge, paimeng.EImageTooSmall, paimeng.ENoImage:
		return true
	}
	return false
}

// refuse logs err and returns its member-facing text.
func refuse(log *slog.Logger, err error) string {
	if paimeng.ErrorCode(err) == paimeng.EINTERNAL {
		log.Error("request failed", "err", err)
	} else {
		log.Info("request refused", "code", paimeng.ErrorCode(err), "err", err)
	}
	return command.ErrorText(lang, err)
}

// downloadImage fetches the remembered image from its PicUrl, or through
// media/get when that fails, refusing anything over paimeng.MaxImageBytes.
func (b *Bot) downloadImage(ctx context.Context, memo *imageMemo) ([]byte, error) {
	var first error
	if memo.PicURL != "" {
		data, err := b.download(ctx, memo.PicURL)
		if err == nil || paimeng.ErrorCode(err) == paimeng.EImageTooLarge {
			return data, err
		}
		first = err
	}
	if memo.MediaID != "" {
		data, err := b.mediaGet(ctx, memo.MediaID, paimeng.MaxImageBytes)
		if err == nil || paimeng.ErrorCode(err) == paimeng.EImageTooLarge {
			return data, err
		}
		if first != nil {
			b.log.Warn("image download failed", "err", first)
		}
		return nil, fmt.Errorf("wechat: media/get %s: %w", memo.MediaID, err)
	}
	if first == nil {
		first = paimeng.Errorf(paimeng.ENoImage, "image has neither PicUrl nor MediaId")
	}
	return nil, first
}

// download fetches a URL, at most paimeng.MaxImageBytes.
func (b *Bot) download(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("wechat: download image: %w", err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("wechat: download image: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("wechat: download image: HTTP %d", resp.StatusCode)
	}
	if resp.ContentLength > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "image is %d bytes", resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, paimeng.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wechat: download image: %w", err)
	}
	if len(data) > paimeng.MaxImageBytes {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "download over %d bytes", paimeng.MaxImageBytes)
	}
	return data, nil
}
