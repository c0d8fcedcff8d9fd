package telegram

import (
	"context"
	"log/slog"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// handleCallback handles a press of an inline button: a like button likes
// the video for the member who pressed it. Every query is answered once,
// so the member's client stops waiting; a query delivered again is ignored.
func (b *Bot) handleCallback(ctx context.Context, q *tgbotapi.CallbackQuery) {
	if q.From == nil || q.ID == "" || q.From.IsBot {
		return
	}
	b.mu.Lock()
	fresh := b.queries.add(q.ID, time.Now())
	b.mu.Unlock()
	if !fresh {
		b.log.Debug("duplicate callback query", "callback_query_id", q.ID)
		return
	}
	id := identityOf(q.From)
	lang := paimeng.LangFromCode(q.From.LanguageCode)
	log := b.log.With("user", id.String(), "callback_query_id", q.ID)

	jobID, ok := command.ParseLikeData(q.Data)
	if !ok {
		// An old or foreign button: stop the spinner, say nothing.
		log.Info("unknown button", "data", q.Data)
		b.answerQuery(ctx, log, q.ID, "")
		return
	}
	log = log.With("job_id", jobID)
	added, likes, err := b.community.Like(ctx, id, jobID)
	switch {
	case err != nil && paimeng.ErrorCode(err) == paimeng.EINTERNAL:
		log.Error("like failed", "err", err)
	case err != nil:
		log.Info("like refused", "code", paimeng.ErrorCode(err), "err", err)
	default:
		log.Info("liked", "added", added, "likes", likes)
	}
	b.answerQuery(ctx, log, q.ID, command.LikeText(lang, jobID, added, likes, err))
}

// answerQuery answers a callback query with a short notice (none when text
// is empty), logging failures: a query answered late has expired, and the
// like stands either way.
func (b *Bot) answerQuery(ctx context.Context, log *slog.Logger, queryID, text string) {
	err := b.call(ctx, "answerCallbackQuery", func(api *tgbotapi.BotAPI) error {
		_, err := api.Request(tgbotapi.NewCallback(queryID, clip(text, maxAnswerUTF16)))
		return err
	})
	if err != nil {
		log.Warn("answerCallbackQuery failed", "err", err)
	}
}
