package discordtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// DiscordEpoch is the first millisecond of 2015 (Unix ms), the origin of
// snowflake timestamps.
const DiscordEpoch = 1420070400000

// DefaultUploadLimit is Discord's upload limit per file for channels and
// interactions without a boost: 10 MiB.
const DefaultUploadLimit = 10 << 20

// defaultAppPermissions is what app_permissions carries: view channel,
// send messages, embed links, attach files, read message history, use
// application commands (as Discord writes it, a decimal string).
const defaultAppPermissions = "2147601408"

// User is the member or user who triggers an interaction.
type User struct {
	ID, Username, GlobalName string
	Locale                   string // the member's client locale ("zh-CN", "en-US"…); "" → "en-US"
}

// GenArgs describes a /gen command. Options that are zero are left out of
// the payload, as Discord leaves out options the member did not fill in.
type GenArgs struct {
	User                  User
	GuildID, ChannelID    string // GuildID "" is a DM with the bot
	Image                 []byte // nil: no image option
	Filename, ContentType string // defaults "image.png", detected from Image
	Prompt                string
	Seconds               int
	Mode                  string
	Seed                  int64
	Camera, Negative      string
	Relax                 bool
	Tail                  []byte // nil: no tail option; named "tail.png", type detected
	FPS                   int
	Resolution, Aspect    string
	Engine                string
	AttachmentSizeLimit   int // 0 → 10 MiB (10485760)
}

// SnowflakeTime returns the creation time encoded in a snowflake id.
func SnowflakeTime(id string) (time.Time, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("discordtest: snowflake %q: %w", id, err)
	}
	return time.UnixMilli(int64(n>>22) + DiscordEpoch), nil
}

// Snowflake returns a fresh id: its timestamp bits hold the current time,
// and every id is larger than the ones before.
func (s *Server) Snowflake() string {
	return s.snowflakeAt(time.Now())
}

func (s *Server) snowflakeAt(t time.Time) string {
	ms := max(t.UnixMilli()-DiscordEpoch, 0)
	id := uint64(ms)<<22 | 1<<17 | 1<<12 // worker 1, process 1
	s.idMu.Lock()
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	s.idMu.Unlock()
	return strconv.FormatUint(id, 10)
}

// Sign signs body as Discord signs interactions sent to an endpoint: the
// Ed25519 signature of timestamp+body, in hex, for the X-Signature-Ed25519
// header, and the Unix-seconds timestamp for X-Signature-Timestamp.
func (s *Server) Sign(body []byte, ts time.Time) (sigHex, timestamp string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	msg := append([]byte(timestamp), body...)
	return hex.EncodeToString(ed25519.Sign(s.key, msg)), timestamp
}

// Post delivers body to the endpoint at url the way Discord does: a POST
// of JSON signed now, whose 200 answer becomes the interaction's callback.
// The response body is read in full, so it needs no Close; the test fails
// when the request does.
func (s *Server) Post(t testing.TB, url string, body []byte) *http.Response {
	t.Helper()
	sig, ts := s.Sign(body, time.Now())
	return s.PostSigned(t, url, body, sig, ts)
}

// PostSigned is Post with the given signature headers, for checking that
// an endpoint refuses stale timestamps, altered bodies and bad signatures.
// Empty values leave the header out.
func (s *Server) PostSigned(t testing.TB, url string, body []byte, sigHex, timestamp string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("discordtest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)")
	if sigHex != "" {
		req.Header.Set("X-Signature-Ed25519", sigHex)
	}
	if timestamp != "" {
		req.Header.Set("X-Signature-Timestamp", timestamp)
	}
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("discordtest: POST %s: %v", url, err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("discordtest: POST %s: reading the response: %v", url, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if resp.StatusCode == http.StatusOK {
		s.answerAsCallback(t, body, data)
	}
	return resp
}

// answerAsCallback records an endpoint's answer to an interaction as that
// interaction's callback, as Discord does with the HTTP response.
func (s *Server) answerAsCallback(t testing.TB, request, answer []byte) {
	t.Helper()
	var in struct {
		ID    string `json:"id"`
		Token string `json:"token"`
		Type  int    `json:"type"`
	}
	if json.Unmarshal(request, &in) != nil || in.ID == "" || in.Token == "" || in.Type == int(discordgo.InteractionPing) {
		return
	}
	r, err := http.Post(s.URL+"/interactions/"+in.ID+"/"+in.Token+"/callback", "application/json", bytes.NewReader(answer))
	if err != nil {
		t.Fatalf("discordtest: recording the callback: %v", err)
	}
	r.Body.Close()
}

// PingInteraction is the type 1 interaction Discord sends to check an
// endpoint; the endpoint must answer {"type":1}.
func (s *Server) PingInteraction() []byte {
	id := s.Snowflake()
	p := map[string]any{
		"id":             id,
		"application_id": s.AppID,
		"type":           int(discordgo.InteractionPing),
		"token":          newToken(id),
		"version":        1,
		"user": map[string]any{
			"id": "0", "username": "discord", "discriminator": "0000",
			"global_name": nil, "avatar": nil, "bot": false,
		},
		"entitlements": []any{},
	}
	b, _ := json.Marshal(p)
	return b
}

// GenInteraction builds the /gen slash command (type 2) Discord sends: the
// options image (type 11, an attachment served by the server's CDN and
// listed in data.resolved.attachments), prompt (3), seconds (4), mode
// (3), seed (4), camera (3), negative (3), relax (5), tail (11), fps (4),
// resolution (3) and aspect (3), each only when set; the member (or, in a DM, the user), guild_id, channel and
// channel_id, locale, app_permissions, attachment_size_limit, a fresh
// token and a fresh snowflake id. The interaction is registered with the
// server, so its callback and webhook routes work.
func (s *Server) GenInteraction(a GenArgs) ([]byte, *discordgo.Interaction) {
	var opts []option
	var resolved map[string]any
	if a.Image != nil {
		name := a.Filename
		if name == "" {
			name = "image.png"
		}
		ct := a.ContentType
		if ct == "" {
			ct = http.DetectContentType(a.Image)
		}
		att := s.addAttachment(a.ChannelID, name, ct, a.Image)
		opts = append(opts, option{"image", discordgo.ApplicationCommandOptionAttachment, att.ID})
		resolved = map[string]any{"attachments": map[string]any{att.ID: att}}
	}
	if a.Tail != nil {
		att := s.addAttachment(a.ChannelID, "tail.png", http.DetectContentType(a.Tail), a.Tail)
		opts = append(opts, option{"tail", discordgo.ApplicationCommandOptionAttachment, att.ID})
		if resolved == nil {
			resolved = map[string]any{"attachments": map[string]any{}}
		}
		resolved["attachments"].(map[string]any)[att.ID] = att
	}
	if a.Prompt != "" {
		opts = append(opts, option{"prompt", discordgo.ApplicationCommandOptionString, a.Prompt})
	}
	if a.Seconds != 0 {
		opts = append(opts, option{"seconds", discordgo.ApplicationCommandOptionInteger, a.Seconds})
	}
	if a.Mode != "" {
		opts = append(opts, option{"mode", discordgo.ApplicationCommandOptionString, a.Mode})
	}
	if a.Seed != 0 {
		opts = append(opts, option{"seed", discordgo.ApplicationCommandOptionInteger, a.Seed})
	}
	if a.Camera != "" {
		opts = append(opts, option{"camera", discordgo.ApplicationCommandOptionString, a.Camera})
	}
	if a.Negative != "" {
		opts = append(opts, option{"negative", discordgo.ApplicationCommandOptionString, a.Negative})
	}
	if a.Engine != "" {
		opts = append(opts, option{"engine", discordgo.ApplicationCommandOptionString, a.Engine})
	}
	if a.Relax {
		opts = append(opts, option{"relax", discordgo.ApplicationCommandOptionBoolean, true})
	}
	if a.FPS != 0 {
		opts = append(opts, option{"fps", discordgo.ApplicationCommandOptionInteger, a.FPS})
	}
	if a.Resolution != "" {
		opts = append(opts, option{"resolution", discordgo.ApplicationCommandOptionString, a.Resolution})
	}
	if a.Aspect != "" {
		opts = append(opts, option{"aspect", discordgo.ApplicationCommandOptionString, a.Aspect})
	}
	return s.commandInteraction(a.User, a.GuildID, a.ChannelID, "gen", opts, resolved, a.AttachmentSizeLimit)
}

// CommandInteraction builds any other slash command (balance, top, link,
// redeem, daily, help, price, queue, cancel…) like GenInteraction. Option
// types follow the Go values: string 3, integers 4, bool 5, float64 10
// (number), *discordgo.MessageAttachment 11 (from AddAttachment; listed
// in resolved.attachments). Options appear sorted by name.
func (s *Server) CommandInteraction(u User, guildID, channelID, name string, opts map[string]any) ([]byte, *discordgo.Interaction) {
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	slices.Sort(names)
	var list []option
	var atts map[string]any
	for _, k := range names {
		switch v := opts[k].(type) {
		case string:
			list = append(list, option{k, discordgo.ApplicationCommandOptionString, v})
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			list = append(list, option{k, discordgo.ApplicationCommandOptionInteger, v})
		case bool:
			list = append(list, option{k, discordgo.ApplicationCommandOptionBoolean, v})
		case float32, float64:
			list = append(list, option{k, discordgo.ApplicationCommandOptionNumber, v})
		case *discordgo.MessageAttachment:
			list = append(list, option{k, discordgo.ApplicationCommandOptionAttachment, v.ID})
			if atts == nil {
				atts = map[string]any{}
			}
			atts[v.ID] = attachmentJSON(v)
		default:
			panic(fmt.Sprintf("discordtest: option %s: unsupported value %T", k, v))
		}
	}
	var resolved map[string]any
	if atts != nil {
		resolved = map[string]any{"attachments": atts}
	}
	return s.commandInteraction(u, guildID, channelID, name, list, resolved, 0)
}

type option struct {
	name  string
	typ   discordgo.ApplicationCommandOptionType
	value any
}

func (s *Server) commandInteraction(u User, guildID, channelID, name string, opts []option, resolved map[string]any, sizeLimit int) ([]byte, *discordgo.Interaction) {
	list := make([]map[string]any, 0, len(opts))
	for _, o := range opts {
		list = append(list, map[string]any{"name": o.name, "type": int(o.typ), "value": o.value})
	}
	data := map[string]any{
		"id":      s.commandID(guildID, name),
		"name":    name,
		"type":    int(discordgo.ChatApplicationCommand),
		"options": list,
	}
	if guildID != "" {
		data["guild_id"] = guildID
	}
	if resolved != nil {
		data["resolved"] = resolved
	}
	return s.newInteraction(discordgo.InteractionApplicationCommand, u, guildID, channelID, data, nil, sizeLimit)
}

// ComponentInteraction builds the type 3 interaction of u pressing the
// button with customID on a message the bot sent (found by id among
// channel messages, interaction responses and followups: message carries
// it as it now stands). The interaction's @original is that message until
// a callback of type 4 or 5 makes a new one.
func (s *Server) ComponentInteraction(u User, guildID, channelID string, messageID, customID string) ([]byte, *discordgo.Interaction) {
	s.mu.Lock()
	m := s.messages[messageID]
	var msg map[string]any
	if m != nil {
		msg = s.messageJSONLocked(m)
	} else {
		msg = map[string]any{"id": messageID, "channel_id": channelID, "type": 0, "content": "", "components": []any{},
			"author": s.botUser(), "attachments": []any{}, "embeds": []any{}, "flags": 0}
	}
	s.mu.Unlock()
	data := map[string]any{"custom_id": customID, "component_type": int(discordgo.ButtonComponent)}
	return s.newInteraction(discordgo.InteractionMessageComponent, u, guildID, channelID, data, msg, 0)
}

// AddAttachment stores data on the server's CDN as an attachment uploaded
// in channelID and returns it as Discord describes it (url and proxy_url
// under the server).
func (s *Server) AddAttachment(channelID, filename, contentType string, data []byte) *discordgo.MessageAttachment {
	a := s.addAttachment(channelID, filename, contentType, data)
	return &discordgo.MessageAttachment{ID: a.ID, URL: a.URL, ProxyURL: a.ProxyURL, Filename: a.Filename,
		ContentType: a.ContentType, Width: a.Width, Height: a.Height, Size: a.Size}
}

func attachmentJSON(a *discordgo.MessageAttachment) attachment {
	return attachment{ID: a.ID, Filename: a.Filename, Size: a.Size, URL: a.URL, ProxyURL: a.ProxyURL,
		ContentType: a.ContentType, Width: a.Width, Height: a.Height}
}

// newInteraction completes an interaction payload with what every
// interaction carries, registers it and returns its JSON and its decoding.
func (s *Server) newInteraction(typ discordgo.InteractionType, u User, guildID, channelID string, data, message map[string]any, sizeLimit int) ([]byte, *discordgo.Interaction) {
	if sizeLimit <= 0 {
		sizeLimit = DefaultUploadLimit
	}
	locale := u.Locale
	if locale == "" {
		locale = "en-US"
	}
	if channelID == "" {
		if guildID == "" {
			channelID = s.DMChannel(u.ID)
		} else {
			channelID = s.Snowflake()
		}
	}
	now := time.Now()
	id := s.snowflakeAt(now)
	token := newToken(id)
	user := map[string]any{
		"id": u.ID, "username": u.Username, "global_name": nullable(u.GlobalName),
		"discriminator": "0", "avatar": nil, "public_flags": 0,
	}
	p := map[string]any{
		"id":                    id,
		"application_id":        s.AppID,
		"type":                  int(typ),
		"data":                  data,
		"channel_id":            channelID,
		"token":                 token,
		"version":               1,
		"app_permissions":       defaultAppPermissions,
		"locale":                locale,
		"entitlements":          []any{},
		"attachment_size_limit": sizeLimit,
	}
	if guildID != "" {
		p["guild_id"] = guildID
		p["guild"] = map[string]any{"id": guildID, "locale": "en-US", "features": []any{}}
		p["guild_locale"] = "en-US"
		p["channel"] = map[string]any{"id": channelID, "type": int(discordgo.ChannelTypeGuildText), "guild_id": guildID,
			"name": "general", "nsfw": false, "flags": 0, "permissions": defaultAppPermissions}
		p["member"] = map[string]any{
			"user": user, "roles": []any{}, "permissions": "2248473465835073",
			"nick": nil, "avatar": nil, "joined_at": now.Add(-24 * time.Hour).UTC().Format(time.RFC3339Nano),
			"deaf": false, "mute": false, "pending": false, "flags": 0, "premium_since": nil,
		}
		p["context"] = int(discordgo.InteractionContextGuild)
		p["authorizing_integration_owners"] = map[string]any{"0": guildID}
	} else {
		p["user"] = user
		p["channel"] = map[string]any{"id": channelID, "type": int(discordgo.ChannelTypeDM), "flags": 0,
			"recipients": []any{user}}
		p["context"] = int(discordgo.InteractionContextBotDM)
		p["authorizing_integration_owners"] = map[string]any{"0": "0"}
	}
	if message != nil {
		p["message"] = message
	}
	raw, err := json.Marshal(p)
	if err != nil {
		panic("discordtest: " + err.Error())
	}
	var i discordgo.Interaction
	if err := json.Unmarshal(raw, &i); err != nil {
		panic("discordtest: " + err.Error())
	}
	s.register(&interaction{id: id, token: token, created: now, guildID: guildID, channelID: channelID,
		sizeLimit: sizeLimit, raw: raw, origin: stringField(message, "id")})
	return raw, &i
}

func stringField(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newToken makes an interaction token shaped like Discord's: base64 of
// "interaction:<id>:<random>".
func newToken(id string) string {
	var b [48]byte
	rand.Read(b[:])
	raw := "interaction:" + id + ":" + base64.RawURLEncoding.EncodeToString(b[:])
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString([]byte(raw)), "=")
}
