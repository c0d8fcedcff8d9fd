package inference

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference/model"
)

// torchTiny is a package exported from PyTorch with torch.onnx.export by
// scripts/torch-export.sh: the contract as a real exporter writes it.
const torchTiny = "testdata/torch-tiny"

// torchRef is reference/index.json: per component, inputs and the outputs
// PyTorch computed for them.
type torchRef map[string]struct {
	Inputs  map[string]torchArray `json:"inputs"`
	Outputs map[string]torchArray `json:"outputs"`
}

type torchArray struct {
	File  string  `json:"file"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

func loadTorchRef(t *testing.T) (torchRef, struct {
	Prompts []string  `json:"prompts"`
	IDs     [][]int32 `json:"ids"`
}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(torchTiny, "reference", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var tokens struct {
		Prompts []string  `json:"prompts"`
		IDs     [][]int32 `json:"ids"`
	}
	if err := json.Unmarshal(raw["tokens"], &tokens); err != nil {
		t.Fatal(err)
	}
	delete(raw, "tokens")
	ref := torchRef{}
	for comp, r := range raw {
		var e struct {
			Inputs  map[string]torchArray `json:"inputs"`
			Outputs map[string]torchArray `json:"outputs"`
		}
		if err := json.Unmarshal(r, &e); err != nil {
			t.Fatal(err)
		}
		ref[comp] = e
	}
	return ref, tokens
}

func (a torchArray) bytes(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(torchTiny, "reference", a.File))
	if err != nil {
		t.Fatal(err)
	}
	n := int64(1)
	for _, d := range a.Shape {
		n *= d
	}
	if int64(len(data)) != n*8 && a.DType == "int64" || int64(len(data)) != n*4 && a.DType == "float32" {
		t.Fatalf("%s: %d bytes for %s%v", a.File, len(data), a.DType, a.Shape)
	}
	return data
}

// The package exported by torch.onnx passes Load and ONNX Runtime's own
// check, and its tokenizer gives the ids sentencepiece gave PyTorch.
func TestTorchExportLoads(t *testing.T) {
	needORT(t)
	p, err := model.Load(torchTiny)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
	_, tokens := loadTorchRef(t)
	if len(tokens.Prompts) == 0 {
		t.Fatal("no reference prompts")
	}
	for i, prompt := range tokens.Prompts {
		if got := p.Tokenizer.Encode(prompt); !slices.Equal(got, tokens.IDs[i]) {
			t.Errorf("Encode(%q) = %v, sentencepiece gave %v", prompt, got, tokens.IDs[i])
		}
	}
}

// Every component exported by torch.onnx computes in ONNX Runtime, through
// our sessions and buffers, what it computed in PyTorch.
func TestTorchExportMatchesPyTorch(t *testing.T) {
	needORT(t)
	ref, _ := loadTorchRef(t)
	if len(ref) != 4 {
		t.Fatalf("reference has %d components", len(ref))
	}
	for comp, r := range ref {
		s, err := NewSessionFromFile(filepath.Join(torchTiny, comp+".onnx"), SessionConfig{Name: comp, IntraOpThreads: 1, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range r.Inputs {
			buf, err := b.Alloc(name, a.Shape...)
			if err != nil {
				t.Fatal(err)
			}
			copy(buf.Bytes(), a.bytes(t))
		}
		outs := map[string]*Buffer{}
		for name, a := range r.Outputs {
			if outs[name], err = b.Alloc(name, a.Shape...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		for name, a := range r.Outputs {
			want := a.bytes(t)
			got := outs[name].Float32()
			worst, scale := 0.0, 0.0
			for i, g := range got {
				w := float64(math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:])))
				worst = max(worst, math.Abs(float64(g)-w))
				scale = max(scale, math.Abs(w))
			}
			t.Logf("%s.%s %v: largest difference from PyTorch %.2g (values up to %.3g)", comp, name, a.Shape, worst, scale)
			if worst > 1e-4*max(1, scale) || scale == 0 {
				t.Errorf("%s.%s differs from PyTorch by %g (values up to %g)", comp, name, worst, scale)
			}
		}
		b.Close()
		s.Close()
	}
}

// The learned engine serves the PyTorch-exported package end to end:
// the planned size and length, valid limited-range frames that move,
// and the same clip for the same seed.
func TestTorchExportGenerates(t *testing.T) {
	p, err := model.Load(torchTiny)
	if err != nil {
		t.Fatal(err)
	}
	e := newLearned(t, p)
	if e.Name() != "paimeng-torch-tiny" {
		t.Fatalf("name %q", e.Name())
	}
	in := &paimeng.GenInput{Image: testStill(90, 60), Prompt: "a fox looks around in a quiet forest", Seconds: 1, Seed: 11}
	spec, err := e.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (paimeng.VideoSpec{Width: 96, Height: 64, FPS: 8, Frames: 9, PixFmt: paimeng.PixYUV420P}); spec != want {
		t.Fatalf("plan %+v, want %+v", spec, want)
	}
	var steps int
	a := generate(t, e, in, func(done, total int) { steps = total })
	if steps != p.Manifest.Defaults.Steps+1 {
		t.Errorf("progress total %d", steps)
	}
	checkFrames(t, a, spec)
	if !sameClip(a, generate(t, e, in, nil)) {
		t.Error("same seed, different clip")
	}
	in.Seed++
	if sameClip(a, generate(t, e, in, nil)) {
		t.Error("different seeds, same clip")
	}
}
