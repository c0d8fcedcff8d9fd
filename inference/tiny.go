package inference

// A tiny latent-video model package with random, seeded weights. It has the
// structure of a Wan-like image-to-video model (a text encoder, a causal 3D
// VAE, a diffusion transformer with self-attention, cross-attention to the
// text and adaLN timestep modulation) at a size that builds in milliseconds
// and runs on a CPU in tests, so the whole pipeline can be exercised without
// downloading a model. Its videos are noise-like: the weights are untrained.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
	"github.com/paimeng/paimeng/inference/model"
	"github.com/paimeng/paimeng/inference/sample"
)

// TinyOptions configures WriteTinyModel. Zero fields take the defaults in
// brackets.
type TinyOptions struct {
	// Seed names the weights: the same options give byte-identical files.
	Seed uint64
	// Resolutions are the supported sizes [64×64, 96×64]; each a multiple
	// of 2·SpatialFactor (the denoiser patchifies 2×2).
	Resolutions []model.Resolution
	// Frames are the supported frame counts [5, 9]; each TemporalFactor·k+1.
	Frames []int
	// LatentChannels is the VAE latent width C [4].
	LatentChannels int
	// SpatialFactor is the VAE's spatial downsampling, a power of two ≥ 2 [8].
	SpatialFactor int
	// TemporalFactor is the VAE's temporal downsampling [4].
	TemporalFactor int
	// TextLength is the padded prompt length L [16].
	TextLength int
	// Width is the transformer width D of the text encoder and the
	// denoiser [32]; a multiple of 2·Heads.
	Width int
	// Heads is the number of attention heads [2].
	Heads int
	// Blocks is the number of denoiser transformer blocks [2].
	Blocks int
	// Float16 stores the text encoder and denoiser weights in float16 and
	// gives them float16 inputs and outputs (the timestep stays float32);
	// they compute in float32 inside. The VAE stays float32.
	Float16 bool
	// Boundary, when not 0, makes a two-expert package in the manner of
	// Wan 2.2 A14B: denoiser_low_noise.onnx, a second denoiser of the same
	// structure with its own weights, denoises below the noise level
	// Boundary (scheduler.boundary, in (0, 1)) at guidance 2
	// (defaults.guidance_low_noise).
	Boundary float64
	// SVD writes a package in the layout of Stable Video Diffusion instead
	// of Wan's: kind edm (edm_euler, v-prediction, c_noise timesteps, σ
	// from 700 to 0.002), no text, a per-frame VAE with rank 4 [N, …]
	// tensors (TemporalFactor 1), and a denoiser in latent layout bt_chw
	// ([B·F, C, h, w] latent and prediction) taking the still's latent as
	// [B, C, h, w] (image_latent "image") and added_time_ids [B, 3].
	SVD bool
	// ScalarTimestep gives the denoiser a scalar timestep input instead
	// of [B].
	ScalarTimestep bool
}

// Tensor names of the tiny model's graphs.
const (
	tinyIDs      = "input_ids"
	tinyMask     = "attention_mask"
	tinyHidden   = "last_hidden_state"
	tinyVideo    = "video"
	tinyLatent   = "latent"
	tinyX        = "x"
	tinyT        = "t"
	tinyContext  = "context"
	tinyY        = "y"
	tinyV        = "v"
	tinyTimeIDs  = "added_time_ids"
	tinyOpset    = 17
	tinyTokFile  = "tokenizer/tokenizer.json"
	tinyMLPRatio = 4
)

func (o TinyOptions) withDefaults() TinyOptions {
	if len(o.Resolutions) == 0 {
		o.Resolutions = []model.Resolution{{Width: 64, Height: 64}, {Width: 96, Height: 64}}
	}
	if len(o.Frames) == 0 {
		o.Frames = []int{5, 9}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.LatentChannels, 4)
	def(&o.SpatialFactor, 8)
	if o.SVD {
		def(&o.TemporalFactor, 1)
	}
	def(&o.TemporalFactor, 4)
	def(&o.TextLength, 16)
	def(&o.Width, 32)
	def(&o.Heads, 2)
	def(&o.Blocks, 2)
	return o
}

func (o TinyOptions) validate() error {
	switch {
	case o.LatentChannels < 1:
		return fmt.Errorf("latent channels %d, want ≥ 1", o.LatentChannels)
	case o.SpatialFactor < 2 || o.SpatialFactor&(o.SpatialFactor-1) != 0:
		return fmt.Errorf("spatial factor %d, want a power of two ≥ 2", o.SpatialFactor)
	case o.TemporalFactor < 1:
		return fmt.Errorf("temporal factor %d, want ≥ 1", o.TemporalFactor)
	case o.TextLength < 1 || o.TextLength > 4096:
		return fmt.Errorf("text length %d, want 1..4096", o.TextLength)
	case o.Heads < 1 || o.Width < 2 || o.Width%(2*o.Heads) != 0:
		return fmt.Errorf("width %d and %d heads: want a width that is a multiple of 2·heads", o.Width, o.Heads)
	case o.Blocks < 1:
		return fmt.Errorf("blocks %d, want ≥ 1", o.Blocks)
	case o.Boundary != 0 && !(o.Boundary > 0 && o.Boundary < 1):
		return fmt.Errorf("boundary %v, want 0 < boundary < 1", o.Boundary)
	case o.SVD && o.Boundary != 0:
		return fmt.Errorf("boundary %v: the SVD layout has one denoiser", o.Boundary)
	case o.SVD && o.TemporalFactor != 1:
		return fmt.Errorf("temporal factor %d: the SVD layout has a per-frame VAE (1)", o.TemporalFactor)
	}
	for _, r := range o.Resolutions {
		if m := 2 * o.SpatialFactor; r.Width <= 0 || r.Height <= 0 || r.Width%m != 0 || r.Height%m != 0 {
			return fmt.Errorf("resolution %s, want positive multiples of %d", r, m)
		}
	}
	for _, f := range o.Frames {
		if f < 1 || (f-1)%o.TemporalFactor != 0 {
			return fmt.Errorf("%d frames, want %dk+1", f, o.TemporalFactor)
		}
	}
	return nil
}

// WriteTinyModel writes a complete model package of kind flow into dir
// (created if needed): model.json, tokenizer/tokenizer.json (a small Unigram
// vocabulary), text_encoder.onnx, vae_encoder.onnx, denoiser.onnx and
// vae_decoder.onnx, with weights drawn from opt.Seed; with opt.Boundary
// also denoiser_low_noise.onnx; with opt.SVD an edm package without the
// tokenizer and text encoder. The package passes model.Load and
// Package.CheckRuntime; docs/models.md describes its structure. Existing
// files of those names are replaced.
func WriteTinyModel(dir string, opt TinyOptions) error {
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return fmt.Errorf("inference: tiny model: %w", err)
	}
	vocab := tinyVocab()
	tok, err := tinyTokenizerJSON(vocab)
	if err != nil {
		return err
	}
	type file struct {
		name  string
		build func() ([]byte, error)
	}
	var files []file
	if !opt.SVD {
		files = append(files,
			file{tinyTokFile, func() ([]byte, error) { return tok, nil }},
			file{"text_encoder.onnx", func() ([]byte, error) { return tinyTextEncoder(opt, len(vocab)) }})
	}
	files = append(files,
		file{"vae_encoder.onnx", func() ([]byte, error) { return tinyVAEEncoder(opt) }},
		file{"denoiser.onnx", func() ([]byte, error) { return tinyDenoiser(opt, "tiny_denoiser", streamDenoiser) }})
	if opt.Boundary != 0 {
		files = append(files, file{"denoiser_low_noise.onnx", func() ([]byte, error) {
			return tinyDenoiser(opt, "tiny_denoiser_low_noise", streamDenoiserLow)
		}})
	}
	files = append(files,
		file{"vae_decoder.onnx", func() ([]byte, error) { return tinyVAEDecoder(opt) }},
		file{model.ManifestFile, func() ([]byte, error) { return tinyManifest(opt) }})
	for _, f := range files {
		b, err := f.build()
		if err != nil {
			return fmt.Errorf("inference: tiny model: %s: %w", f.name, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("inference: tiny model: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("inference: tiny model: %w", err)
		}
	}
	return nil
}

// tinyManifest is the model.json of the package.
func tinyManifest(o TinyOptions) ([]byte, error) {
	c := o.LatentChannels
	fl := model.Float32
	if o.Float16 {
		fl = model.Float16
	}
	t := func(name string, dt model.DType, dims ...any) model.Tensor {
		tt := model.Tensor{Name: name, DType: dt, Shape: []model.Dim{}}
		for _, d := range dims {
			switch v := d.(type) {
			case int:
				tt.Shape = append(tt.Shape, model.Dim{Size: int64(v)})
			case string:
				tt.Shape = append(tt.Shape, model.Dim{Name: v})
			}
		}
		return tt
	}
	// Per-channel latent statistics, seeded and rounded to keep the file short.
	stats := sample.Noise(o.Seed^0x5eed, 2*c)
	mean, std := make([]float64, c), make([]float64, c)
	for i := range c {
		mean[i] = math.Round(float64(stats[i])*100) / 1000
		std[i] = 1 + math.Round(math.Abs(float64(stats[c+i]))*100)/400
	}
	m := model.Manifest{
		Name: "paimeng-tiny", Version: "1", Kind: model.KindFlow, FPS: 8,
		Resolutions: o.Resolutions, Frames: o.Frames,
		Latent: model.Latent{Channels: c, SpatialFactor: o.SpatialFactor, TemporalFactor: o.TemporalFactor,
			ScalingFactor: 1, Mean: mean, Std: std},
		Scheduler:       model.Scheduler{Type: model.SchedulerFlowEuler, Shift: 3, TimeScale: 1000},
		Defaults:        model.Defaults{Steps: 4, Guidance: 3},
		BatchedGuidance: true,
		ImageLatent:     model.ImageLatentVideo,
		Text:            &model.Text{Tokenizer: model.TokenizerUnigram, File: tinyTokFile, MaxLength: o.TextLength},
		Components: model.Components{
			TextEncoder: &model.Component{File: "text_encoder.onnx",
				Inputs: map[string]model.Tensor{
					model.RoleInputIDs:      t(tinyIDs, model.Int64, "B", "L"),
					model.RoleAttentionMask: t(tinyMask, model.Int64, "B", "L")},
				Outputs: map[string]model.Tensor{model.RoleHiddenStates: t(tinyHidden, fl, "B", "L", o.Width)}},
			VAEEncoder: &model.Component{File: "vae_encoder.onnx",
				Inputs:  map[string]model.Tensor{model.RoleImage: t(tinyVideo, model.Float32, "B", 3, "F", "H", "W")},
				Outputs: map[string]model.Tensor{model.RoleLatent: t(tinyLatent, model.Float32, "B", c, "T", "h", "w")}},
			Denoiser: &model.Component{File: "denoiser.onnx",
				Inputs: map[string]model.Tensor{
					model.RoleLatent:              t(tinyX, fl, "B", c, "T", "h", "w"),
					model.RoleTimestep:            t(tinyT, model.Float32, "B"),
					model.RoleEncoderHiddenStates: t(tinyContext, fl, "B", "L", o.Width),
					model.RoleImageLatent:         t(tinyY, fl, "B", c, "T", "h", "w")},
				Outputs: map[string]model.Tensor{model.RolePrediction: t(tinyV, fl, "B", c, "T", "h", "w")}},
			VAEDecoder: &model.Component{File: "vae_decoder.onnx",
				Inputs:  map[string]model.Tensor{model.RoleLatent: t(tinyLatent, model.Float32, "B", c, "T", "h", "w")},
				Outputs: map[string]model.Tensor{model.RoleVideo: t(tinyVideo, model.Float32, "B", 3, "F", "H", "W")}},
		},
	}
	ts := t(tinyT, model.Float32, "B")
	if o.ScalarTimestep {
		ts = t(tinyT, model.Float32)
	}
	m.Components.Denoiser.Inputs[model.RoleTimestep] = ts
	if o.Boundary != 0 {
		m.Name = "paimeng-tiny-experts"
		m.Scheduler.Boundary = o.Boundary
		m.Defaults.GuidanceLowNoise = 2
		low := *m.Components.Denoiser
		low.File = "denoiser_low_noise.onnx"
		m.Components.DenoiserLowNoise = &low
	}
	if o.SVD {
		m.Name, m.Kind = "paimeng-tiny-svd", model.KindEDM
		m.Latent = model.Latent{Channels: c, SpatialFactor: o.SpatialFactor, TemporalFactor: 1,
			ScalingFactor: 0.18215, Layout: model.LayoutBTCHW}
		m.Scheduler = model.Scheduler{Type: model.SchedulerEDMEuler, SigmaMin: 0.002, SigmaMax: 700, Rho: 7, SigmaData: 1,
			Prediction: "v", Timestep: model.TimestepCNoise}
		m.ImageLatent = model.ImageLatentImage
		m.Text, m.Components.TextEncoder = nil, nil
		m.Components.VAEEncoder = &model.Component{File: "vae_encoder.onnx",
			Inputs:  map[string]model.Tensor{model.RoleImage: t(tinyVideo, model.Float32, "N", 3, "H", "W")},
			Outputs: map[string]model.Tensor{model.RoleLatent: t(tinyLatent, model.Float32, "N", c, "h", "w")}}
		m.Components.Denoiser = &model.Component{File: "denoiser.onnx",
			Inputs: map[string]model.Tensor{
				model.RoleLatent:       t(tinyX, fl, "N", c, "h", "w"),
				model.RoleTimestep:     ts,
				model.RoleImageLatent:  t(tinyY, fl, "B", c, "h", "w"),
				model.RoleAddedTimeIDs: t(tinyTimeIDs, model.Float32, "B", 3)},
			Outputs: map[string]model.Tensor{model.RolePrediction: t(tinyV, fl, "N", c, "h", "w")}}
		m.Components.VAEDecoder = &model.Component{File: "vae_decoder.onnx",
			Inputs:  map[string]model.Tensor{model.RoleLatent: t(tinyLatent, model.Float32, "N", c, "h", "w")},
			Outputs: map[string]model.Tensor{model.RoleVideo: t(tinyVideo, model.Float32, "N", 3, "H", "W")}}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// tinyVocab is the Unigram vocabulary: the T5 special tokens, single
// characters with and without the word-start marker, and a few whole words
// of the prompts paimeng sees. Whole words score above their spellings.
func tinyVocab() [][2]any {
	v := [][2]any{{"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}, {"▁", -3.0}}
	chars := "abcdefghijklmnopqrstuvwxyz0123456789,.!?'-"
	for _, r := range chars {
		v = append(v, [2]any{string(r), -5.0})
	}
	for _, r := range chars {
		v = append(v, [2]any{"▁" + string(r), -5.5})
	}
	words := []string{"the", "an", "of", "and", "in", "on", "with", "at", "to", "is",
		"camera", "slowly", "moves", "pan", "zoom", "left", "right", "forward", "close", "up", "wide", "shot",
		"cat", "dog", "walks", "running", "person", "woman", "man", "river", "mountain", "ocean", "waves",
		"sky", "sun", "clouds", "tree", "trees", "city", "street", "car", "water", "light", "night", "day",
		"wind", "red", "blue", "green", "golden"}
	seen := map[string]bool{}
	for _, e := range v {
		seen[e[0].(string)] = true
	}
	for _, w := range words {
		if !seen["▁"+w] {
			v = append(v, [2]any{"▁" + w, -3.0 - 0.25*float64(len(w))})
		}
	}
	return v
}

// tinyTokenizerJSON writes a tokenizer.json in the layout of the T5
// encoders' tokenizers (Metaspace pre-tokenizer, </s> appended).
func tinyTokenizerJSON(vocab [][2]any) ([]byte, error) {
	special := func(id int, s string) map[string]any {
		return map[string]any{"id": id, "content": s, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}
	}
	seq := func(id string) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": 0}}
	}
	eos := map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}
	t := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": []any{special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "},
			map[string]any{"type": "Lowercase"},
		}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "WhitespaceSplit"},
			map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
		}},
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{seq("A"), eos},
			"pair":   []any{seq("A"), eos, seq("B"), eos},
			"special_tokens": map[string]any{
				"</s>": map[string]any{"id": "</s>", "ids": []int{1}, "tokens": []string{"</s>"}},
			},
		},
		"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
		"model":   map[string]any{"type": "Unigram", "unk_id": 2, "vocab": vocab},
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// tinyNet builds one component: a graph plus a seeded weight stream.
type tinyNet struct {
	*graph
	seed uint64
	off  uint64 // next index in the seed's noise stream
	half bool   // store weights as float16
}

func newTinyNet(name string, seed uint64, stream uint64, half bool) *tinyNet {
	return &tinyNet{graph: newGraph(name), seed: seed, off: stream << 40, half: half}
}

// param adds a named weight initializer holding vals and returns a float32
// tensor of it (through a Cast when weights are stored in float16).
func (n *tinyNet) param(name string, vals []float32, dims ...int64) string {
	t := &pb.TensorProto{Name: name, Dims: dims}
	if n.half {
		t.DataType = int32(pb.TensorProto_FLOAT16)
		t.RawData = make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(t.RawData[2*i:], uint16(HalfFromFloat32(v)))
		}
	} else {
		t.DataType = tFloat
		t.RawData = make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(t.RawData[4*i:], math.Float32bits(v))
		}
	}
	n.g.Initializer = append(n.g.Initializer, t)
	if n.half {
		return n.node("Cast", []string{name}, attrs{"to": int(tFloat)}, name+"_f32")
	}
	return name
}

// random adds a weight of normal samples times scale.
func (n *tinyNet) random(name string, scale float64, dims ...int64) string {
	size := int64(1)
	for _, d := range dims {
		size *= d
	}
	vals := make([]float32, size)
	sample.FillNoise(vals, n.seed, n.off)
	n.off += uint64(size)
	for i := range vals {
		vals[i] = float32(float64(vals[i]) * scale)
	}
	return n.param(name, vals, dims...)
}

// filled adds a weight whose elements all equal v.
func (n *tinyNet) filled(name string, v float32, dims ...int64) string {
	size := int64(1)
	for _, d := range dims {
		size *= d
	}
	vals := make([]float32, size)
	for i := range vals {
		vals[i] = v
	}
	return n.param(name, vals, dims...)
}

func (n *tinyNet) ints(vals ...int64) string { return n.constI([]int64{int64(len(vals))}, vals...) }

func (n *tinyNet) scalar(v float32) string { return n.constF(nil, v) }

func (n *tinyNet) bin(op, a, b string) string { return n.node(op, []string{a, b}, nil) }

// linear is x·W + b over the last axis, W of shape [in, out] scaled by
// 1/sqrt(in).
func (n *tinyNet) linear(name, x string, in, out int) string {
	w := n.random(name+".weight", 1/math.Sqrt(float64(in)), int64(in), int64(out))
	b := n.random(name+".bias", 0.02, int64(out))
	return n.bin("Add", n.bin("MatMul", x, w), b)
}

// layerNorm normalises the last axis; with affine it has learned scale and
// bias, else unit scale and zero bias.
func (n *tinyNet) layerNorm(name, x string, d int, affine bool) string {
	var s, b string
	if affine {
		s, b = n.filled(name+".weight", 1, int64(d)), n.filled(name+".bias", 0, int64(d))
	} else {
		s, b = n.constF([]int64{int64(d)}, ones(d)...), n.constF([]int64{int64(d)}, make([]float32, d)...)
	}
	return n.node("LayerNormalization", []string{x, s, b}, attrs{"axis": -1, "epsilon": float32(1e-6)})
}

func ones(d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = 1
	}
	return v
}

func (n *tinyNet) silu(x string) string {
	return n.bin("Mul", x, n.node("Sigmoid", []string{x}, nil))
}

// gelu is the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func (n *tinyNet) gelu(x string) string {
	x3 := n.bin("Mul", n.bin("Mul", x, x), x)
	inner := n.bin("Add", x, n.bin("Mul", x3, n.scalar(0.044715)))
	th := n.node("Tanh", []string{n.bin("Mul", inner, n.scalar(float32(math.Sqrt(2/math.Pi))))}, nil)
	return n.bin("Mul", n.bin("Mul", x, n.scalar(0.5)), n.bin("Add", th, n.scalar(1)))
}

func (n *tinyNet) mlp(name, x string, d int) string {
	h := n.gelu(n.linear(name+".fc1", x, d, tinyMLPRatio*d))
	return n.linear(name+".fc2", h, tinyMLPRatio*d, d)
}

// attention is multi-head attention of queries from x [B, N, D] over keys and
// values from kv [B, M, D]; bias, if not "", is added to the scores
// ([B, 1, 1, M], e.g. a padding mask).
func (n *tinyNet) attention(name, x, kv string, d, heads int, bias string) string {
	dh := d / heads
	split := func(t string) string { // [B, N, D] → [B, H, N, dh]
		r := n.node("Reshape", []string{t, n.ints(0, 0, int64(heads), int64(dh))}, nil)
		return n.node("Transpose", []string{r}, attrs{"perm": []int64{0, 2, 1, 3}})
	}
	q := split(n.linear(name+".q", x, d, d))
	k := split(n.linear(name+".k", kv, d, d))
	v := split(n.linear(name+".v", kv, d, d))
	kt := n.node("Transpose", []string{k}, attrs{"perm": []int64{0, 1, 3, 2}})
	s := n.bin("Mul", n.bin("MatMul", q, kt), n.scalar(float32(1/math.Sqrt(float64(dh)))))
	if bias != "" {
		s = n.bin("Add", s, bias)
	}
	p := n.node("Softmax", []string{s}, attrs{"axis": -1})
	o := n.node("Transpose", []string{n.bin("MatMul", p, v)}, attrs{"perm": []int64{0, 2, 1, 3}})
	o = n.node("Reshape", []string{o, n.ints(0, 0, int64(d))}, nil)
	return n.linear(name+".o", o, d, d)
}

// sliceRows takes rows [0, len) of table along axis 0, len a [1] int64 tensor.
func (n *tinyNet) sliceRows(table, length string) string {
	return n.node("Slice", []string{table, n.ints(0), length, n.ints(0)}, nil)
}

// inputF declares a float input of the component's I/O type and returns it
// as float32.
func (n *tinyNet) inputF(name string, dims ...any) string {
	if !n.half {
		return n.input(name, tFloat, dims...)
	}
	n.input(name, int32(pb.TensorProto_FLOAT16), dims...)
	return n.node("Cast", []string{name}, attrs{"to": int(tFloat)})
}

// outputF declares the float output name, computed in float32 by x.
func (n *tinyNet) outputF(name, x string, dims ...any) {
	if !n.half {
		n.node("Identity", []string{x}, nil, name)
		n.output(name, tFloat, dims...)
		return
	}
	n.node("Cast", []string{x}, attrs{"to": int(pb.TensorProto_FLOAT16)}, name)
	n.output(name, int32(pb.TensorProto_FLOAT16), dims...)
}

// Weight streams of the components (disjoint ranges of the seed's noise).
const (
	streamText = iota + 1
	streamVAEEnc
	streamDenoiser
	streamVAEDec
	streamDenoiserLow
)

// tinyTextEncoder: token and position embeddings, one pre-norm transformer
// block (self-attention with the padding mask, GELU MLP), a final norm;
// padding positions output zeros.
func tinyTextEncoder(o TinyOptions, vocab int) ([]byte, error) {
	d := o.Width
	n := newTinyNet("tiny_text_encoder", o.Seed, streamText, o.Float16)
	ids := n.input(tinyIDs, tInt64, "B", "L")
	mask := n.input(tinyMask, tInt64, "B", "L")
	emb := n.random("embed.weight", 1, int64(vocab), int64(d))
	pos := n.random("pos.weight", 0.1, int64(o.TextLength), int64(d))
	x := n.node("Gather", []string{emb, ids}, attrs{"axis": 0})
	l := n.node("Shape", []string{ids}, attrs{"start": 1, "end": 2})
	x = n.bin("Add", x, n.sliceRows(pos, l))

	mf := n.node("Cast", []string{mask}, attrs{"to": int(tFloat)}) // [B, L]
	// (m − 1)·10⁴: 0 for tokens, −10⁴ for padding, as [B, 1, 1, L].
	bias := n.bin("Mul", n.bin("Sub", mf, n.scalar(1)), n.scalar(1e4))
	bias = n.node("Unsqueeze", []string{bias, n.ints(1, 2)}, nil)

	h := n.layerNorm("block.norm1", x, d, true)
	x = n.bin("Add", x, n.attention("block.attn", h, h, d, o.Heads, bias))
	x = n.bin("Add", x, n.mlp("block.mlp", n.layerNorm("block.norm2", x, d, true), d))
	x = n.layerNorm("norm", x, d, true)
	x = n.bin("Mul", x, n.node("Unsqueeze", []string{mf, n.ints(2)}, nil))
	n.outputF(tinyHidden, x, "B", "L", d)
	return n.model(tinyOpset)
}

// conv3d adds a 3D convolution with weights scaled by 1/sqrt(fan_in).
func (n *tinyNet) conv3d(name, x string, cin, cout int, k, stride, pads []int64) string {
	fan := float64(cin) * float64(k[0]*k[1]*k[2])
	w := n.random(name+".weight", 1/math.Sqrt(fan), int64(cout), int64(cin), k[0], k[1], k[2])
	b := n.random(name+".bias", 0.02, int64(cout))
	return n.node("Conv", []string{x, w, b}, attrs{"kernel_shape": k, "strides": stride, "pads": pads})
}

// convT3d adds a 3D transposed convolution whose stride equals its kernel
// (each output sees cin inputs).
func (n *tinyNet) convT3d(name, x string, cin, cout int, k []int64) string {
	w := n.random(name+".weight", 1/math.Sqrt(float64(cin)), int64(cin), int64(cout), k[0], k[1], k[2])
	b := n.random(name+".bias", 0.02, int64(cout))
	return n.node("ConvTranspose", []string{x, w, b}, attrs{"kernel_shape": k, "strides": k})
}

func vaeWidth(i int) int { return min(16<<i, 32) }

// tinyVAEEncoder: causal in time (the first frame is repeated t−1 times in
// front, so F = t·k+1 frames give k+1 latent frames), log2(s) stride-2 3×3
// convolutions with SiLU, the last also striding t in time, and a 1×1×1
// projection to C channels.
func tinyVAEEncoder(o TinyOptions) ([]byte, error) {
	n := newTinyNet("tiny_vae_encoder", o.Seed, streamVAEEnc, false)
	var x string
	if o.SVD { // [N, 3, H, W]: each frame as a one-frame video
		x = n.node("Unsqueeze", []string{n.input(tinyVideo, tFloat, "N", 3, "H", "W"), n.ints(2)}, nil)
	} else {
		x = n.input(tinyVideo, tFloat, "B", 3, "F", "H", "W")
	}
	t := int64(o.TemporalFactor)
	if t > 1 {
		pads := n.ints(0, 0, t-1, 0, 0, 0, 0, 0, 0, 0)
		x = n.node("Pad", []string{x, pads}, attrs{"mode": "edge"})
	}
	levels := bitsLen(o.SpatialFactor) - 1
	cin := 3
	for i := range levels {
		kt := int64(1)
		if i == levels-1 {
			kt = t
		}
		cout := vaeWidth(i)
		x = n.silu(n.conv3d(fmt.Sprintf("down.%d", i), x, cin, cout,
			[]int64{kt, 3, 3}, []int64{kt, 2, 2}, []int64{0, 1, 1, 0, 1, 1}))
		cin = cout
	}
	x = n.conv3d("proj", x, cin, o.LatentChannels, []int64{1, 1, 1}, []int64{1, 1, 1}, []int64{0, 0, 0, 0, 0, 0})
	if o.SVD {
		n.node("Squeeze", []string{x, n.ints(2)}, nil, tinyLatent)
		n.output(tinyLatent, tFloat, "N", o.LatentChannels, "h", "w")
		return n.model(tinyOpset)
	}
	n.node("Identity", []string{x}, nil, tinyLatent)
	n.output(tinyLatent, tFloat, "B", o.LatentChannels, "T", "h", "w")
	return n.model(tinyOpset)
}

// tinyVAEDecoder mirrors the encoder: a 1×1×1 projection, a transposed
// convolution upsampling t in time and 2 in space (the first t−1 output
// frames are dropped, so T latent frames give t·(T−1)+1 frames), further
// 2× spatial upsampling steps, a 3×3 convolution to RGB and Tanh.
func tinyVAEDecoder(o TinyOptions) ([]byte, error) {
	n := newTinyNet("tiny_vae_decoder", o.Seed, streamVAEDec, false)
	var x string
	if o.SVD { // [N, C, h, w]: each frame as a one-frame latent
		x = n.node("Unsqueeze", []string{n.input(tinyLatent, tFloat, "N", o.LatentChannels, "h", "w"), n.ints(2)}, nil)
	} else {
		x = n.input(tinyLatent, tFloat, "B", o.LatentChannels, "T", "h", "w")
	}
	levels := bitsLen(o.SpatialFactor) - 1
	t := int64(o.TemporalFactor)
	cin := vaeWidth(levels - 1)
	x = n.silu(n.conv3d("proj", x, o.LatentChannels, cin, []int64{1, 1, 1}, []int64{1, 1, 1}, []int64{0, 0, 0, 0, 0, 0}))
	for i := levels - 1; i >= 0; i-- {
		kt := int64(1)
		if i == levels-1 {
			kt = t
		}
		cout := vaeWidth(max(i-1, 0))
		x = n.convT3d(fmt.Sprintf("up.%d", i), x, cin, cout, []int64{kt, 2, 2})
		if kt > 1 {
			x = n.node("Slice", []string{x, n.ints(kt - 1), n.ints(math.MaxInt64), n.ints(2)}, nil)
		}
		x = n.silu(x)
		cin = cout
	}
	x = n.conv3d("out", x, cin, 3, []int64{1, 3, 3}, []int64{1, 1, 1}, []int64{0, 1, 1, 0, 1, 1})
	if o.SVD {
		n.node("Tanh", []string{n.node("Squeeze", []string{x, n.ints(2)}, nil)}, nil, tinyVideo)
		n.output(tinyVideo, tFloat, "N", 3, "H", "W")
		return n.model(tinyOpset)
	}
	n.node("Tanh", []string{x}, nil, tinyVideo)
	n.output(tinyVideo, tFloat, "B", 3, "F", "H", "W")
	return n.model(tinyOpset)
}

func bitsLen(v int) int {
	b := 0
	for ; v > 0; v >>= 1 {
		b++
	}
	return b
}

// tinyDenoiser: a diffusion transformer in the manner of Wan 2.1
// image-to-video. The noisy latent x, a first-frame mask channel and the
// image latent y are concatenated along channels, patchified 1×2×2 into
// tokens with factorised learned position embeddings (time, height,
// width); the timestep's sinusoidal embedding goes through an MLP and
// modulates every block (adaLN: shift, scale and gate for the
// self-attention and for the MLP); each block also cross-attends to the
// text; a modulated final norm and a linear head are unpatchified back to
// [B, C, T, h, w]. It predicts the flow velocity.
//
// With o.SVD it takes Stable Video Diffusion's layout: x [B·T, C, h, w] is
// reshaped to [B, T, C, h, w] (B from y) and transposed to [B, C, T, h, w],
// y [B, C, h, w] is repeated over the T frames, there is no text (no
// cross-attention) and added_time_ids [B, 3] go through a linear layer
// into the timestep embedding; the output is transposed back to
// [B·T, C, h, w]. With o.ScalarTimestep t is a scalar, expanded to [B].
// name and stream name the graph and its weights (a second expert has its
// own).
func tinyDenoiser(o TinyOptions, name string, stream uint64) ([]byte, error) {
	d, c := o.Width, o.LatentChannels
	n := newTinyNet(name, o.Seed, stream, o.Float16)
	var x, ts, ctx, y, tids, xIn string
	if o.SVD {
		x = n.inputF(tinyX, "N", c, "h", "w")
	} else {
		x = n.inputF(tinyX, "B", c, "T", "h", "w")
	}
	if o.ScalarTimestep {
		ts = n.input(tinyT, tFloat)
	} else {
		ts = n.input(tinyT, tFloat, "B")
	}
	if o.SVD {
		y = n.inputF(tinyY, "B", c, "h", "w")
		tids = n.input(tinyTimeIDs, tFloat, "B", 3)
		// [B·T, C, h, w] → [B, T, C, h, w] → [B, C, T, h, w].
		xIn = x
		xs, ys := n.node("Shape", []string{x}, nil), n.node("Shape", []string{y}, nil)
		nb := n.node("Slice", []string{xs, n.ints(0), n.ints(1), n.ints(0)}, nil)
		yb := n.node("Slice", []string{ys, n.ints(0), n.ints(1), n.ints(0)}, nil)
		hw := n.node("Slice", []string{xs, n.ints(2), n.ints(4), n.ints(0)}, nil)
		x = n.node("Reshape", []string{x, n.node("Concat", []string{yb, n.bin("Div", nb, yb), n.ints(int64(c)), hw}, attrs{"axis": 0})}, nil)
		x = n.node("Transpose", []string{x}, attrs{"perm": []int64{0, 2, 1, 3, 4}})
	} else {
		ctx = n.inputF(tinyContext, "B", "L", d)
		y = n.inputF(tinyY, "B", c, "T", "h", "w")
	}

	// Sizes.
	shp := n.node("Shape", []string{x}, nil)
	dim := func(i int64) string { return n.node("Slice", []string{shp, n.ints(i), n.ints(i + 1), n.ints(0)}, nil) }
	bDim, tDim, hDim, wDim := dim(0), dim(2), dim(3), dim(4)
	two := n.ints(2)
	h2, w2 := n.bin("Div", hDim, two), n.bin("Div", wDim, two)
	if o.SVD { // the still's latent on every frame
		y = n.node("Expand", []string{n.node("Unsqueeze", []string{y, n.ints(2)}, nil), shp}, nil)
	}
	if o.ScalarTimestep {
		ts = n.node("Expand", []string{ts, bDim}, nil)
	}

	// Mask channel: 1 on the first latent frame (the still), 0 elsewhere.
	tScalar := n.node("Squeeze", []string{tDim, n.ints(0)}, nil)
	frames := n.node("Range", []string{n.constI(nil, 0), tScalar, n.constI(nil, 1)}, nil)
	first := n.node("Cast", []string{n.bin("Equal", frames, n.constI(nil, 0))}, attrs{"to": int(tFloat)})
	first = n.node("Reshape", []string{first, n.ints(1, 1, -1, 1, 1)}, nil)
	maskShape := n.node("Concat", []string{bDim, n.ints(1), tDim, hDim, wDim}, attrs{"axis": 0})
	mask := n.node("Expand", []string{first, maskShape}, nil)
	in := n.node("Concat", []string{x, mask, y}, attrs{"axis": 1})
	cin := 2*c + 1

	// Patchify [B, Cin, T, h, w] → [B, T, h/2, w/2, Cin·4] → D.
	p := n.node("Reshape", []string{in, n.node("Concat",
		[]string{n.ints(0, int64(cin), 0), h2, two, w2, two}, attrs{"axis": 0})}, nil)
	p = n.node("Transpose", []string{p}, attrs{"perm": []int64{0, 2, 3, 5, 1, 4, 6}})
	p = n.node("Reshape", []string{p, n.ints(0, 0, 0, 0, int64(cin*4))}, nil)
	tok := n.linear("patch_embed", p, cin*4, d)

	// Factorised position embeddings, sized for the largest listed shape.
	maxT, maxH, maxW := 1, 1, 1
	for _, f := range o.Frames {
		maxT = max(maxT, (f-1)/o.TemporalFactor+1)
	}
	for _, r := range o.Resolutions {
		maxH = max(maxH, r.Height/o.SpatialFactor/2)
		maxW = max(maxW, r.Width/o.SpatialFactor/2)
	}
	posT := n.sliceRows(n.random("pos_t", 0.1, int64(maxT), int64(d)), tDim)
	posH := n.sliceRows(n.random("pos_h", 0.1, int64(maxH), int64(d)), h2)
	posW := n.sliceRows(n.random("pos_w", 0.1, int64(maxW), int64(d)), w2)
	tok = n.bin("Add", tok, n.node("Unsqueeze", []string{posT, n.ints(1, 2)}, nil))
	tok = n.bin("Add", tok, n.node("Unsqueeze", []string{posH, n.ints(1)}, nil))
	tok = n.bin("Add", tok, posW)
	tok = n.node("Reshape", []string{tok, n.ints(0, -1, int64(d))}, nil) // [B, N, D]

	// Timestep embedding: [sin, cos](t·ω_i), ω_i = 10000^(−i/(D/2)), then an MLP.
	half := d / 2
	freqs := make([]float32, half)
	for i := range freqs {
		freqs[i] = float32(math.Exp(-math.Log(10000) * float64(i) / float64(half)))
	}
	arg := n.bin("Mul", n.node("Unsqueeze", []string{ts, n.ints(1)}, nil), n.constF([]int64{1, int64(half)}, freqs...))
	temb := n.node("Concat", []string{n.node("Sin", []string{arg}, nil), n.node("Cos", []string{arg}, nil)}, attrs{"axis": 1})
	temb = n.linear("time_embed.fc2", n.silu(n.linear("time_embed.fc1", temb, d, d)), d, d)
	if o.SVD { // fps − 1, motion bucket and noise augmentation, scaled to order 1
		ids := n.bin("Mul", tids, n.constF([]int64{1, 3}, 0.1, 0.01, 10))
		temb = n.bin("Add", temb, n.linear("added_time_embed", ids, 3, d))
	}
	act := n.silu(temb)               // [B, D]
	mod := func(name string) string { // [B, 1, D]
		return n.node("Unsqueeze", []string{n.linear(name, act, d, d), n.ints(1)}, nil)
	}
	modulate := func(h, shift, scale string) string {
		return n.bin("Add", n.bin("Mul", h, n.bin("Add", scale, n.scalar(1))), shift)
	}

	for i := range o.Blocks {
		b := fmt.Sprintf("blocks.%d", i)
		shift1, scale1, gate1 := mod(b+".mod.shift1"), mod(b+".mod.scale1"), mod(b+".mod.gate1")
		shift2, scale2, gate2 := mod(b+".mod.shift2"), mod(b+".mod.scale2"), mod(b+".mod.gate2")
		h := modulate(n.layerNorm(b+".norm1", tok, d, false), shift1, scale1)
		tok = n.bin("Add", tok, n.bin("Mul", gate1, n.attention(b+".self_attn", h, h, d, o.Heads, "")))
		if ctx != "" {
			h = n.layerNorm(b+".norm2", tok, d, true)
			tok = n.bin("Add", tok, n.attention(b+".cross_attn", h, ctx, d, o.Heads, ""))
		}
		h = modulate(n.layerNorm(b+".norm3", tok, d, false), shift2, scale2)
		tok = n.bin("Add", tok, n.bin("Mul", gate2, n.mlp(b+".mlp", h, d)))
	}
	h := modulate(n.layerNorm("head.norm", tok, d, false), mod("head.mod.shift"), mod("head.mod.scale"))
	out := n.linear("head.proj", h, d, c*4) // [B, N, C·4]

	// Unpatchify [B, N, C·2·2] → [B, T, h/2, w/2, C, 2, 2] → [B, C, T, h, w].
	u := n.node("Reshape", []string{out, n.node("Concat",
		[]string{bDim, tDim, h2, w2, n.ints(int64(c), 2, 2)}, attrs{"axis": 0})}, nil)
	u = n.node("Transpose", []string{u}, attrs{"perm": []int64{0, 4, 1, 2, 5, 3, 6}})
	u = n.node("Reshape", []string{u, shp}, nil)
	if o.SVD { // back to [B·T, C, h, w]
		u = n.node("Transpose", []string{u}, attrs{"perm": []int64{0, 2, 1, 3, 4}})
		u = n.node("Reshape", []string{u, n.node("Shape", []string{xIn}, nil)}, nil)
		n.outputF(tinyV, u, "N", c, "h", "w")
		return n.model(tinyOpset)
	}
	n.outputF(tinyV, u, "B", c, "T", "h", "w")
	return n.model(tinyOpset)
}
