package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Largest text form field read; a longer prompt is rejected without
// reading it whole.
const maxFieldBytes = paimeng.MaxPromptRunes*4 + 1024

// Longest display name accepted, in runes.
const maxNameRunes = 32

// defaultMaxUpload bounds a job body: two pictures (image and image_tail)
// at the size limit, base64-encoded in a JSON body, and 1 MB for the rest.
const defaultMaxUpload = 2*(paimeng.MaxImageBytes+2)/3*4 + 1<<20

// upload is a parsed job request.
type upload struct {
	image      []byte
	tail       []byte // the end frame, or nil
	prompt     string
	negative   string
	seconds    int
	seed       int64
	mode       paimeng.Mode
	lane       paimeng.Lane
	camera     *paimeng.CameraControl
	fps        int
	resolution int
	aspect     paimeng.Aspect
	name       string
	engine     string // the engine field, lower case; "" for the default
	modelName  string // Kling's model_name, lower case: the engine when it names one offered
}

// fields are a job request's values as sent, before they are checked. A
// JSON body keeps numbers as their literal text and camera_control as its
// JSON; a form sends camera_control as a JSON string.
type fields struct {
	image, tail                   []byte
	prompt, negative              string
	seconds, duration, seed       string
	mode, lane, name              string
	engine, modelName             string
	camera                        string
	fps, resolution, aspect       string
	hasImage                      bool
	secondsField, aspectFieldName string // the names used, for errors
}

// fieldError is a bad value of one job field. The response names the
// field and says what it accepts.
type fieldError struct {
	field string
	err   *paimeng.Error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// badField returns a fieldError with the given code.
func badField(field, code, format string, args ...any) error {
	return &fieldError{field: field, err: paimeng.Errorf(code, format, args...)}
}

// asField makes a paimeng error about field a fieldError.
func asField(field string, err error) error {
	var pe *paimeng.Error
	if errors.As(err, &pe) {
		return &fieldError{field: field, err: pe}
	}
	return err
}

// readUpload reads a job request: a multipart form (files image and
// image_tail) or a JSON object (image and image_tail in base64). Both take
// prompt, negative_prompt, seconds or duration, seed, mode, lane, name,
// camera_control, fps, resolution, aspect_ratio and engine (or Kling's
// model_name); unknown fields are skipped.
func readUpload(r *http.Request) (*upload, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var f *fields
	switch {
	case err == nil && ct == "multipart/form-data":
		f, err = readForm(r)
	case err == nil && ct == "application/json":
		f, err = readJSONJob(r)
	default:
		return nil, paimeng.Errorf(paimeng.EINVALID, "content type %q is neither multipart/form-data nor application/json", r.Header.Get("Content-Type"))
	}
	if err != nil {
		return nil, err
	}
	return f.check()
}

// readForm streams the multipart form.
func readForm(r *http.Request) (*fields, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, paimeng.Errorf(paimeng.EINVALID, "multipart: %v", err)
	}
	f := &fields{}
	text := map[string]*string{
		"prompt": &f.prompt, "negative_prompt": &f.negative, "seconds": &f.seconds, "duration": &f.duration,
		"seed": &f.seed, "mode": &f.mode, "lane": &f.lane, "name": &f.name, "camera_control": &f.camera,
		"fps": &f.fps, "resolution": &f.resolution, "aspect_ratio": &f.aspect, "aspect": &f.aspect,
		"engine": &f.engine, "model_name": &f.modelName,
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bodyError("read form", err)
		}
		name := part.FormName()
		switch {
		case name == "image" || name == "image_tail":
			b, err := io.ReadAll(io.LimitReader(part, paimeng.MaxImageBytes+1))
			if err != nil {
				return nil, bodyError("read "+name, err)
			}
			if len(b) > paimeng.MaxImageBytes {
				return nil, badField(name, paimeng.EImageTooLarge, "%s over %d bytes", name, paimeng.MaxImageBytes)
			}
			if name == "image" {
				f.image, f.hasImage = b, true
			} else {
				f.tail = b
			}
		case text[name] != nil:
			v, err := readField(part)
			if err != nil {
				return nil, asField(name, err)
			}
			*text[name] = v
			f.noteName(name)
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError("skip field", err)
			}
		}
		_ = part.Close()
	}
	return f, nil
}

// noteName remembers which spelling of seconds and aspect a request used.
func (f *fields) noteName(name string) {
	switch name {
	case "seconds", "duration":
		f.secondsField = name
	case "aspect", "aspect_ratio":
		f.aspectFieldName = name
	}
}

// jsonJob is the JSON body of a job request (Kling's image-to-video
// fields and ours). Scalars may be numbers or strings.
type jsonJob struct {
	Image          *string         `json:"image"`
	ImageTail      *string         `json:"image_tail"`
	Prompt         string          `json:"prompt"`
	NegativePrompt string          `json:"negative_prompt"`
	Seconds        json.RawMessage `json:"seconds"`
	Duration       json.RawMessage `json:"duration"`
	Seed           json.RawMessage `json:"seed"`
	Mode           json.RawMessage `json:"mode"`
	Lane           json.RawMessage `json:"lane"`
	Name           json.RawMessage `json:"name"`
	CameraControl  json.RawMessage `json:"camera_control"`
	FPS            json.RawMessage `json:"fps"`
	Resolution     json.RawMessage `json:"resolution"`
	AspectRatio    json.RawMessage `json:"aspect_ratio"`
	Aspect         json.RawMessage `json:"aspect"`
	Engine         json.RawMessage `json:"engine"`
	ModelName      json.RawMessage `json:"model_name"`
}

// readJSONJob reads a JSON job request.
func readJSONJob(r *http.Request) (*fields, error) {
	var j jsonJob
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&j); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("read body: %w", err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, badField(te.Field, paimeng.EINVALID, "%s is a JSON %s", te.Field, te.Value)
		}
		return nil, paimeng.Errorf(paimeng.EINVALID, "JSON body: %v", err)
	}
	f := &fields{prompt: j.Prompt, negative: j.NegativePrompt}
	var err error
	if j.Image != nil {
		if f.image, err = decodeImage("image", *j.Image); err != nil {
			return nil, err
		}
		f.hasImage = true
	}
	if j.ImageTail != nil && *j.ImageTail != "" {
		if f.tail, err = decodeImage("image_tail", *j.ImageTail); err != nil {
			return nil, err
		}
	}
	for _, s := range []struct {
		name string
		raw  json.RawMessage
		to   *string
	}{
		{"seconds", j.Seconds, &f.seconds}, {"duration", j.Duration, &f.duration}, {"seed", j.Seed, &f.seed},
		{"mode", j.Mode, &f.mode}, {"lane", j.Lane, &f.lane}, {"name", j.Name, &f.name},
		{"fps", j.FPS, &f.fps}, {"resolution", j.Resolution, &f.resolution},
		{"aspect_ratio", j.AspectRatio, &f.aspect}, {"aspect", j.Aspect, &f.aspect},
		{"engine", j.Engine, &f.engine}, {"model_name", j.ModelName, &f.modelName},
	} {
		v, ok := scalar(s.raw)
		if !ok {
			return nil, badField(s.name, paimeng.EBadOption, "%s is not a string or a number: %s", s.name, s.raw)
		}
		if v != "" {
			*s.to = v
			f.noteName(s.name)
		}
	}
	if c := bytes.TrimSpace(j.CameraControl); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		f.camera = string(c)
	}
	return f, nil
}

// scalar returns a JSON string's text or a number's literal; null or
// absent is "". ok is false for objects, arrays and booleans.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), true
	}
	return "", false
}

// decodeImage decodes a base64 picture (a data: URL works too). Picture
// URLs are not fetched.
func decodeImage(field, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return nil, badField(field, paimeng.EINVALID, "%s is a URL; pictures are not fetched", field)
	}
	if strings.HasPrefix(s, "data:") {
		_, data, ok := strings.Cut(s, ",")
		if !ok {
			return nil, badField(field, paimeng.EImageFormat, "%s is a data URL without data", field)
		}
		s = data
	}
	if base64.StdEncoding.DecodedLen(len(s)) > paimeng.MaxImageBytes+3 {
		return nil, badField(field, paimeng.EImageTooLarge, "%s over %d bytes", field, paimeng.MaxImageBytes)
	}
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return nil, badField(field, paimeng.EImageFormat, "%s is not base64: %v", field, err)
		}
	}
	if len(b) > paimeng.MaxImageBytes {
		return nil, badField(field, paimeng.EImageTooLarge, "%s over %d bytes", field, paimeng.MaxImageBytes)
	}
	return b, nil
}

// check validates the values and returns the upload.
func (f *fields) check() (*upload, error) {
	if !f.hasImage || len(f.image) == 0 {
		return nil, paimeng.Errorf(paimeng.ENoImage, "no image")
	}
	up := &upload{image: f.image, tail: f.tail}
	if len(up.tail) == 0 {
		up.tail = nil
	}
	var err error
	if up.prompt, err = promptValue("prompt", f.prompt); err != nil {
		return nil, err
	}
	if up.negative, err = promptValue("negative_prompt", f.negative); err != nil {
		return nil, err
	}
	secs, dur := strings.TrimSpace(f.seconds), strings.TrimSpace(f.duration)
	if secs != "" && dur != "" && secs != dur {
		return nil, badField("duration", paimeng.EBadOption, "seconds %q and duration %q differ", secs, dur)
	}
	if v := cmpOr(secs, dur); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 5 && n != 10) {
			return nil, badField(cmpOr(f.secondsField, "seconds"), paimeng.EBadOption, "seconds %q is not 5 or 10", v)
		}
		up.seconds = n
	}
	if v := strings.TrimSpace(f.seed); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, badField("seed", paimeng.EBadOption, "seed %q is not a non-negative integer", v)
		}
		up.seed = n
	}
	switch m := paimeng.Mode(strings.ToLower(strings.TrimSpace(f.mode))); m {
	case "", paimeng.ModeStd, paimeng.ModePro:
		up.mode = m
	default:
		return nil, badField("mode", paimeng.EBadOption, "mode %q is not std or pro", f.mode)
	}
	switch l := paimeng.Lane(strings.ToLower(strings.TrimSpace(f.lane))); l {
	case "", paimeng.LaneFast, paimeng.LaneRelax:
		up.lane = l
	default:
		return nil, badField("lane", paimeng.EBadOption, "lane %q is not fast or relax", f.lane)
	}
	if up.camera, err = cameraValue(f.camera); err != nil {
		return nil, asField("camera_control", err)
	}
	if v := strings.TrimSpace(f.fps); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 || !paimeng.ValidFPS(n) {
			return nil, badField("fps", paimeng.EBadOption, "fps %q is not 24 or 30", v)
		}
		up.fps = n
	}
	if v := strings.TrimSpace(f.resolution); v != "" {
		if up.resolution, err = paimeng.ParseResolution(v); err != nil {
			return nil, asField("resolution", err)
		}
	}
	if v := strings.TrimSpace(f.aspect); v != "" {
		if up.aspect, err = paimeng.ParseAspect(v); err != nil {
			return nil, asField(cmpOr(f.aspectFieldName, "aspect_ratio"), err)
		}
	}
	if up.name, err = displayName(f.name); err != nil {
		return nil, err
	}
	up.engine = strings.ToLower(strings.TrimSpace(f.engine))
	up.modelName = strings.ToLower(strings.TrimSpace(f.modelName))
	return up, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// promptValue trims a prompt and checks its encoding and length.
func promptValue(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", badField(field, paimeng.EINVALID, "%s is not UTF-8", field)
	}
	if utf8.RuneCountInString(v) > paimeng.MaxPromptRunes {
		return "", badField(field, paimeng.EPromptTooLong, "%s over %d runes", field, paimeng.MaxPromptRunes)
	}
	return v, nil
}

// cameraValue reads camera_control: Kling's object ({"type": "simple",
// "config": {"zoom": 5}}), as JSON or as a JSON string, or the chat short
// form ("zoom:5", "down_back"). "" is none.
func cameraValue(v string) (*paimeng.CameraControl, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if strings.HasPrefix(v, `"`) { // a JSON body's string
		var s string
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return nil, paimeng.Errorf(paimeng.EBadOption, "camera_control: %v", err)
		}
		if v = strings.TrimSpace(s); v == "" {
			return nil, nil
		}
	}
	if !strings.HasPrefix(v, "{") {
		return paimeng.ParseCameraControl(v)
	}
	var c paimeng.CameraControl
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, paimeng.Errorf(paimeng.EBadOption, "camera_control: %v", err)
	}
	if dec.More() {
		return nil, paimeng.Errorf(paimeng.EBadOption, "camera_control: data after the object")
	}
	c.Type = paimeng.CameraType(strings.ToLower(strings.TrimSpace(string(c.Type))))
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// displayName cleans an optional name for the leaderboards: spaces
// collapsed, no control characters, at most maxNameRunes.
func displayName(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", badField("name", paimeng.EINVALID, "name is not UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return "", badField("name", paimeng.EINVALID, "name has control characters")
		}
	}
	name := strings.Join(strings.Fields(v), " ")
	if utf8.RuneCountInString(name) > maxNameRunes {
		return "", badField("name", paimeng.EINVALID, "name over %d runes", maxNameRunes)
	}
	return name, nil
}

// readField reads a small text field; anything longer than any valid
// prompt is a prompt-too-long error.
func readField(part io.Reader) (string, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", bodyError("read field", err)
	}
	if n > maxFieldBytes {
		return "", paimeng.Errorf(paimeng.EPromptTooLong, "form field over %d bytes", maxFieldBytes)
	}
	return b.String(), nil
}

// bodyError keeps the body-size error recognisable and makes any other
// read failure a bad request.
func bodyError(what string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return paimeng.Errorf(paimeng.EINVALID, "%s: %v", what, err)
}

// fieldText is the member-facing text for a bad value of field, or ""
// when the code's own text says it.
func fieldText(field, code string, lang paimeng.Lang) string {
	var zh, en string
	switch field {
	case "image", "image_tail", "negative_prompt":
	default:
		if code != paimeng.EBadOption {
			return ""
		}
	}
	switch field {
	case "seconds", "duration":
		zh, en = field+" 只能是 5 或 10（秒）。", field+" must be 5 or 10 (seconds)."
	case "seed":
		zh, en = "seed 须为非负整数。", "seed must be a whole number, 0 or more."
	case "mode":
		zh, en = "mode 只能是 std 或 pro。", "mode must be std or pro."
	case "lane":
		zh, en = "lane 只能是 fast 或 relax。", "lane must be fast or relax."
	case "camera_control":
		zh = `camera_control 无效：写成 {"type":"simple","config":{"zoom":5}}，config 里恰好一个非零的轴（horizontal、vertical、pan、tilt、roll、zoom），取值 -10 到 10；或 type 为 down_back、forward_up、right_turn_forward、left_turn_forward，不带 config。`
		en = `camera_control is not valid: write {"type":"simple","config":{"zoom":5}} with exactly one non-zero axis (horizontal, vertical, pan, tilt, roll or zoom) from -10 to 10, or a type of down_back, forward_up, right_turn_forward or left_turn_forward without a config.`
	case "fps":
		zh, en = "fps 只能是 24 或 30。", "fps must be 24 or 30."
	case "resolution":
		zh, en = "resolution 只能是 540p、720p 或 1080p。", "resolution must be 540p, 720p or 1080p."
	case "aspect_ratio", "aspect":
		zh, en = field+" 只能是 16:9、9:16 或 1:1。", field+" must be 16:9, 9:16 or 1:1."
	case "negative_prompt":
		if code == paimeng.EPromptTooLong {
			zh, en = fmt.Sprintf("negative_prompt 太长了，最多 %d 字。", paimeng.MaxPromptRunes), fmt.Sprintf("negative_prompt is too long (max %d characters).", paimeng.MaxPromptRunes)
		}
	case "image", "image_tail":
		what := map[string][2]string{"image": {"图片", "The image"}, "image_tail": {"结束帧图片（image_tail）", "The end frame (image_tail)"}}[field]
		switch code {
		case paimeng.EINVALID:
			zh, en = what[0]+"请用 base64 或上传文件，不支持网址。", what[1]+" must be base64 or an uploaded file; URLs are not fetched."
		case paimeng.EImageFormat:
			zh, en = what[0]+"不是有效的 base64 图片（JPEG、PNG 或 WebP）。", what[1]+" is not a valid base64 JPEG, PNG or WebP picture."
		case paimeng.EImageTooLarge:
			zh, en = fmt.Sprintf("%s太大了（最大 %d MB）。", what[0], paimeng.MaxImageBytes>>20), fmt.Sprintf("%s is too large (max %d MB).", what[1], paimeng.MaxImageBytes>>20)
		}
	}
	if zh == "" {
		return ""
	}
	return command.Pick(lang, zh, en)
}
