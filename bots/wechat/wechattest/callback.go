package wechattest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ReplyDeadline is how long WeChat waits for a passive reply before it
// drops the connection (and retries, three times in all).
const ReplyDeadline = 5 * time.Second

// ReplyTimeout is how long Deliver waits for the endpoint: longer than
// WeChat, so that tests compare Reply.Elapsed with ReplyDeadline and a slow
// endpoint fails with a clear message.
const ReplyTimeout = 30 * time.Second

// Msg is a callback message as WeChat posts it.
type Msg struct {
	XML        []byte
	MsgID      int64 // 0 for events
	From       string
	CreateTime int64

	MsgType string // text, image, event
	MediaID string // image messages
	PicURL  string // image messages
}

// Reply is the endpoint's answer to a delivered message. MsgType is ""
// when the endpoint answered "success" or an empty body (no reply).
type Reply struct {
	Status                           int
	Elapsed                          time.Duration // from sending the request to reading the whole answer
	Raw                              []byte        // the body as answered
	MsgType, Content, MediaID, Title string
	Encrypted                        bool

	XML         []byte // the reply message (decrypted when Encrypted)
	ToUser      string // ToUserName: the reader
	FromUser    string // FromUserName: the account
	Description string // video, or the first news article
	URL, PicURL string // the first news article
	Articles    []Article
}

// Article is one item of a news reply.
type Article struct {
	Title, Description, PicURL, URL string
}

// DeliverOptions forge what WeChat would never send.
type DeliverOptions struct {
	Safe bool
	// BadSignature signs with a wrong token: signature (and, in safe mode,
	// msg_signature) do not match.
	BadSignature bool
	// Timestamp is the timestamp signed and sent; zero means now.
	Timestamp time.Time
	// WrongAppID encrypts with another account's AppID (safe mode).
	WrongAppID bool
	// Tamper flips bytes of the ciphertext and signs the result, so only
	// decryption fails (safe mode).
	Tamper bool
	// TamperUnsigned flips bytes of the ciphertext after signing it, so
	// msg_signature no longer matches (safe mode).
	TamperUnsigned bool
	// BadMsgSignature sends a wrong msg_signature with a right signature
	// and an intact ciphertext (safe mode).
	BadMsgSignature bool
}

// forged reports whether WeChat could not have sent the delivery: forged
// signatures or ciphertexts, or a timestamp more than a minute off.
func (o DeliverOptions) forged() bool {
	skewed := !o.Timestamp.IsZero() && time.Since(o.Timestamp).Abs() > time.Minute
	return o.BadSignature || o.WrongAppID || o.Tamper || o.TamperUnsigned || o.BadMsgSignature || skewed
}

// Text builds a text message from the reader openID with a fresh MsgId,
// sent now.
func (s *Server) Text(from, content string) Msg {
	m := s.newMsg(from, "text", true)
	m.XML = s.buildXML(m, field{"Content", content, true}, field{"MsgId", strconv.FormatInt(m.MsgID, 10), false})
	return m
}

// Image builds an image message from the reader: PicUrl is served by this
// server and MediaId answers /cgi-bin/media/get.
func (s *Server) Image(from string, data []byte) Msg {
	m := s.newMsg(from, "image", true)
	kind := "jpg"
	contentType := http.DetectContentType(data)
	switch contentType {
	case "image/png":
		kind = "png"
	case "image/gif":
		kind = "gif"
	}
	p := "/mmbiz_" + kind + "/" + randomMediaID() + "/0"
	s.mu.Lock()
	s.pics[p] = data
	s.mu.Unlock()
	m.PicURL = s.URL + p
	m.MediaID = s.addMedia("image", "image."+kind, contentType, data, true).MediaID
	m.XML = s.buildXML(m, field{"PicUrl", m.PicURL, true}, field{"MsgId", strconv.FormatInt(m.MsgID, 10), false},
		field{"MediaId", m.MediaID, true})
	return m
}

// Event builds an event message (subscribe, unsubscribe, CLICK, VIEW…)
// from the reader; events carry no MsgId.
func (s *Server) Event(from, event, eventKey string) Msg {
	m := s.newMsg(from, "event", false)
	m.XML = s.buildXML(m, field{"Event", event, true}, field{"EventKey", eventKey, true})
	return m
}

func (s *Server) newMsg(from, typ string, withID bool) Msg {
	m := Msg{From: from, CreateTime: time.Now().Unix(), MsgType: typ}
	if withID {
		s.mu.Lock()
		s.nextMsgID += 1 + rand.Int64N(1000)
		m.MsgID = s.nextMsgID
		s.mu.Unlock()
	}
	return m
}

type field struct {
	name, value string
	cdata       bool
}

// buildXML writes the message as WeChat does: <xml>, string fields as CDATA.
func (s *Server) buildXML(m Msg, fields ...field) []byte {
	var b bytes.Buffer
	b.WriteString("<xml>")
	all := append([]field{
		{"ToUserName", s.OriginalID, true},
		{"FromUserName", m.From, true},
		{"CreateTime", strconv.FormatInt(m.CreateTime, 10), false},
		{"MsgType", m.MsgType, true},
	}, fields...)
	for _, f := range all {
		b.WriteString("<" + f.name + ">")
		if f.cdata {
			writeCDATA(&b, f.value)
		} else {
			xml.EscapeText(&b, []byte(f.value))
		}
		b.WriteString("</" + f.name + ">")
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

func writeCDATA(b *bytes.Buffer, v string) {
	// "]]>" cannot appear inside a CDATA section: split it across two.
	b.WriteString("<![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]>")
}

// Deliver posts m to endpoint as WeChat does (plain, or safe mode when
// safe) and checks and parses the passive reply. The reader's
// customer-service window starts over (unless m is an unsubscribe event).
func (s *Server) Deliver(t testing.TB, endpoint string, m Msg, safe bool) Reply {
	t.Helper()
	return s.DeliverWith(t, endpoint, m, DeliverOptions{Safe: safe})
}

// DeliverWith posts m with forged details. Forged deliveries do not move
// the reader's window and their replies are parsed as far as they go. The
// test fails when the endpoint cannot be reached or answers a genuine
// delivery with 200 and a reply WeChat would reject.
func (s *Server) DeliverWith(t testing.TB, endpoint string, m Msg, opt DeliverOptions) Reply {
	t.Helper()
	if !opt.forged() && !bytes.Contains(m.XML, []byte("<Event><![CDATA[unsubscribe]]></Event>")) {
		s.readerMessage(m.From)
	}
	ts := opt.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	nonce := strconv.FormatUint(uint64(rand.Uint32()), 10)
	token := s.Token
	if opt.BadSignature {
		token = "forged" + s.Token
	}
	q := url.Values{}
	q.Set("signature", Signature(token, timestamp, nonce))
	q.Set("timestamp", timestamp)
	q.Set("nonce", nonce)
	q.Set("openid", m.From)
	body := m.XML
	if opt.Safe {
		appID := s.AppID
		if opt.WrongAppID {
			appID = "wx" + hex.EncodeToString(randomBytes(8))
		}
		ct, err := Encrypt(s.AESKey, appID, m.XML)
		if err != nil {
			t.Fatalf("wechattest: %v", err)
		}
		if opt.Tamper {
			ct = tamper(ct)
		}
		msgToken := token
		if opt.BadMsgSignature {
			msgToken = "forged" + s.Token
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", Signature(msgToken, timestamp, nonce, ct))
		if opt.TamperUnsigned {
			ct = tamper(ct)
		}
		var b bytes.Buffer
		b.WriteString("<xml><ToUserName>")
		writeCDATA(&b, s.OriginalID)
		b.WriteString("</ToUserName><Encrypt>")
		writeCDATA(&b, ct)
		b.WriteString("</Encrypt></xml>")
		body = b.Bytes()
	}
	u, err := withQuery(endpoint, q)
	if err != nil {
		t.Fatalf("wechattest: endpoint %q: %v", endpoint, err)
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("wechattest: %v", err)
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	client := &http.Client{Timeout: ReplyTimeout}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("wechattest: deliver to %s: %v", endpoint, err)
		return Reply{Elapsed: time.Since(start)}
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := Reply{Status: resp.StatusCode, Elapsed: time.Since(start), Raw: raw}
	if err != nil {
		t.Errorf("wechattest: reading the reply from %s: %v", endpoint, err)
		return r
	}
	if r.Status != http.StatusOK {
		return r
	}
	if err := s.parseReply(&r, m, opt.Safe); err != nil && !opt.forged() {
		t.Errorf("wechattest: reply WeChat would reject (%v): %q", err, raw)
	}
	return r
}

// parseReply decrypts and parses a passive reply into r.
func (s *Server) parseReply(r *Reply, m Msg, safe bool) error {
	body := bytes.TrimSpace(r.Raw)
	if len(body) == 0 || string(body) == "success" {
		return nil
	}
	var probe struct {
		Encrypt      string `xml:"Encrypt"`
		MsgSignature string `xml:"MsgSignature"`
		TimeStamp    string `xml:"TimeStamp"`
		Nonce        string `xml:"Nonce"`
		MsgType      string `xml:"MsgType"`
	}
	if err := xml.Unmarshal(body, &probe); err != nil {
		return fmt.Errorf("not XML: %w", err)
	}
	plain := body
	if probe.Encrypt != "" {
		if !safe {
			return errors.New("encrypted reply to a plain-mode message")
		}
		if probe.MsgSignature != Signature(s.Token, probe.TimeStamp, probe.Nonce, probe.Encrypt) {
			return errors.New("MsgSignature does not match")
		}
		if _, err := strconv.ParseInt(probe.TimeStamp, 10, 64); err != nil {
			return fmt.Errorf("TimeStamp %q", probe.TimeStamp)
		}
		appID, x, err := Decrypt(s.AESKey, probe.Encrypt)
		if err != nil {
			return err
		}
		if appID != s.AppID {
			return fmt.Errorf("encrypted for AppID %q", appID)
		}
		plain = x
		r.Encrypted = true
	} else if safe {
		return errors.New("plain reply to a safe-mode message")
	}
	r.XML = plain
	var x struct {
		ToUserName   string `xml:"ToUserName"`
		FromUserName string `xml:"FromUserName"`
		CreateTime   string `xml:"CreateTime"`
		MsgType      string `xml:"MsgType"`
		Content      string `xml:"Content"`
		Image        struct {
			MediaID string `xml:"MediaId"`
		} `xml:"Image"`
		Voice struct {
			MediaID string `xml:"MediaId"`
		} `xml:"Voice"`
		Video struct {
			MediaID     string `xml:"MediaId"`
			Title       string `xml:"Title"`
			Description string `xml:"Description"`
		} `xml:"Video"`
		ArticleCount int `xml:"ArticleCount"`
		Articles     struct {
			Items []struct {
				Title       string `xml:"Title"`
				Description string `xml:"Description"`
				PicURL      string `xml:"PicUrl"`
				URL         string `xml:"Url"`
			} `xml:"item"`
		} `xml:"Articles"`
	}
	if err := xml.Unmarshal(plain, &x); err != nil {
		return fmt.Errorf("reply not XML: %w", err)
	}
	r.MsgType, r.ToUser, r.FromUser = x.MsgType, x.ToUserName, x.FromUserName
	switch {
	case x.ToUserName != m.From:
		return fmt.Errorf("ToUserName %q, not the reader %q", x.ToUserName, m.From)
	case x.FromUserName != s.OriginalID:
		return fmt.Errorf("FromUserName %q, not the account %q", x.FromUserName, s.OriginalID)
	}
	if _, err := strconv.ParseInt(x.CreateTime, 10, 64); err != nil {
		return fmt.Errorf("CreateTime %q", x.CreateTime)
	}
	switch x.MsgType {
	case "text":
		r.Content = x.Content
	case "image":
		r.MediaID = x.Image.MediaID
	case "voice":
		r.MediaID = x.Voice.MediaID
	case "video":
		r.MediaID, r.Title, r.Description = x.Video.MediaID, x.Video.Title, x.Video.Description
	case "news":
		items := x.Articles.Items
		max := 8
		if m.MsgType != "event" {
			// Replying to a reader's message: one article only.
			max = 1
		}
		if len(items) == 0 || len(items) > max || x.ArticleCount != len(items) {
			return fmt.Errorf("news with ArticleCount %d and %d articles", x.ArticleCount, len(items))
		}
		for _, it := range items {
			r.Articles = append(r.Articles, Article{Title: it.Title, Description: it.Description, PicURL: it.PicURL, URL: it.URL})
		}
		a := r.Articles[0]
		r.Title, r.Description, r.URL, r.PicURL = a.Title, a.Description, a.URL, a.PicURL
	case "music", "transfer_customer_service":
	default:
		return fmt.Errorf("MsgType %q", x.MsgType)
	}
	if (x.MsgType == "image" || x.MsgType == "voice" || x.MsgType == "video") && r.MediaID == "" {
		return fmt.Errorf("%s reply without MediaId", x.MsgType)
	}
	return nil
}

// Handshake sends the GET WeChat sends when the endpoint is configured
// (signature, timestamp, nonce, echostr); bad signs with a wrong token.
func (s *Server) Handshake(t testing.TB, endpoint string, echostr string, bad bool) (status int, body string) {
	t.Helper()
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := strconv.FormatUint(uint64(rand.Uint32()), 10)
	token := s.Token
	if bad {
		token = "forged" + s.Token
	}
	q := url.Values{}
	q.Set("signature", Signature(token, timestamp, nonce))
	q.Set("echostr", echostr)
	q.Set("timestamp", timestamp)
	q.Set("nonce", nonce)
	u, err := withQuery(endpoint, q)
	if err != nil {
		t.Fatalf("wechattest: endpoint %q: %v", endpoint, err)
	}
	client := &http.Client{Timeout: ReplyTimeout}
	resp, err := client.Get(u)
	if err != nil {
		t.Errorf("wechattest: handshake with %s: %v", endpoint, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("wechattest: handshake with %s: %v", endpoint, err)
	}
	return resp.StatusCode, string(b)
}

func withQuery(endpoint string, q url.Values) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String(), nil
}

// Signature is WeChat's signature: the hex SHA-1 of the sorted,
// concatenated parts (token, timestamp, nonce, and in safe mode the
// ciphertext).
func Signature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	h := sha1.New()
	for _, s := range p {
		io.WriteString(h, s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// aesKey decodes an EncodingAESKey: base64 of the 43 characters and "=".
func aesKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("EncodingAESKey of %d characters, not 43", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("EncodingAESKey does not decode to 32 bytes")
	}
	return key, nil
}

// blockSize is the PKCS#7 block WeChat pads to.
const blockSize = 32

// Encrypt encrypts a message as WeChat does in safe mode: AES-256-CBC with
// the key from encodingAESKey and its first 16 bytes as IV, over 16 random
// bytes, the message length (4 bytes, big-endian), the message and the
// AppID, padded PKCS#7 to 32 bytes; base64.
func Encrypt(encodingAESKey, appID string, msg []byte) (string, error) {
	key, err := aesKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	n := 20 + len(msg) + len(appID)
	pad := blockSize - n%blockSize
	plain := make([]byte, 0, n+pad)
	plain = append(plain, randomBytes(16)...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, appID...)
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), nil
}

// Decrypt reverses Encrypt and returns the AppID and the message.
func Decrypt(encodingAESKey, ciphertext string) (appID string, msg []byte, err error) {
	key, err := aesKey(encodingAESKey)
	if err != nil {
		return "", nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return "", nil, fmt.Errorf("ciphertext not base64: %w", err)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", nil, fmt.Errorf("ciphertext of %d bytes", len(ct))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", nil, err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > blockSize || pad > len(plain) || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return "", nil, errors.New("bad padding")
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return "", nil, errors.New("plaintext too short")
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return "", nil, fmt.Errorf("message length %d beyond the plaintext", n)
	}
	return string(plain[20+n:]), plain[20 : 20+n], nil
}

// tamper flips bytes of a base64 ciphertext so that decryption fails
// whatever the receiver checks: the first byte (which flips the high byte
// of the length field in the second block) and a byte of the last block
// (which garbles the padding and the AppID).
func tamper(ciphertext string) string {
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(ct) < 2*aes.BlockSize {
		return ciphertext + "AAAA"
	}
	ct[0] ^= 0xff
	ct[len(ct)-1] ^= 0x5a
	return base64.StdEncoding.EncodeToString(ct)
}
