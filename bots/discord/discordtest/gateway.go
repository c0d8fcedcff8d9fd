package discordtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// Gateway opcodes and close codes of API v10.
const (
	opDispatch       = 0
	opHeartbeat      = 1
	opIdentify       = 2
	opPresenceUpdate = 3
	opVoiceState     = 4
	opResume         = 6
	opRequestMembers = 8
	opInvalidSession = 9
	opHello          = 10
	opHeartbeatACK   = 11

	closeUnknownOpcode    = 4001
	closeDecodeError      = 4002
	closeNotAuthenticated = 4003
	closeAuthFailed       = 4004
	closeAlreadyAuth      = 4005
	closeInvalidVersion   = 4012
	closeInvalidIntents   = 4013

	// DefaultHeartbeatInterval is the interval HELLO announces, in ms, as
	// Discord does.
	DefaultHeartbeatInterval = 41250 * time.Millisecond

	gatewayFrameMax = 16 << 10
)

type gateway struct {
	conns      map[*gwConn]bool // guarded by Server.mu, as is the rest
	session    string
	seq        int64
	events     []gwEvent // dispatches of the session, for RESUME
	last       []byte    // the last INTERACTION_CREATE frame
	interval   time.Duration
	identifies int
	resumes    int
	heartbeats int
}

type gwEvent struct {
	seq   int64
	frame []byte
}

type gwConn struct {
	ws    *websocket.Conn
	wmu   sync.Mutex
	ready bool // identified or resumed; guarded by Server.mu
}

func (g *gateway) init() {
	g.conns = map[*gwConn]bool{}
	g.interval = DefaultHeartbeatInterval
}

func (c *gwConn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

func (c *gwConn) close(code int, text string) {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

func (s *Server) closeAllGateway() {
	s.mu.Lock()
	conns := make([]*gwConn, 0, len(s.gw.conns))
	for c := range s.gw.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
}

func frame(op int, d any, seq int64, typ string) []byte {
	f := map[string]any{"op": op, "d": d, "s": nil, "t": nil}
	if op == opDispatch {
		f["s"], f["t"] = seq, typ
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic("discordtest: " + err.Error())
	}
	return b
}

// SetHeartbeatInterval changes the interval later HELLOs announce
// (default 41.25 s).
func (s *Server) SetHeartbeatInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gw.interval = d
}

// GatewayConnected reports whether a gateway client has identified (or
// resumed) and is still connected.
func (s *Server) GatewayConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.gw.conns {
		if c.ready {
			return true
		}
	}
	return false
}

// GatewayStats returns how many IDENTIFYs, RESUMEs and heartbeats the
// gateway accepted.
func (s *Server) GatewayStats() (identifies, resumes, heartbeats int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.identifies, s.gw.resumes, s.gw.heartbeats
}

// Dispatch sends INTERACTION_CREATE with i to the connected session; the
// event is kept for a RESUME of the session. An interaction built by this
// server is sent as built (its JSON); another one is registered, so its
// callback and webhook routes work.
func (s *Server) Dispatch(i *discordgo.Interaction) {
	s.mu.Lock()
	in := s.byID[i.ID]
	var d json.RawMessage
	if in != nil {
		d = in.raw
	} else {
		b, err := json.Marshal(i)
		if err != nil {
			s.mu.Unlock()
			panic("discordtest: " + err.Error())
		}
		d = b
		created, _ := SnowflakeTime(i.ID)
		in = &interaction{id: i.ID, token: i.Token, guildID: i.GuildID, channelID: i.ChannelID, created: created,
			sizeLimit: DefaultUploadLimit, raw: b}
		if i.Message != nil {
			in.origin = i.Message.ID
		}
		s.interactions[in.token] = in
		s.byID[in.id] = in
	}
	s.gw.seq++
	f := frame(opDispatch, d, s.gw.seq, "INTERACTION_CREATE")
	s.gw.events = append(s.gw.events, gwEvent{seq: s.gw.seq, frame: f})
	s.gw.last = f
	conns := s.readyConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.write(f)
	}
}

// ReplayLast sends the last dispatched INTERACTION_CREATE again, sequence
// number and all, as a resumed session may replay an event the client
// already handled.
func (s *Server) ReplayLast() {
	s.mu.Lock()
	f := s.gw.last
	conns := s.readyConnsLocked()
	s.mu.Unlock()
	if f == nil {
		return
	}
	for _, c := range conns {
		c.write(f)
	}
}

// DropGateway cuts every gateway connection without a close frame, as a
// network failure would; the session stays resumable.
func (s *Server) DropGateway() {
	s.closeAllGateway()
}

func (s *Server) readyConnsLocked() []*gwConn {
	var out []*gwConn
	for c := range s.gw.conns {
		if c.ready {
			out = append(out, c)
		}
	}
	return out
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	s.record(Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: http.StatusSwitchingProtocols})
	if err != nil {
		return
	}
	ws.SetReadLimit(gatewayFrameMax)
	c := &gwConn{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.gw.conns[c] = true
	interval := s.gw.interval
	s.changes.Notify()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.gw.conns, c)
		s.changes.Notify()
		s.mu.Unlock()
		ws.Close()
	}()
	q := r.URL.Query()
	if v := q.Get("v"); v != "" && v != "10" && v != "9" {
		c.close(closeInvalidVersion, "Invalid API version")
		return
	}
	if e := q.Get("encoding"); e != "" && e != "json" {
		c.close(closeDecodeError, "Error while decoding payload.")
		return
	}
	if c.write(frame(opHello, map[string]any{"heartbeat_interval": interval.Milliseconds()}, 0, "")) != nil {
		return
	}
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		var payload map[string]any
		if mt != websocket.TextMessage || json.Unmarshal(data, &f) != nil || json.Unmarshal(data, &payload) != nil {
			c.close(closeDecodeError, "Error while decoding payload.")
			return
		}
		s.record(Call{Method: "WS", Path: "/gateway", Payload: payload})
		if !s.gatewayOp(c, f.Op, f.D) {
			return
		}
	}
}

// gatewayOp handles one client frame; false ends the connection.
func (s *Server) gatewayOp(c *gwConn, op int, d json.RawMessage) bool {
	s.mu.Lock()
	ready := c.ready
	s.mu.Unlock()
	switch op {
	case opHeartbeat:
		s.mu.Lock()
		s.gw.heartbeats++
		s.changes.Notify()
		s.mu.Unlock()
		return c.write(frame(opHeartbeatACK, nil, 0, "")) == nil
	case opIdentify:
		if ready {
			c.close(closeAlreadyAuth, "Already authenticated.")
			return false
		}
		var id struct {
			Token   string `json:"token"`
			Intents *int   `json:"intents"`
		}
		json.Unmarshal(d, &id)
		if strings.TrimPrefix(id.Token, "Bot ") != s.Token {
			c.close(closeAuthFailed, "Authentication failed.")
			return false
		}
		if id.Intents == nil || *id.Intents < 0 {
			c.close(closeInvalidIntents, "Invalid intent(s).")
			return false
		}
		var b [16]byte
		rand.Read(b[:])
		s.mu.Lock()
		s.gw.session = hex.EncodeToString(b[:])
		s.gw.seq = 1
		s.gw.events = nil
		s.gw.last = nil
		s.gw.identifies++
		ready := frame(opDispatch, map[string]any{
			"v":                  10,
			"user":               s.botUser(),
			"guilds":             []any{},
			"session_id":         s.gw.session,
			"resume_gateway_url": s.gatewayURL(),
			"shard":              []int{0, 1},
			"application":        map[string]any{"id": s.AppID, "flags": 0},
		}, s.gw.seq, "READY")
		c.ready = true
		s.changes.Notify()
		s.mu.Unlock()
		return c.write(ready) == nil
	case opResume:
		if ready {
			c.close(closeAlreadyAuth, "Already authenticated.")
			return false
		}
		var rs struct {
			Token     string `json:"token"`
			SessionID string `json:"session_id"`
			Seq       int64  `json:"seq"`
		}
		json.Unmarshal(d, &rs)
		if strings.TrimPrefix(rs.Token, "Bot ") != s.Token {
			c.close(closeAuthFailed, "Authentication failed.")
			return false
		}
		s.mu.Lock()
		if rs.SessionID == "" || rs.SessionID != s.gw.session {
			s.mu.Unlock()
			// Like Discord: the session cannot be resumed; identify anew.
			return c.write(frame(opInvalidSession, false, 0, "")) == nil
		}
		var replay [][]byte
		for _, e := range s.gw.events {
			if e.seq > rs.Seq {
				replay = append(replay, e.frame)
			}
		}
		s.gw.seq++
		replay = append(replay, frame(opDispatch, map[string]any{}, s.gw.seq, "RESUMED"))
		s.gw.resumes++
		c.ready = true
		s.changes.Notify()
		s.mu.Unlock()
		for _, f := range replay {
			if c.write(f) != nil {
				return false
			}
		}
		return true
	case opPresenceUpdate, opVoiceState, opRequestMembers:
		if !ready {
			c.close(closeNotAuthenticated, "Not authenticated.")
			return false
		}
		return true
	default:
		c.close(closeUnknownOpcode, "Unknown opcode.")
		return false
	}
}
