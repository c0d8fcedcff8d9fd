package web

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
)

var (
	stillPNG = []byte("\x89PNG\r\n\x1a\nthe first frame")
	endPNG   = []byte("\x89PNG\r\n\x1a\nthe end frame")
)

func TestCreateJobKlingFieldsInForm(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	res := h.submit(form{image: stillPNG, prompt: "樱花飘落", tail: endPNG, extra: [][2]string{
		{"camera_control", `{"type":"simple","config":{"horizontal":0,"vertical":0,"pan":0,"tilt":0,"roll":0,"zoom":5}}`},
		{"duration", "10"}, {"negative_prompt", "模糊，变形"}, {"seed", "7"}, {"fps", "30"}, {"resolution", "720p"}, {"aspect_ratio", "16:9"},
		{"cfg_strength", "0.5"}, {"model_name", "kling-v1"},
	}}, "Authorization", authAlice)
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	job := decode[jobView](t, res)
	req := h.be.last()
	if !bytes.Equal(req.Image, stillPNG) || !bytes.Equal(req.Tail, endPNG) {
		t.Errorf("image %q tail %q", req.Image, req.Tail)
	}
	if req.Camera.String() != "zoom:5" || req.Seconds != 10 || req.Seed != 7 || req.FPS != 30 || req.Resolution != 720 ||
		req.Aspect != paimeng.AspectWide || req.NegativePrompt != "模糊，变形" || req.Prompt != "樱花飘落" {
		t.Errorf("request camera %q seconds %d seed %d fps %d resolution %d aspect %q negative %q prompt %q",
			req.Camera.String(), req.Seconds, req.Seed, req.FPS, req.Resolution, req.Aspect, req.NegativePrompt, req.Prompt)
	}
	if job.Seconds != 10 || job.FPS != 30 || job.Resolution != 720 || job.AspectRatio != paimeng.AspectWide || !job.EndFrame {
		t.Errorf("job %+v", job)
	}
	if len(job.Notes) != 1 || !strings.Contains(job.Notes[0], "negative_prompt") || !strings.Contains(job.Notes[0], "忽略") {
		t.Errorf("notes %q", job.Notes)
	}
	// Reading the job back carries no note.
	again := decode[jobView](t, h.do("GET", "/api/v1/jobs/"+job.ID, nil, "Authorization", authAlice))
	if len(again.Notes) != 0 || again.FPS != 30 || !again.EndFrame {
		t.Errorf("job read back %+v", again)
	}

	// The short form and a combined type work in a form too; no negative
	// prompt, no note.
	res = h.submit(form{prompt: "x", extra: [][2]string{{"camera_control", "down_back"}, {"seconds", "5"}, {"duration", "5"}, {"resolution", "1080"}}},
		"Authorization", authAlice)
	if res.StatusCode != 201 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if v := decode[jobView](t, res); len(v.Notes) != 0 || v.EndFrame {
		t.Errorf("second job %+v", v)
	}
	if req := h.be.last(); req.Camera.String() != "down_back" || req.Resolution != 1080 || req.Seconds != 5 || req.Tail != nil {
		t.Errorf("second request camera %q resolution %d seconds %d tail %d", req.Camera.String(), req.Resolution, req.Seconds, len(req.Tail))
	}
}

func TestCreateJobJSON(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	body := `{"model_name":"kling-v1","image":"` + base64.StdEncoding.EncodeToString(stillPNG) + `",
		"image_tail":"data:image/png;base64,` + base64.StdEncoding.EncodeToString(endPNG) + `",
		"prompt":"push in","negative_prompt":"blur","duration":"5","seed":42,"fps":30,"resolution":720,"aspect_ratio":"9:16",
		"camera_control":{"type":"simple","config":{"roll":-3}},"cfg_strength":0.5,"mode":"pro","name":"Alice"}`
	res := h.do("POST", "/api/v1/jobs", strings.NewReader(body), "Content-Type", "application/json", "Authorization", authAlice,
		"Accept-Language", "en", "Idempotency-Key", "json-1")
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	job := decode[jobView](t, res)
	req := h.be.last()
	if !bytes.Equal(req.Image, stillPNG) || !bytes.Equal(req.Tail, endPNG) || req.Camera.String() != "roll:-3" || req.Seconds != 5 ||
		req.Seed != 42 || req.FPS != 30 || req.Resolution != 720 || req.Aspect != paimeng.AspectTall || req.Mode != paimeng.ModePro ||
		req.NegativePrompt != "blur" || req.DisplayName != "Alice" || req.IdempotencyKey != "web:alice:json-1" {
		t.Errorf("request %+v", req)
	}
	if len(job.Notes) != 1 || !strings.Contains(job.Notes[0], "ignored") {
		t.Errorf("notes %q", job.Notes)
	}
	// A camera_control as a JSON string, and no end frame.
	body = `{"image":"` + base64.StdEncoding.EncodeToString(stillPNG) + `","image_tail":"","camera_control":"{\"type\":\"forward_up\"}","duration":10}`
	res = h.do("POST", "/api/v1/jobs", strings.NewReader(body), "Content-Type", "application/json", "Authorization", authAlice)
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	if req := h.be.last(); req.Camera.String() != "forward_up" || req.Seconds != 10 || req.Tail != nil {
		t.Errorf("second request camera %q seconds %d tail %d", req.Camera.String(), req.Seconds, len(req.Tail))
	}
}

func TestCreateJobBadValues(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	img := base64.StdEncoding.EncodeToString(stillPNG)
	for _, tc := range []struct {
		form   [][2]string // form fields, or
		json   string      // a JSON body
		status int
		code   string
		field  string
		en     string // part of the English message
	}{
		{form: [][2]string{{"camera_control", `{"type":"simple","config":{"zoom":11}}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control", en: "from -10 to 10"},
		{form: [][2]string{{"camera_control", `{"type":"simple","config":{"zoom":1,"pan":2}}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control", en: "exactly one"},
		{form: [][2]string{{"camera_control", `{"type":"simple"}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{form: [][2]string{{"camera_control", `{"type":"spin"}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{form: [][2]string{{"camera_control", `{"type":"simple","config":{"zom":1}}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{form: [][2]string{{"camera_control", `{"type":"down_back","config":{"zoom":1}}`}}, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{form: [][2]string{{"camera_control", `zoom:-11`}}, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{form: [][2]string{{"duration", "7"}}, status: 400, code: paimeng.EBadOption, field: "duration", en: "duration must be 5 or 10"},
		{form: [][2]string{{"seconds", "5"}, {"duration", "10"}}, status: 400, code: paimeng.EBadOption, field: "duration"},
		{form: [][2]string{{"fps", "25"}}, status: 400, code: paimeng.EBadOption, field: "fps", en: "fps must be 24 or 30"},
		{form: [][2]string{{"resolution", "4k"}}, status: 400, code: paimeng.EBadOption, field: "resolution", en: "540p, 720p or 1080p"},
		{form: [][2]string{{"aspect_ratio", "4:3"}}, status: 400, code: paimeng.EBadOption, field: "aspect_ratio", en: "16:9, 9:16 or 1:1"},
		{form: [][2]string{{"seed", "-1"}}, status: 400, code: paimeng.EBadOption, field: "seed"},
		{form: [][2]string{{"negative_prompt", strings.Repeat("糊", paimeng.MaxPromptRunes+1)}}, status: 400, code: paimeng.EPromptTooLong, field: "negative_prompt", en: "negative_prompt is too long"},
		{json: `{"image":"` + img + `","camera_control":{"type":"simple","config":{"tilt":-10.5}}}`, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{json: `{"image":"` + img + `","camera_control":[1]}`, status: 400, code: paimeng.EBadOption, field: "camera_control"},
		{json: `{"image":"` + img + `","duration":"15"}`, status: 400, code: paimeng.EBadOption, field: "duration"},
		{json: `{"image":"` + img + `","fps":true}`, status: 400, code: paimeng.EBadOption, field: "fps"},
		{json: `{"image":"` + img + `","resolution":480}`, status: 400, code: paimeng.EBadOption, field: "resolution"},
		{json: `{"image":"` + img + `","aspect_ratio":"2:1"}`, status: 400, code: paimeng.EBadOption, field: "aspect_ratio"},
		{json: `{"image":"` + img + `","prompt":5}`, status: 400, code: paimeng.EINVALID, field: "prompt"},
		{json: `{"image":"https://example.com/cat.png"}`, status: 400, code: paimeng.EINVALID, field: "image", en: "URLs are not fetched"},
		{json: `{"image":"` + img + `","image_tail":"not base64!"}`, status: 400, code: paimeng.EImageFormat, field: "image_tail", en: "end frame"},
		{json: `{"prompt":"x"}`, status: 400, code: paimeng.ENoImage},
	} {
		var res *http.Response
		if tc.json != "" {
			res = h.do("POST", "/api/v1/jobs", strings.NewReader(tc.json), "Content-Type", "application/json", "Authorization", authAlice, "Accept-Language", "en")
		} else {
			res = h.submit(form{prompt: "x", extra: tc.form}, "Authorization", authAlice, "Accept-Language", "en")
		}
		e := wantError(t, res, tc.status, tc.code)
		if e.Field != tc.field || !strings.Contains(e.Message, tc.en) {
			t.Errorf("%v%s: field %q message %q", tc.form, tc.json, e.Field, e.Message)
		}
	}
	// Chinese too.
	res := h.submit(form{prompt: "x", extra: [][2]string{{"fps", "60"}}}, "Authorization", authAlice, "Accept-Language", "zh-CN")
	if e := wantError(t, res, 400, paimeng.EBadOption); e.Message != "fps 只能是 24 或 30。" {
		t.Errorf("zh message %q", e.Message)
	}
	// An end frame over the size limit.
	res = h.submit(form{prompt: "x", tail: make([]byte, paimeng.MaxImageBytes+1)}, "Authorization", authAlice)
	if e := wantError(t, res, 413, paimeng.EImageTooLarge); e.Field != "image_tail" {
		t.Errorf("field %q", e.Field)
	}
	if h.be.last() != nil || h.be.createdJobs() != 0 || h.be.balance(alice) != 100 {
		t.Errorf("submitted %v, created %d, balance %d", h.be.last(), h.be.createdJobs(), h.be.balance(alice))
	}
}

func TestCameraValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "",
		`""`:                                    "",
		`"zoom:3"`:                              "zoom:3",
		`{"type":"Simple","config":{"pan":-2}}`: "pan:-2",
		`{"type":"left_turn_forward"}`:          "left_turn_forward",
		`{"type":"right_turn_forward","config":{"horizontal":0,"vertical":0,"pan":0,"tilt":0,"roll":0,"zoom":0}}`: "right_turn_forward",
	} {
		c, err := cameraValue(in)
		if err != nil || c.String() != want {
			t.Errorf("cameraValue(%s) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{`{"type":"simple","config":{"zoom":2}} {}`, `{`, `"zoom"`, `{"type":""}`} {
		if _, err := cameraValue(in); paimeng.ErrorCode(err) != paimeng.EBadOption {
			t.Errorf("cameraValue(%s) error %v", in, err)
		}
	}
}

func TestCreateJobEngine(t *testing.T) {
	h := newHarness(t, Config{Engines: []string{"camera", "svd"}}, nil)
	jsonJob := func(fields string) *paimeng.Request {
		t.Helper()
		body := `{"image":"` + base64.StdEncoding.EncodeToString(stillPNG) + `"` + fields + `}`
		res := h.do("POST", "/api/v1/jobs", strings.NewReader(body), "Content-Type", "application/json", "Authorization", authAlice)
		if res.StatusCode != 201 {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("%s: status %d: %s", fields, res.StatusCode, b)
		}
		return h.be.last()
	}
	for _, c := range []struct{ fields, want string }{
		{``, ""},
		{`,"engine":"svd"`, "svd"},
		{`,"engine":" SVD "`, "svd"},
		{`,"model_name":"svd"`, "svd"},
		{`,"model_name":"kling-v1"`, ""}, // another service's model: ignored
		{`,"engine":"camera","model_name":"svd"`, "camera"},
		{`,"engine":"nope"`, "nope"}, // the Submitter refuses it
	} {
		if got := jsonJob(c.fields).Engine; got != c.want {
			t.Errorf("%s: engine %q, want %q", c.fields, got, c.want)
		}
	}
	for _, c := range []struct {
		extra [][2]string
		want  string
	}{
		{[][2]string{{"engine", "svd"}}, "svd"},
		{[][2]string{{"model_name", "svd"}}, "svd"},
		{[][2]string{{"model_name", "kling-v1-6"}}, ""},
	} {
		res := h.submit(form{image: stillPNG, prompt: "x", extra: c.extra}, "Authorization", authAlice)
		if res.StatusCode != 201 {
			t.Fatalf("%v: status %d", c.extra, res.StatusCode)
		}
		v := decode[jobView](t, res)
		if got := h.be.last().Engine; got != c.want || v.Engine != c.want {
			t.Errorf("%v: engine %q (view %q), want %q", c.extra, got, v.Engine, c.want)
		}
	}
}

func TestCreateJobUnknownEngineRefused(t *testing.T) {
	h := newHarness(t, Config{Engines: []string{"camera"}}, nil)
	h.be.submitErr = paimeng.Errorf(paimeng.EUnknownEngine, "unknown engine %q", "nope")
	res := h.submit(form{image: stillPNG, prompt: "x", extra: [][2]string{{"engine", "nope"}}}, "Authorization", authAlice, "Accept-Language", "en")
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(b), paimeng.EUnknownEngine) || !strings.Contains(string(b), "engine does not exist") {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
}
