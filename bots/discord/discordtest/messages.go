package discordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif" // attachment sizes
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// Discord's message limits.
const (
	contentMax      = 2000
	embedsMax       = 10
	embedTotalMax   = 6000
	actionRowsMax   = 5
	rowButtonsMax   = 5
	customIDMax     = 100
	buttonLabelMax  = 80
	nonceMax        = 25
	nonceWindow     = 5 * time.Minute
	attachmentsMax  = 10
	messageListSize = 50
)

// Message flags.
const (
	flagSuppressEmbeds        = 1 << 2
	flagEphemeral             = 1 << 6
	flagSuppressNotifications = 1 << 12
	flagComponentsV2          = 1 << 15
)

// message is a message as the server keeps it. Its slices and the values
// they point to are replaced, never changed in place, so copies handed out
// stay valid.
type message struct {
	id, channelID string
	typ           int
	content       string
	nonce         string
	embeds        []*discordgo.MessageEmbed
	components    json.RawMessage // the array as sent
	customIDs     []string
	attachments   []*attachment
	flags         int
	tts           bool
	reference     json.RawMessage
	edits         int
	created       time.Time
	edited        time.Time
	deleted       bool
	webhook       bool // sent through an interaction token
	interaction   *interaction
}

func (m *message) export() Message {
	out := Message{ID: m.id, ChannelID: m.channelID, Content: m.content, Nonce: m.nonce, Flags: m.flags, Edits: m.edits,
		CustomIDs: slices.Clone(m.customIDs)}
	for _, e := range m.embeds {
		c := *e
		out.Embeds = append(out.Embeds, &c)
	}
	out.Components = decodeComponents(m.components)
	for _, a := range m.attachments {
		out.Files = append(out.Files, File{Name: a.Filename, ContentType: a.ContentType, Data: slices.Clone(a.data)})
	}
	return out
}

func decodeComponents(raw json.RawMessage) []discordgo.MessageComponent {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []discordgo.MessageComponent
	for _, c := range list {
		if mc, err := discordgo.MessageComponentFromJSON(c); err == nil {
			out = append(out, mc)
		}
	}
	return out
}

// messageJSONLocked is the message object Discord answers with.
func (s *Server) messageJSONLocked(m *message) map[string]any {
	atts := make([]any, 0, len(m.attachments))
	for _, a := range m.attachments {
		atts = append(atts, a)
	}
	embeds := m.embeds
	if embeds == nil {
		embeds = []*discordgo.MessageEmbed{}
	}
	var components any = []any{}
	if len(m.components) > 0 {
		components = m.components
	}
	out := map[string]any{
		"id": m.id, "type": m.typ, "channel_id": m.channelID, "content": m.content, "author": s.botUser(),
		"attachments": atts, "embeds": embeds, "components": components, "flags": m.flags,
		"timestamp": m.created.UTC().Format(time.RFC3339Nano), "edited_timestamp": nil, "tts": m.tts,
		"mention_everyone": false, "mentions": []any{}, "mention_roles": []any{}, "pinned": false,
	}
	if !m.edited.IsZero() {
		out["edited_timestamp"] = m.edited.UTC().Format(time.RFC3339Nano)
	}
	if m.nonce != "" {
		out["nonce"] = m.nonce
	}
	if len(m.reference) > 0 {
		out["message_reference"] = m.reference
	}
	if m.webhook {
		out["webhook_id"] = s.AppID
		out["application_id"] = s.AppID
	}
	if in := m.interaction; in != nil && m.typ == int(discordgo.MessageTypeChatInputCommand) {
		out["interaction_metadata"] = map[string]any{"id": in.id, "type": int(discordgo.InteractionApplicationCommand)}
	}
	return out
}

// locked runs f under the lock, tells waiters and writes its answer: 204
// writes no body.
func (s *Server) locked(w http.ResponseWriter, f func() (int, any, error)) {
	s.mu.Lock()
	status, v, err := f()
	s.changes.Notify()
	s.mu.Unlock()
	switch {
	case err != nil:
		writeError(w, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

// uploadLimitLocked is the upload limit of a message in channelID, sent
// through in when in is not nil.
func (s *Server) uploadLimitLocked(channelID string, in *interaction) int {
	if n := s.uploadLimit[channelID]; n > 0 {
		return n
	}
	if in != nil && in.sizeLimit > 0 {
		return in.sizeLimit
	}
	return DefaultUploadLimit
}

func checkUploads(files []upload, limit int) error {
	for _, f := range files {
		if len(f.data) > limit {
			return errTooLarge
		}
	}
	return nil
}

// apply sets the fields present in body on a copy of m, checks the result
// and returns it. create: a new message (attachments lists new files only).
func (s *Server) apply(m message, raw []byte, files []upload, create bool) (message, error) {
	var body map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return m, formError("_root", "MODEL_TYPE_CONVERT", "Expected an object")
		}
	}
	if v, ok := body["content"]; ok {
		var c *string
		if err := json.Unmarshal(v, &c); err != nil {
			return m, formError("content", "BASE_TYPE_STRING", "Must be a string.")
		}
		m.content = ""
		if c != nil {
			m.content = *c
		}
	}
	if v, ok := body["embeds"]; ok {
		var es []*discordgo.MessageEmbed
		if err := json.Unmarshal(v, &es); err != nil {
			return m, formError("embeds", "BASE_TYPE_ARRAY", "Must be an array.")
		}
		m.embeds = slices.DeleteFunc(es, func(e *discordgo.MessageEmbed) bool { return e == nil })
	}
	if v, ok := body["components"]; ok {
		if string(v) == "null" {
			m.components = nil
		} else {
			m.components = slices.Clone(v)
		}
	}
	if v, ok := body["tts"]; ok && create {
		json.Unmarshal(v, &m.tts)
	}
	if v, ok := body["flags"]; ok && string(v) != "null" {
		var f int
		if err := json.Unmarshal(v, &f); err != nil {
			return m, formError("flags", "NUMBER_TYPE_COERCE", "Value is not int.")
		}
		if create {
			m.flags |= f &^ messageFlagLoading
		} else {
			// Only these flags can change on an edit.
			m.flags = m.flags&^flagSuppressEmbeds | f&flagSuppressEmbeds
		}
	}
	// Attachments: on an edit, kept ones are listed by id; files[n] are
	// listed by id n. Without the field an edit keeps what is there.
	type attRef struct {
		ID       json.RawMessage `json:"id"`
		Filename string          `json:"filename"`
	}
	var refs []attRef
	listed := false
	if v, ok := body["attachments"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &refs); err != nil {
			return m, formError("attachments", "BASE_TYPE_ARRAY", "Must be an array.")
		}
		listed = true
	}
	var atts []*attachment
	if !create {
		if listed {
			for _, a := range m.attachments {
				if slices.ContainsFunc(refs, func(r attRef) bool { return unquote(r.ID) == a.ID }) {
					atts = append(atts, a)
				}
			}
		} else {
			atts = slices.Clone(m.attachments)
		}
	}
	for _, f := range files {
		name := f.name
		for _, r := range refs {
			if unquote(r.ID) == strconv.Itoa(f.index) && r.Filename != "" {
				name = r.Filename
			}
		}
		a := newAttachment(s.root, m.channelID, s.Snowflake(), name, f.contentType, f.data)
		s.attachments[a.ID] = a
		atts = append(atts, a)
	}
	m.attachments = atts
	if len(m.attachments) > attachmentsMax {
		return m, formError("attachments", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", attachmentsMax))
	}
	if err := checkContent(&m); err != nil {
		return m, err
	}
	return m, nil
}

func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// checkContent enforces Discord's limits on content, embeds and
// components, and sets customIDs.
func checkContent(m *message) error {
	if utf8.RuneCountInString(m.content) > contentMax {
		return formError("content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", contentMax))
	}
	if err := checkEmbeds(m.embeds); err != nil {
		return err
	}
	ids, err := checkComponents(m.components, m.flags&flagComponentsV2 != 0)
	if err != nil {
		return err
	}
	m.customIDs = ids
	if m.content == "" && len(m.embeds) == 0 && len(m.attachments) == 0 && len(ids) == 0 && !hasComponents(m.components) {
		return errEmptyMessage
	}
	return nil
}

func hasComponents(raw json.RawMessage) bool {
	var list []json.RawMessage
	return json.Unmarshal(raw, &list) == nil && len(list) > 0
}

func checkEmbeds(es []*discordgo.MessageEmbed) error {
	if len(es) > embedsMax {
		return formError("embeds", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", embedsMax))
	}
	total := 0
	maxLen := func(path, v string, n int) error {
		l := utf8.RuneCountInString(v)
		total += l
		if l > n {
			return formError(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", n))
		}
		return nil
	}
	checkURL := func(path, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "attachment") || u.Host == "" && u.Opaque == "" {
			return formError(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
		}
		return nil
	}
	for i, e := range es {
		p := fmt.Sprintf("embeds.%d.", i)
		if err := maxLen(p+"title", e.Title, 256); err != nil {
			return err
		}
		if err := maxLen(p+"description", e.Description, 4096); err != nil {
			return err
		}
		if err := checkURL(p+"url", e.URL); err != nil {
			return err
		}
		if e.Color < 0 || e.Color > 0xFFFFFF {
			return formError(p+"color", "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				return formError(p+"timestamp", "DATE_TIME_TYPE_PARSE", "Could not parse "+e.Timestamp+". Should be ISO8601.")
			}
		}
		if e.Footer != nil {
			if err := maxLen(p+"footer.text", e.Footer.Text, 2048); err != nil {
				return err
			}
			if err := checkURL(p+"footer.icon_url", e.Footer.IconURL); err != nil {
				return err
			}
		}
		if e.Author != nil {
			if err := maxLen(p+"author.name", e.Author.Name, 256); err != nil {
				return err
			}
			if err := checkURL(p+"author.url", e.Author.URL); err != nil {
				return err
			}
		}
		if e.Image != nil {
			if err := checkURL(p+"image.url", e.Image.URL); err != nil {
				return err
			}
		}
		if e.Thumbnail != nil {
			if err := checkURL(p+"thumbnail.url", e.Thumbnail.URL); err != nil {
				return err
			}
		}
		if len(e.Fields) > 25 {
			return formError(p+"fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		for j, f := range e.Fields {
			fp := fmt.Sprintf("%sfields.%d.", p, j)
			if f == nil || f.Name == "" {
				return formError(fp+"name", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if f.Value == "" {
				return formError(fp+"value", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if err := maxLen(fp+"name", f.Name, 256); err != nil {
				return err
			}
			if err := maxLen(fp+"value", f.Value, 1024); err != nil {
				return err
			}
		}
	}
	if total > embedTotalMax {
		return formError("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
	}
	return nil
}

// checkComponents checks action rows of buttons and select menus and
// returns their custom ids. Components v2 layouts are accepted as they come
// (their custom ids still collected).
func checkComponents(raw json.RawMessage, v2 bool) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, formError("components", "BASE_TYPE_ARRAY", "Must be an array.")
	}
	var ids []string
	if v2 {
		collectCustomIDs(rows, &ids)
		return ids, dupCheck(ids)
	}
	if len(rows) > actionRowsMax {
		return nil, formError("components", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", actionRowsMax))
	}
	for i, row := range rows {
		p := fmt.Sprintf("components.%d.", i)
		if num(row["type"]) != int(discordgo.ActionsRowComponent) {
			return nil, formError(p+"type", "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,).")
		}
		children, _ := row["components"].([]any)
		if len(children) == 0 || len(children) > rowButtonsMax {
			return nil, formError(p+"components", "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", rowButtonsMax))
		}
		for j, c := range children {
			cp := fmt.Sprintf("%scomponents.%d.", p, j)
			cm, _ := c.(map[string]any)
			typ := num(cm["type"])
			id, _ := cm["custom_id"].(string)
			switch typ {
			case int(discordgo.ButtonComponent):
				style := num(cm["style"])
				label, _ := cm["label"].(string)
				if utf8.RuneCountInString(label) > buttonLabelMax {
					return nil, formError(cp+"label", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", buttonLabelMax))
				}
				if label == "" && cm["emoji"] == nil {
					return nil, formError(cp, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A button must have a label or an emoji")
				}
				switch {
				case style < 1 || style > 6:
					return nil, formError(cp+"style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
				case style == int(discordgo.LinkButton):
					u, _ := cm["url"].(string)
					if id != "" {
						return nil, formError(cp+"custom_id", "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "A link button cannot have a custom id")
					}
					if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https" && pu.Scheme != "discord") {
						return nil, formError(cp+"url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
					}
					continue
				case style == 6:
					continue
				}
			case int(discordgo.SelectMenuComponent), int(discordgo.UserSelectMenuComponent), int(discordgo.RoleSelectMenuComponent),
				int(discordgo.MentionableSelectMenuComponent), int(discordgo.ChannelSelectMenuComponent):
				if len(children) != 1 {
					return nil, formError(p+"components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width")
				}
			default:
				return nil, formError(cp+"type", "COMPONENT_TYPE_INVALID", "Invalid component type")
			}
			if id == "" || utf8.RuneCountInString(id) > customIDMax {
				return nil, formError(cp+"custom_id", "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between 1 and %d in length.", customIDMax))
			}
			ids = append(ids, id)
		}
	}
	return ids, dupCheck(ids)
}

func dupCheck(ids []string) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return formError("components", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
		}
		seen[id] = true
	}
	return nil
}

func collectCustomIDs(v any, ids *[]string) {
	switch x := v.(type) {
	case []map[string]any:
		for _, e := range x {
			collectCustomIDs(e, ids)
		}
	case []any:
		for _, e := range x {
			collectCustomIDs(e, ids)
		}
	case map[string]any:
		if id, ok := x["custom_id"].(string); ok {
			*ids = append(*ids, id)
		}
		for _, k := range []string{"components", "accessory"} {
			if c, ok := x[k]; ok {
				collectCustomIDs(c, ids)
			}
		}
	}
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func imageSize(data []byte) (int, int) {
	c, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0
	}
	return c.Width, c.Height
}

// newMessageLocked creates a message from a request body.
func (s *Server) newMessageLocked(channelID string, typ int, raw []byte, files []upload, in *interaction) (*message, error) {
	m, err := s.apply(message{channelID: channelID, typ: typ, interaction: in, webhook: in != nil}, raw, files, true)
	if err != nil {
		return nil, err
	}
	m.id = s.Snowflake()
	m.created = time.Now()
	s.messages[m.id] = &m
	return &m, nil
}

// editLocked applies an edit to m.
func (s *Server) editLocked(m *message, raw []byte, files []upload) error {
	nm, err := s.apply(*m, raw, files, false)
	if err != nil {
		return err
	}
	nm.flags &^= messageFlagLoading
	nm.edits++
	nm.edited = time.Now()
	*m = nm
	return nil
}

// callback answers POST /interactions/{id}/{token}/callback.
func (s *Server) callback(w http.ResponseWriter, req *request, id, token string) {
	s.locked(w, func() (int, any, error) {
		in := s.byID[id]
		if in == nil || in.token != token || in.expired || time.Since(in.created) > s.tokenTTL {
			return 0, nil, errUnknownInteraction
		}
		if in.callbacks > 0 {
			return 0, nil, errAcknowledged
		}
		var body struct {
			Type int             `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(req.raw, &body); err != nil {
			return 0, nil, formError("type", "BASE_TYPE_REQUIRED", "This field is required")
		}
		kind := interactionType(in.raw)
		allowed := map[int][]int{
			int(discordgo.InteractionPing):               {1},
			int(discordgo.InteractionApplicationCommand): {4, 5, 9},
			int(discordgo.InteractionMessageComponent):   {4, 5, 6, 7, 9},
			int(discordgo.InteractionModalSubmit):        {4, 5, 6, 7},
		}[kind]
		if !slices.Contains(allowed, body.Type) {
			return 0, nil, &apiError{status: 400, Code: 50035, Message: "Invalid Form Body",
				Errors: map[string]any{"type": map[string]any{"_errors": []any{map[string]any{"code": "INTERACTION_RESPONSE_TYPE_INVALID",
					"message": fmt.Sprintf("Interaction response type %d is not valid for this interaction", body.Type)}}}}}
		}
		if err := checkUploads(req.files, s.uploadLimitLocked(in.channelID, in)); err != nil {
			return 0, nil, err
		}
		data := []byte(body.Data)
		if string(bytes.TrimSpace(data)) == "null" {
			data = nil
		}
		var resource *message
		switch body.Type {
		case 4:
			typ := int(discordgo.MessageTypeChatInputCommand)
			if kind != int(discordgo.InteractionApplicationCommand) {
				typ = int(discordgo.MessageTypeReply)
			}
			m, err := s.newMessageLocked(in.channelID, typ, data, req.files, in)
			if err != nil {
				return 0, nil, prefixError(err, "data")
			}
			m.flags &= flagEphemeral | flagSuppressEmbeds | flagSuppressNotifications | flagComponentsV2
			in.original, resource = m.id, m
		case 5:
			var d struct {
				Flags int `json:"flags"`
			}
			json.Unmarshal(data, &d)
			m := &message{id: s.Snowflake(), channelID: in.channelID, typ: int(discordgo.MessageTypeChatInputCommand),
				flags: d.Flags&flagEphemeral | messageFlagLoading, created: time.Now(), webhook: true, interaction: in}
			if kind != int(discordgo.InteractionApplicationCommand) {
				m.typ = int(discordgo.MessageTypeReply)
			}
			s.messages[m.id] = m
			in.original, resource = m.id, m
		case 6, 7:
			m := s.messages[in.origin]
			if m == nil || m.deleted {
				return 0, nil, errUnknownMessage
			}
			if body.Type == 7 {
				if err := s.editLocked(m, data, req.files); err != nil {
					return 0, nil, prefixError(err, "data")
				}
			}
			in.original, resource = m.id, m
		}
		in.callbacks++
		in.callbackType = body.Type
		if req.query.Get("with_response") != "true" {
			return http.StatusNoContent, nil, nil
		}
		out := map[string]any{"interaction": map[string]any{"id": in.id, "type": kind}}
		if resource != nil {
			out["interaction"].(map[string]any)["response_message_id"] = resource.id
			out["interaction"].(map[string]any)["response_message_loading"] = resource.flags&messageFlagLoading != 0
			out["interaction"].(map[string]any)["response_message_ephemeral"] = resource.flags&flagEphemeral != 0
			out["resource"] = map[string]any{"type": body.Type, "message": s.messageJSONLocked(resource)}
		} else {
			out["resource"] = map[string]any{"type": body.Type}
		}
		return http.StatusOK, out, nil
	})
}

// prefixError nests a form error under key, as Discord reports errors in
// an interaction response's data.
func prefixError(err error, key string) error {
	e, ok := err.(*apiError)
	if !ok || e.Errors == nil {
		return err
	}
	c := *e
	c.Errors = map[string]any{key: e.Errors}
	return &c
}

func interactionType(raw []byte) int {
	var p struct {
		Type int `json:"type"`
	}
	json.Unmarshal(raw, &p)
	return p.Type
}

// webhook answers /webhooks/{app}/{token}[/messages/{id}].
func (s *Server) webhook(w http.ResponseWriter, req *request) {
	p := req.parts
	app, token := p[1], p[2]
	s.locked(w, func() (int, any, error) {
		if app != s.AppID {
			return 0, nil, errUnknownWebhook
		}
		in := s.interactions[token]
		if in == nil || in.expired || time.Since(in.created) > s.tokenTTL {
			return 0, nil, errInvalidToken
		}
		switch {
		case len(p) == 3 && req.method == http.MethodPost:
			return s.followupLocked(req, in)
		case len(p) == 5 && p[3] == "messages":
			mid := p[4]
			if mid == "@original" {
				mid = in.original
			} else if mid != in.original && !slices.Contains(in.followups, mid) {
				mid = ""
			}
			m := s.messages[mid]
			if m == nil || m.deleted {
				return 0, nil, errUnknownMessage
			}
			switch req.method {
			case http.MethodGet:
				return 200, s.messageJSONLocked(m), nil
			case http.MethodPatch:
				if err := checkUploads(req.files, s.uploadLimitLocked(m.channelID, in)); err != nil {
					return 0, nil, err
				}
				if err := s.editLocked(m, req.raw, req.files); err != nil {
					return 0, nil, err
				}
				return 200, s.messageJSONLocked(m), nil
			case http.MethodDelete:
				m.deleted = true
				return http.StatusNoContent, nil, nil
			}
			return 0, nil, errMethod
		}
		return 0, nil, errMethod
	})
}

func (s *Server) followupLocked(req *request, in *interaction) (int, any, error) {
	if in.callbacks == 0 {
		return 0, nil, errUnknownWebhook
	}
	if err := checkUploads(req.files, s.uploadLimitLocked(in.channelID, in)); err != nil {
		return 0, nil, err
	}
	var m *message
	if o := s.messages[in.original]; o != nil && !o.deleted && o.flags&messageFlagLoading != 0 {
		// The first followup of a deferred response fills it in, keeping
		// the flags chosen when deferring.
		flags := o.flags &^ messageFlagLoading
		nm, err := s.apply(message{id: o.id, channelID: o.channelID, typ: o.typ, created: o.created, webhook: true, interaction: in},
			req.raw, req.files, true)
		if err != nil {
			return 0, nil, err
		}
		nm.flags = flags | nm.flags&(flagSuppressEmbeds|flagSuppressNotifications|flagComponentsV2)
		*o = nm
		m = o
	} else {
		var err error
		m, err = s.newMessageLocked(in.channelID, int(discordgo.MessageTypeDefault), req.raw, req.files, in)
		if err != nil {
			return 0, nil, err
		}
		m.flags &= flagEphemeral | flagSuppressEmbeds | flagSuppressNotifications | flagComponentsV2
		in.followups = append(in.followups, m.id)
	}
	if req.query.Get("wait") != "true" {
		return http.StatusNoContent, nil, nil
	}
	return 200, s.messageJSONLocked(m), nil
}

// channelMessages answers /channels/{id}/messages[/{id}].
func (s *Server) channelMessages(w http.ResponseWriter, req *request) {
	p := req.parts
	cid := p[1]
	if _, err := strconv.ParseUint(cid, 10, 64); err != nil {
		writeError(w, &apiError{status: 404, Code: 10003, Message: "Unknown Channel"})
		return
	}
	s.locked(w, func() (int, any, error) {
		switch {
		case len(p) == 3 && req.method == http.MethodPost:
			return s.postChannelMessageLocked(req, cid)
		case len(p) == 3 && req.method == http.MethodGet:
			var out []any
			for _, m := range slices.Backward(s.channels[cid]) {
				if !m.deleted && len(out) < messageListSize {
					out = append(out, s.messageJSONLocked(m))
				}
			}
			if out == nil {
				out = []any{}
			}
			return 200, out, nil
		case len(p) == 4:
			m := s.messages[p[3]]
			if m == nil || m.deleted || m.channelID != cid || m.flags&flagEphemeral != 0 {
				return 0, nil, errUnknownMessage
			}
			switch req.method {
			case http.MethodGet:
				return 200, s.messageJSONLocked(m), nil
			case http.MethodPatch:
				if err := checkUploads(req.files, s.uploadLimitLocked(cid, nil)); err != nil {
					return 0, nil, err
				}
				if err := s.editLocked(m, req.raw, req.files); err != nil {
					return 0, nil, err
				}
				return 200, s.messageJSONLocked(m), nil
			case http.MethodDelete:
				m.deleted = true
				return http.StatusNoContent, nil, nil
			}
		}
		return 0, nil, errMethod
	})
}

func (s *Server) postChannelMessageLocked(req *request, cid string) (int, any, error) {
	var body struct {
		Nonce        json.RawMessage `json:"nonce"`
		EnforceNonce bool            `json:"enforce_nonce"`
		Flags        int             `json:"flags"`
		Reference    json.RawMessage `json:"message_reference"`
	}
	if len(bytes.TrimSpace(req.raw)) > 0 {
		if err := json.Unmarshal(req.raw, &body); err != nil {
			return 0, nil, formError("_root", "MODEL_TYPE_CONVERT", "Invalid form body")
		}
	}
	nonce := ""
	if len(body.Nonce) > 0 && string(body.Nonce) != "null" {
		nonce = unquote(body.Nonce)
		if len(nonce) > nonceMax {
			return 0, nil, formError("nonce", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", nonceMax))
		}
	}
	if body.Flags&^(flagSuppressEmbeds|flagSuppressNotifications|flagComponentsV2) != 0 {
		return 0, nil, formError("flags", "MESSAGE_FLAGS_INVALID", "Invalid flags")
	}
	if body.EnforceNonce && nonce != "" {
		for _, m := range slices.Backward(s.channels[cid]) {
			if m.nonce == nonce && time.Since(m.created) < nonceWindow {
				return 200, s.messageJSONLocked(m), nil
			}
		}
	}
	if err := checkUploads(req.files, s.uploadLimitLocked(cid, nil)); err != nil {
		return 0, nil, err
	}
	typ := int(discordgo.MessageTypeDefault)
	if len(body.Reference) > 0 && string(body.Reference) != "null" {
		typ = int(discordgo.MessageTypeReply)
	}
	m, err := s.newMessageLocked(cid, typ, req.raw, req.files, nil)
	if err != nil {
		return 0, nil, err
	}
	m.nonce = nonce
	m.reference = body.Reference
	s.channels[cid] = append(s.channels[cid], m)
	return 200, s.messageJSONLocked(m), nil
}
