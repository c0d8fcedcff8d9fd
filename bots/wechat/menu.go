package wechat

import (
	"bytes"
	"encoding/json"
)

// menuButton is one button of WeChat's custom menu.
type menuButton struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
	URL  string `json:"url,omitempty"`
}

// DefaultMenu is the account's menu, the body of menu/create: "拍梦说明"
// (click HELP), "我的积分" (click BALANCE) and, with a public URL, "排行榜"
// opening publicURL + "/top".
func DefaultMenu(publicURL string) []byte {
	buttons := []menuButton{
		{Type: "click", Name: "拍梦说明", Key: ClickHelp},
		{Type: "click", Name: "我的积分", Key: ClickBalance},
	}
	if u := trimSlash(publicURL); u != "" {
		buttons = append(buttons, menuButton{Type: "view", Name: "排行榜", URL: u + "/top"})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{"button": buttons})
	return bytes.TrimSpace(buf.Bytes())
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
