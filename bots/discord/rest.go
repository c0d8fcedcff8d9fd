package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// Discord's JSON error codes this bot acts on.
const (
	codeUnknownWebhook      = 10015
	codeUnknownMessage      = 10008
	codeUnknownInteraction  = 10062
	codeMissingAccess       = 50001
	codeMissingPermissions  = 50013
	codeInvalidWebhookToken = 50027
	codeEntityTooLarge      = 40005
	codeAlreadyAcknowledged = 40060
)

// allowedMentions is Discord's allowed_mentions: nothing but the listed
// users is ever pinged (prompts are member text).
type allowedMentions struct {
	Parse []string `json:"parse"`
	Users []string `json:"users,omitempty"`
}

func noMentions() *allowedMentions { return &allowedMentions{Parse: []string{}} }

// attachmentRef names an upload (files[N] has id "N") in a message body.
type attachmentRef struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
}

// messageBody is the JSON of a message sent or edited through a webhook
// or the channel endpoint. Nil pointers are left out (kept as they are on
// edits).
type messageBody struct {
	Content         *string                       `json:"content,omitempty"`
	Components      *[]discordgo.MessageComponent `json:"components,omitempty"`
	Attachments     *[]attachmentRef              `json:"attachments,omitempty"`
	AllowedMentions *allowedMentions              `json:"allowed_mentions,omitempty"`
	Flags           int                           `json:"flags,omitempty"`
	Nonce           string                        `json:"nonce,omitempty"`
	EnforceNonce    bool                          `json:"enforce_nonce,omitempty"`
}

// upload is a file attached to a message.
type upload struct {
	name, contentType string
	data              []byte
}

// interactionResponse is the body of an interaction callback (or of the
// HTTP answer to an interaction).
type interactionResponse struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data *responseData                     `json:"data,omitempty"`
}

type responseData struct {
	Content         string           `json:"content,omitempty"`
	Flags           int              `json:"flags,omitempty"`
	AllowedMentions *allowedMentions `json:"allowed_mentions,omitempty"`
}

const flagEphemeral = int(discordgo.MessageFlagsEphemeral)

// call makes one REST call: JSON, or multipart with payload_json and
// files[n] when there are files. secret (an interaction token in the URL)
// is kept out of the returned error.
func (b *Bot) call(ctx context.Context, method, endpoint string, body any, files []upload, secret string) ([]byte, error) {
	opts := []discordgo.RequestOption{discordgo.WithContext(ctx)}
	bucket := strings.SplitN(endpoint, "?", 2)[0]
	var (
		out []byte
		err error
	)
	if len(files) > 0 {
		fs := make([]*discordgo.File, len(files))
		for i, f := range files {
			fs[i] = &discordgo.File{Name: f.name, ContentType: f.contentType, Reader: bytes.NewReader(f.data)}
		}
		ct, data, merr := discordgo.MultipartBodyWithJSON(body, fs)
		if merr != nil {
			return nil, merr
		}
		out, err = b.rest.RequestRaw(method, endpoint, ct, data, bucket, 0, opts...)
	} else {
		out, err = b.rest.RequestWithBucketID(method, endpoint, body, bucket, opts...)
	}
	if err != nil {
		return nil, redact(err, secret)
	}
	return out, nil
}

// redact keeps an interaction token out of transport errors.
func redact(err error, secret string) error {
	if secret == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, secret, "<token>")
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil {
		rl.URL = strings.ReplaceAll(rl.URL, secret, "<token>")
	}
	return err
}

// apiStatus returns the HTTP status and Discord error code of a REST error
// (0, 0 when Discord did not answer).
func apiStatus(err error) (status, code int) {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
		if re.Message != nil {
			code = re.Message.Code
		}
		return status, code
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		return http.StatusTooManyRequests, 0
	}
	return 0, 0
}

// temporary reports whether the same call may succeed later: rate limits,
// server errors and network failures.
func temporary(err error) bool {
	status, _ := apiStatus(err)
	return status == 0 || status == http.StatusTooManyRequests || status >= 500
}

// tokenGone reports the answers of an interaction webhook whose token has
// expired or whose response is gone.
func tokenGone(err error) bool {
	status, code := apiStatus(err)
	switch code {
	case codeInvalidWebhookToken, codeUnknownWebhook, codeUnknownMessage, codeUnknownInteraction:
		return true
	}
	return status == http.StatusUnauthorized || status == http.StatusNotFound
}

// forbidden reports a channel the bot may not post in.
func forbidden(err error) bool {
	status, code := apiStatus(err)
	return status == http.StatusForbidden || code == codeMissingAccess || code == codeMissingPermissions
}

// tooLarge reports an upload over the channel's limit.
func tooLarge(err error) bool {
	status, code := apiStatus(err)
	return status == http.StatusRequestEntityTooLarge || code == codeEntityTooLarge
}

// webhookURL is the URL of one message of an interaction's webhook.
func webhookURL(appID, token, message string) string {
	return discordgo.EndpointWebhookMessage(appID, token, message)
}

// editOriginal edits the interaction's response.
func (b *Bot) editOriginal(ctx context.Context, st replyState, body *messageBody, files []upload) error {
	_, err := b.call(ctx, http.MethodPatch, webhookURL(st.AppID, st.Token, "@original"), body, files, st.Token)
	if err != nil {
		return fmt.Errorf("edit response: %w", err)
	}
	return nil
}

// editText edits the interaction's response to text, retrying briefly
// when Discord has not yet recorded the acknowledgement.
func (b *Bot) editText(ctx context.Context, st replyState, text string) error {
	content := clip(text, maxContentRunes)
	body := &messageBody{Content: &content, AllowedMentions: noMentions()}
	var err error
	for i, wait := range []int{0, 250, 500, 1000, 2000} {
		if i > 0 && !sleep(ctx, time.Duration(wait)*time.Millisecond) {
			break
		}
		err = b.editOriginal(ctx, st, body, nil)
		if status, _ := apiStatus(err); status != http.StatusNotFound {
			return err
		}
	}
	return err
}

// respond posts an interaction callback.
func (b *Bot) respond(ctx context.Context, id, token string, resp *interactionResponse) error {
	_, err := b.call(ctx, http.MethodPost, discordgo.EndpointInteractionResponse(id, token), resp, nil, token)
	if err != nil {
		return fmt.Errorf("interaction callback: %w", err)
	}
	return nil
}

// clip shortens s to at most n characters, ending in "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
