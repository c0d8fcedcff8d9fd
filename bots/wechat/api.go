package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/paimeng/paimeng"
)

// WeChat API error codes the bot acts on.
const (
	codeInvalidCredential = 40001 // access token invalid (or the secret is wrong)
	codeInvalidToken      = 40014 // access token malformed
	codeTokenExpired      = 42001 // access token expired
	codeInvalidMediaSize  = 40006 // media over the size limit
	codeOutOfWindow       = 45015 // customer service: the reader's last message is over 48 h old
	codeOutOfQuota        = 45047 // customer service: too many messages since the reader's last one
)

// maxAPIResponse bounds JSON answers of the API.
const maxAPIResponse = 1 << 20

// errAnswerTooLarge marks answers over the caller's limit.
var errAnswerTooLarge = errors.New("answer over the size limit")

// APIError is an error answer of the WeChat API.
type APIError struct {
	Path    string
	Code    int    // errcode, or the HTTP status when the body said nothing
	Message string // errmsg
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat: %s: errcode %d: %s", e.Path, e.Code, e.Message)
}

// apiCode returns the errcode of an API error, or 0.
func apiCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// tokenRejected reports whether the API refused the access token.
func tokenRejected(err error) bool {
	switch apiCode(err) {
	case codeInvalidCredential, codeInvalidToken, codeTokenExpired:
		return true
	}
	return false
}

// temporaryAPI reports whether a failed call may work when tried again:
// network errors, server errors and WeChat's "system busy" (-1).
func temporaryAPI(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.Code == -1 || ae.Code >= 500 && ae.Code < 600
}

// apiStatus is the error part of every JSON answer.
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// payload is a request body that can be sent more than once.
type payload struct {
	data        []byte
	contentType string
}

func jsonPayload(v any) (*payload, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return &payload{data: buf.Bytes(), contentType: "application/json; charset=utf-8"}, nil
}

// filePayload is a multipart form with one file in field.
func filePayload(field, name, contentType string, data []byte) (*payload, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": field, "filename": name}))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(data); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return &payload{data: buf.Bytes(), contentType: mw.FormDataContentType()}, nil
}

// call makes an authenticated API call: POST with body (or GET without)
// to path with query and the access token, decoding the JSON answer into
// out. A refused token is refreshed once and the call repeated.
func (b *Bot) call(ctx context.Context, path string, query url.Values, body *payload, out any) error {
	raw, _, err := b.fetch(ctx, path, query, body, maxAPIResponse)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("wechat: %s: unreadable answer: %w", path, err)
		}
	}
	return nil
}

// fetch makes an authenticated call and returns the answer's body (at
// most limit bytes) and content type. A JSON answer with a non-zero
// errcode becomes an *APIError.
func (b *Bot) fetch(ctx context.Context, path string, query url.Values, body *payload, limit int64) ([]byte, string, error) {
	tok, err := b.accessToken(ctx, "")
	if err != nil {
		return nil, "", err
	}
	raw, ct, err := b.do(ctx, path, query, tok, body, limit)
	if tokenRejected(err) {
		b.log.Info("access token refused; refreshing", "path", path, "code", apiCode(err))
		if tok, err = b.accessToken(ctx, tok); err != nil {
			return nil, "", err
		}
		raw, ct, err = b.do(ctx, path, query, tok, body, limit)
	}
	return raw, ct, err
}

// do makes one HTTP call to the API.
func (b *Bot) do(ctx context.Context, path string, query url.Values, tok string, body *payload, limit int64) ([]byte, string, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if tok != "" {
		q.Set("access_token", tok)
	}
	u := b.apiURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	method := http.MethodGet
	var rd io.Reader
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body.data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, "", fmt.Errorf("wechat: %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", body.contentType)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("wechat: %s: %w", path, redact(err, tok))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("wechat: %s: %w", path, redact(err, tok))
	}
	if int64(len(raw)) > limit {
		return nil, "", fmt.Errorf("wechat: %s: %w", path, errAnswerTooLarge)
	}
	ct := resp.Header.Get("Content-Type")
	if jsonAnswer(ct, raw) {
		var st apiStatus
		if err := json.Unmarshal(raw, &st); err == nil && st.ErrCode != 0 {
			return nil, ct, &APIError{Path: path, Code: st.ErrCode, Message: st.ErrMsg}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, ct, &APIError{Path: path, Code: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	}
	return raw, ct, nil
}

// jsonAnswer reports whether an answer is JSON (media/get answers errors
// as JSON, sometimes labelled text/plain, and files otherwise).
func jsonAnswer(contentType string, raw []byte) bool {
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "json") {
		return true
	}
	if strings.HasPrefix(ct, "text/") || ct == "" {
		t := bytes.TrimSpace(raw)
		return len(t) > 0 && t[0] == '{'
	}
	return false
}

// redact keeps access tokens out of logged transport errors.
func redact(err error, tok string) error {
	var ue *url.Error
	if tok != "" && errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, tok, "<token>")
	}
	return err
}

// uploadVideo uploads an MP4 as temporary media and returns its media id.
func (b *Bot) uploadVideo(ctx context.Context, name string, data []byte) (string, error) {
	body, err := filePayload("media", name, "video/mp4", data)
	if err != nil {
		return "", err
	}
	var out struct {
		MediaID string `json:"media_id"`
	}
	if err := b.call(ctx, "/cgi-bin/media/upload", url.Values{"type": {"video"}}, body, &out); err != nil {
		return "", err
	}
	if out.MediaID == "" {
		return "", &APIError{Path: "/cgi-bin/media/upload", Code: -2, Message: "no media_id"}
	}
	return out.MediaID, nil
}

// customText sends a customer-service text message.
func (b *Bot) customText(ctx context.Context, openID, text string) error {
	body, err := jsonPayload(map[string]any{
		"touser":  openID,
		"msgtype": "text",
		"text":    map[string]string{"content": clipBytes(text, maxTextBytes)},
	})
	if err != nil {
		return err
	}
	return b.call(ctx, "/cgi-bin/message/custom/send", nil, body, nil)
}

// customVideo sends a customer-service video message.
func (b *Bot) customVideo(ctx context.Context, openID, mediaID, title, description string) error {
	body, err := jsonPayload(map[string]any{
		"touser":  openID,
		"msgtype": "video",
		"video": map[string]string{
			"media_id":    mediaID,
			"title":       title,
			"description": description,
		},
	})
	if err != nil {
		return err
	}
	return b.call(ctx, "/cgi-bin/message/custom/send", nil, body, nil)
}

// CreateMenu replaces the account's custom menu with menuJSON (the body
// of WeChat's menu/create, see DefaultMenu).
func (b *Bot) CreateMenu(ctx context.Context, menuJSON []byte) error {
	if !json.Valid(menuJSON) {
		return errors.New("wechat: menu is not valid JSON")
	}
	return b.call(ctx, "/cgi-bin/menu/create", nil, &payload{data: menuJSON, contentType: "application/json; charset=utf-8"}, nil)
}

// mediaGet downloads temporary media (a reader's image) by media id, at
// most limit bytes.
func (b *Bot) mediaGet(ctx context.Context, mediaID string, limit int64) ([]byte, error) {
	raw, _, err := b.fetch(ctx, "/cgi-bin/media/get", url.Values{"media_id": {mediaID}}, nil, limit)
	if errors.Is(err, errAnswerTooLarge) {
		return nil, paimeng.Errorf(paimeng.EImageTooLarge, "media %s is over %d bytes", mediaID, limit)
	}
	return raw, err
}
