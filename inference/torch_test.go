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

// Packages exported from PyTorch with torch.onnx.export by
// scripts/torch-export.sh: the contract as a real exporter writes it, for a
// Wan-style model (SentencePiece tokenizer, 3D VAE, DiT) and an SVD-style
// one (image encoder, per-frame VAE, bt_chw denoiser with a scalar
// timestep and its weights in an external data file).
var torchPackages = []struct {
	dir, name string
	spec      paimeng.VideoSpec // planned for a 90×60 still, 1 s
}{
	{"testdata/torch-tiny", "paimeng-torch-tiny", paimeng.VideoSpec{Width: 96, Height: 64, FPS: 8, Frames: 9, PixFmt: paimeng.PixYUV420P}},
	{"testdata/torch-tiny-svd", "paimeng-torch-tiny-svd", paimeng.VideoSpec{Width: 96, Height: 64, FPS: 6, Frames: 6, PixFmt: paimeng.PixYUV420P}},
}

// torchRef is reference/index.json: per component, inputs and the outputs
// PyTorch computed for them, and the token ids sentencepiece gave.
type torchRef struct {
	comps  map[string]torchComp
	tokens *struct {
		Prompts []string  `json:"prompts"`
		IDs     [][]int32 `json:"ids"`
	}
}

type torchComp struct {
	Inputs  map[string]torchArray `json:"inputs"`
	Outputs map[string]torchArray `json:"outputs"`
}

// torchArray is a raw little-endian file, or with Fill "sine" the values
// float32(sin(0.01·i)) (large inputs are not stored).
type torchArray struct {
	File  string  `json:"file"`
	Fill  string  `json:"fill"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

func loadTorchRef(t *testing.T, dir string) torchRef {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "reference", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	ref := torchRef{comps: map[string]torchComp{}}
	for k, r := range raw {
		if k == "tokens" {
			if err := json.Unmarshal(r, &ref.tokens); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var c torchComp
		if err := json.Unmarshal(r, &c); err != nil {
			t.Fatal(err)
		}
		ref.comps[k] = c
	}
	return ref
}

// bytes returns the array's content as little-endian bytes.
func (a torchArray) bytes(t *testing.T, dir string) []byte {
	t.Helper()
	n := int64(1)
	for _, d := range a.Shape {
		n *= d
	}
	if a.Fill == "sine" {
		b := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(math.Sin(0.01*float64(i)))))
		}
		return b
	}
	data, err := os.ReadFile(filepath.Join(dir, "reference", a.File))
	if err != nil {
		t.Fatal(err)
	}
	size := map[string]int64{"float32": 4, "int64": 8}[a.DType]
	if size == 0 || int64(len(data)) != n*size {
		t.Fatalf("%s: %d bytes for %s%v", a.File, len(data), a.DType, a.Shape)
	}
	return data
}

// The packages exported by torch.onnx pass Load and ONNX Runtime's own
// check, and the Wan-style one's tokenizer gives the ids sentencepiece
// gave PyTorch.
func TestTorchExportLoads(t *testing.T) {
	needORT(t)
	for _, tp := range torchPackages {
		p, err := model.Load(tp.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.CheckRuntime(); err != nil {
			t.Fatal(err)
		}
		if p.Manifest.Text == nil {
			continue
		}
		ref := loadTorchRef(t, tp.dir)
		if ref.tokens == nil || len(ref.tokens.Prompts) == 0 {
			t.Fatalf("%s: no reference prompts", tp.dir)
		}
		for i, prompt := range ref.tokens.Prompts {
			if got := p.Tokenizer.Encode(prompt); !slices.Equal(got, ref.tokens.IDs[i]) {
				t.Errorf("Encode(%q) = %v, sentencepiece gave %v", prompt, got, ref.tokens.IDs[i])
			}
		}
	}
}

// Every component exported by torch.onnx computes in ONNX Runtime, through
// our sessions and buffers, what it computed in PyTorch. A scalar timestep
// goes through the graph rewrite the engine uses, with the weights read
// from the external data file beside the original.
func TestTorchExportMatchesPyTorch(t *testing.T) {
	needORT(t)
	for _, tp := range torchPackages {
		p, err := model.Load(tp.dir)
		if err != nil {
			t.Fatal(err)
		}
		ref := loadTorchRef(t, tp.dir)
		if want := len(p.Signatures); len(ref.comps) != want {
			t.Fatalf("%s: reference has %d components, the package %d", tp.dir, len(ref.comps), want)
		}
		for comp, r := range ref.comps {
			cfg := SessionConfig{Name: comp, IntraOpThreads: 1, Logger: quiet}
			path := p.Path(comp)
			rename := map[string]string{}
			var s *Session
			if ts, ok := p.Component(comp).Inputs[model.RoleTimestep]; ok && ts.Rank() == 0 {
				data, vec, ok, err := model.VectorizeScalarInput(path, ts.Name)
				if err != nil || !ok {
					t.Fatalf("%s: %v %v", path, ok, err)
				}
				if len(p.Signatures[comp].ExternalData) == 0 {
					t.Errorf("%s: no external data to read", path)
				}
				cfg.ExternalDataDir = filepath.Dir(path)
				s, err = NewSession(data, cfg)
				if err != nil {
					t.Fatal(err)
				}
				rename[ts.Name] = vec
			} else if s, err = NewSessionFromFile(path, cfg); err != nil {
				t.Fatal(err)
			}
			b, err := s.NewBinding()
			if err != nil {
				t.Fatal(err)
			}
			for name, a := range r.Inputs {
				shape := a.Shape
				if v, ok := rename[name]; ok {
					name, shape = v, []int64{1}
				}
				buf, err := b.Alloc(name, shape...)
				if err != nil {
					t.Fatal(err)
				}
				copy(buf.Bytes(), a.bytes(t, tp.dir))
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
				want := a.bytes(t, tp.dir)
				worst, scale := 0.0, 0.0
				for i, g := range outs[name].Float32() {
					w := float64(math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:])))
					worst = max(worst, math.Abs(float64(g)-w))
					scale = max(scale, math.Abs(w))
				}
				t.Logf("%s %s.%s %v: largest difference from PyTorch %.2g (values up to %.3g)", p.Manifest.Name, comp, name, a.Shape, worst, scale)
				if worst > 1e-4*max(1, scale) || scale == 0 {
					t.Errorf("%s %s.%s differs from PyTorch by %g (values up to %g)", p.Manifest.Name, comp, name, worst, scale)
				}
			}
			b.Close()
			s.Close()
		}
	}
}

// The learned engine serves the PyTorch-exported packages end to end:
// the planned size and length, valid limited-range frames that move,
// and the same clip for the same seed only.
func TestTorchExportGenerates(t *testing.T) {
	for _, tp := range torchPackages {
		p, err := model.Load(tp.dir)
		if err != nil {
			t.Fatal(err)
		}
		e := newLearned(t, p)
		if e.Name() != tp.name {
			t.Fatalf("name %q, want %q", e.Name(), tp.name)
		}
		in := &paimeng.GenInput{Image: testStill(90, 60), Prompt: "a fox looks around in a quiet forest", Seconds: 1, Seed: 11}
		spec, err := e.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		if spec != tp.spec {
			t.Fatalf("%s: plan %+v, want %+v", tp.name, spec, tp.spec)
		}
		var total int
		a := generate(t, e, in, func(_, n int) { total = n })
		if total != p.Manifest.Defaults.Steps+1 {
			t.Errorf("%s: progress total %d", tp.name, total)
		}
		checkFrames(t, a, spec)
		if !sameClip(a, generate(t, e, in, nil)) {
			t.Errorf("%s: same seed, different clip", tp.name)
		}
		in.Seed++
		if sameClip(a, generate(t, e, in, nil)) {
			t.Errorf("%s: different seeds, same clip", tp.name)
		}
	}
}
