package command

import (
	"testing"

	"github.com/paimeng/paimeng"
)

func TestParseEngine(t *testing.T) {
	for _, c := range []struct{ in, engine, prompt string }{
		{"/gen push in", "", "push in"},
		{"/gen push in --engine svd", "svd", "push in"},
		{"/gen --engine=SVD push in", "svd", "push in"},
		{"/gen push in —engine wan2.1-i2v", "wan2.1-i2v", "push in"},
		{"/gen push in --model ltx_video", "ltx_video", "push in"},
		{"/gen 推近 engine:camera", "camera", "推近"},
		{"/gen 推近 模型:svd", "svd", "推近"},
		{"/gen 推近 模型：svd --seconds 10", "svd", "推近"},
		{"/gen 推近 引擎:svd", "svd", "推近"},
	} {
		cmd, err := Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if cmd.Engine != c.engine || cmd.Prompt != c.prompt {
			t.Errorf("%q: engine %q prompt %q, want %q %q", c.in, cmd.Engine, cmd.Prompt, c.engine, c.prompt)
		}
		var req paimeng.Request
		cmd.FillRequest(&req)
		if req.Engine != c.engine {
			t.Errorf("%q: request engine %q", c.in, req.Engine)
		}
	}
	for _, in := range []string{"/gen x --engine", "/gen x --engine 超级", "/gen x engine:a/b", "/gen x --engine="} {
		if _, err := Parse(in); paimeng.ErrorCode(err) != paimeng.EBadOption {
			t.Errorf("%q: %v, want bad option", in, err)
		}
	}
}
