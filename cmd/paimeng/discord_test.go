package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/discord/discordtest"
	"github.com/paimeng/paimeng/media"
)

// The real program with the Discord front end in http mode against a
// local server speaking Discord's API: a signed /gen with an attachment is
// acknowledged at once, the original response ends as a playable MP4 with
// buttons and one charge; forged and stale requests are refused with 401
// and charge nothing; a job delivered after its interaction token expired
// reaches the member once, in the channel.
func TestDevDiscordEndToEnd(t *testing.T) {
	dc := discordtest.NewServer(t)
	cfg := testConfig(t, map[string]string{
		"PAIMENG_DISCORD_TOKEN":      dc.Token,
		"PAIMENG_DISCORD_APP_ID":     dc.AppID,
		"PAIMENG_DISCORD_PUBLIC_KEY": dc.PublicKey,
		"PAIMENG_DISCORD_API_URL":    dc.URL,
		"PAIMENG_DISCORD_GUILD_ID":   "9001",
	})
	app := startApp(t, cfg, Roles{Frontend: true, Worker: true, Playground: true})
	ctx := context.Background()
	endpoint := "http://" + app.Addr() + "/discord/interactions"
	dc.WaitFor(t, func() bool { return len(dc.Commands("9001")) > 0 }, "command registration")

	member := discordtest.User{ID: "80351110224678912", Username: "mei", GlobalName: "梦", Locale: "zh-CN"}
	id := paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: member.ID}
	photo := jpegBytes(t, scene(640, 360))
	gen := func(prompt string) ([]byte, string, string) {
		raw, in := dc.GenInteraction(discordtest.GenArgs{
			User: member, GuildID: "9001", ChannelID: "7001",
			Image: photo, Filename: "photo.jpg", ContentType: "image/jpeg", Prompt: prompt,
		})
		return raw, in.ID, in.Token
	}
	balance := func() int64 {
		t.Helper()
		a, err := app.Store.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}

	// Forged, stale and altered requests: 401, nothing charged.
	raw, _, _ := gen("镜头缓慢推近")
	sig, ts := dc.Sign(raw, time.Now())
	stale, staleTS := dc.Sign(raw, time.Now().Add(-6*time.Minute))
	forged := []struct {
		name, sig, ts string
		body          []byte
	}{
		{"altered body", sig, ts, append([]byte(nil), strings.Replace(string(raw), "推近", "后拉", 1)...)},
		{"stale timestamp", stale, staleTS, raw},
		{"bad signature", strings.Repeat("0", 128), ts, raw},
	}
	for _, f := range forged {
		if resp := dc.PostSigned(t, endpoint, f.body, f.sig, f.ts); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: HTTP %d, want 401", f.name, resp.StatusCode)
		}
	}

	// A valid /gen: deferred at once, then the video.
	start := time.Now()
	resp := dc.Post(t, endpoint, raw)
	var ack struct {
		Type int `json:"type"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ack) != nil || ack.Type != 5 || time.Since(start) > 3*time.Second {
		t.Fatalf("ack HTTP %d %s after %v", resp.StatusCode, body, time.Since(start))
	}
	var in struct{ ID, Token string }
	json.Unmarshal(raw, &in)
	var final discordtest.Message
	dc.WaitFor(t, func() bool {
		m, ok := dc.Original(in.Token)
		final = m
		return ok && len(m.Files) == 1
	}, "the video in the original response")
	if !strings.HasSuffix(final.Files[0].Name, ".mp4") || len(final.CustomIDs) != 3 {
		t.Fatalf("final message %+v", final)
	}
	mp4 := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(mp4, final.Files[0].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if info, err := media.Probe(mp4); err != nil || info.Codec != "h264" || info.Duration < 4.8 {
		t.Fatalf("video %+v %v", info, err)
	}
	if b := balance(); b != 90 {
		t.Fatalf("balance %d, want 100 - 10", b)
	}
	// The same interaction again (a retry): no second job, no charge.
	dc.Post(t, endpoint, raw)
	time.Sleep(500 * time.Millisecond)
	if b := balance(); b != 90 {
		t.Fatalf("replayed interaction charged: balance %d", b)
	}

	// A token that expires while the job runs: the video comes in the
	// channel, once, mentioning the member.
	raw2, _, token2 := gen("镜头向右平移")
	dc.ExpireToken(token2)
	dc.Post(t, endpoint, raw2)
	dc.WaitFor(t, func() bool {
		for _, m := range dc.ChannelMessages("7001") {
			if len(m.Files) == 1 {
				return true
			}
		}
		return false
	}, "the video posted in the channel")
	time.Sleep(time.Second)
	var posted []discordtest.Message
	for _, m := range dc.ChannelMessages("7001") {
		if len(m.Files) == 1 {
			posted = append(posted, m)
		}
	}
	if len(posted) != 1 || !strings.Contains(posted[0].Content, "<@"+member.ID+">") || posted[0].Nonce == "" {
		t.Fatalf("channel deliveries %+v", posted)
	}
	if b := balance(); b != 80 {
		t.Fatalf("balance %d after two clips", b)
	}
	if d, err := app.Store.Audit(ctx); err != nil || len(d) != 0 {
		t.Fatalf("audit %v %v", d, err)
	}
}
