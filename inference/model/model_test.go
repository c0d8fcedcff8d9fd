package model

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
)

var (
	ortOnce sync.Once
	ortErr  error
)

// needORT initialises ONNX Runtime from PAIMENG_ORT_LIBRARY, or from the
// repository's .cache when the variable is unset (make test sets it).
func needORT(t *testing.T) {
	t.Helper()
	lib := os.Getenv("PAIMENG_ORT_LIBRARY")
	if lib == "" {
		lib, _ = filepath.Abs("../../.cache/ort/libonnxruntime.so.1")
		if _, err := os.Stat(lib); err != nil {
			t.Fatal("PAIMENG_ORT_LIBRARY not set: run make test")
		}
	}
	ortOnce.Do(func() {
		if ort.IsInitialized() {
			return
		}
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment(ort.WithLogLevelError())
	})
	if ortErr != nil {
		t.Fatal(ortErr)
	}
}

// onnxModel writes a model whose declared inputs are graph inputs and whose
// outputs are constants of the declared dtype with every dimension 1.
func onnxModel(t *testing.T, path string, opset int64, c *Component) {
	t.Helper()
	vi := func(tt Tensor) *pb.ValueInfoProto {
		shape := &pb.TensorShapeProto{}
		for _, d := range tt.Shape {
			dim := &pb.TensorShapeProto_Dimension{}
			if d.Fixed() {
				dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			} else {
				dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: d.Name}
			}
			shape.Dim = append(shape.Dim, dim)
		}
		return &pb.ValueInfoProto{Name: tt.Name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
			TensorType: &pb.TypeProto_Tensor{ElemType: tt.DType.ONNX(), Shape: shape}}}}
	}
	g := &pb.GraphProto{Name: "test"}
	for _, role := range sortedKeys(c.Inputs) {
		g.Input = append(g.Input, vi(c.Inputs[role]))
	}
	for _, role := range sortedKeys(c.Outputs) {
		tt := c.Outputs[role]
		g.Output = append(g.Output, vi(tt))
		dims := make([]int64, len(tt.Shape))
		size := 1
		for i, d := range tt.Shape {
			dims[i] = 1
			if d.Fixed() {
				dims[i] = d.Size
				size *= int(d.Size)
			}
		}
		width := map[DType]int{Float32: 4, Float16: 2, Int64: 8, Int32: 4}[tt.DType]
		init := &pb.TensorProto{Name: tt.Name + "_value", DataType: tt.DType.ONNX(), Dims: dims, RawData: make([]byte, size*width)}
		g.Initializer = append(g.Initializer, init)
		g.Node = append(g.Node, &pb.NodeProto{OpType: "Identity", Input: []string{init.Name}, Output: []string{tt.Name}, Name: tt.Name + "_node"})
	}
	m := &pb.ModelProto{IrVersion: 9, ProducerName: "test", OpsetImport: []*pb.OperatorSetIdProto{{Version: opset}}, Graph: g}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tensor(name string, dtype DType, dims ...any) Tensor {
	t := Tensor{Name: name, DType: dtype}
	for _, d := range dims {
		switch v := d.(type) {
		case int:
			t.Shape = append(t.Shape, Dim{Size: int64(v)})
		case string:
			t.Shape = append(t.Shape, Dim{Name: v})
		}
	}
	return t
}

// wanLike is a small flow manifest shaped like Wan 2.1 image-to-video.
func wanLike() *Manifest {
	return &Manifest{
		Name: "tiny-wan", Version: "1", Kind: KindFlow, FPS: 16,
		Resolutions: []Resolution{{64, 32}, {32, 64}},
		Frames:      []int{1, 5, 9},
		Latent: Latent{Channels: 4, SpatialFactor: 8, TemporalFactor: 4, ScalingFactor: 1,
			Mean: []float64{0.1, -0.2, 0.3, 0}, Std: []float64{2, 1.5, 1, 0.5}},
		Scheduler:       Scheduler{Type: SchedulerFlowEuler, Shift: 5, TimeScale: 1000},
		Defaults:        Defaults{Steps: 40, Guidance: 5},
		BatchedGuidance: true,
		ImageLatent:     ImageLatentVideo,
		Text:            &Text{Tokenizer: TokenizerUnigram, File: "tokenizer/tokenizer.json", MaxLength: 16},
		Components: Components{
			TextEncoder: &Component{File: "text_encoder.onnx",
				Inputs: map[string]Tensor{
					RoleInputIDs:      tensor("input_ids", Int64, "B", "L"),
					RoleAttentionMask: tensor("attention_mask", Int64, "B", "L")},
				Outputs: map[string]Tensor{RoleHiddenStates: tensor("last_hidden_state", Float32, "B", "L", 8)}},
			ImageEncoder: &Component{File: "image_encoder.onnx",
				Inputs:  map[string]Tensor{RoleImage: tensor("pixel_values", Float32, "B", 3, 32, 32)},
				Outputs: map[string]Tensor{RoleImageEmbeds: tensor("image_embeds", Float32, "B", 5, 8)}},
			VAEEncoder: &Component{File: "vae_encoder.onnx",
				Inputs:  map[string]Tensor{RoleImage: tensor("video", Float32, "B", 3, "F", "H", "W")},
				Outputs: map[string]Tensor{RoleLatent: tensor("latent", Float32, "B", 4, "T", "h", "w")}},
			Denoiser: &Component{File: "denoiser.onnx",
				Inputs: map[string]Tensor{
					RoleLatent:              tensor("x", Float16, "B", 4, "T", "h", "w"),
					RoleTimestep:            tensor("t", Float32, "B"),
					RoleEncoderHiddenStates: tensor("context", Float16, "B", "L", 8),
					RoleImageLatent:         tensor("y", Float16, "B", 4, "T", "h", "w"),
					RoleImageEmbeds:         tensor("clip_fea", Float16, "B", 5, 8)},
				Outputs: map[string]Tensor{RolePrediction: tensor("v", Float16, "B", 4, "T", "h", "w")}},
			VAEDecoder: &Component{File: "vae_decoder.onnx",
				Inputs:  map[string]Tensor{RoleLatent: tensor("latent", Float32, "B", 4, "T", "h", "w")},
				Outputs: map[string]Tensor{RoleVideo: tensor("video", Float32, "B", 3, "F", "H", "W")}},
		},
	}
}

// writePackage writes m and its ONNX components and tokenizer into a new
// folder; the ONNX files follow m's declarations.
func writePackage(t *testing.T, m *Manifest) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range componentSpecs {
		if c := m.Components.get(s.name); c != nil {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, c.File)), 0o755); err != nil {
				t.Fatal(err)
			}
			onnxModel(t, filepath.Join(dir, c.File), 17, c)
		}
	}
	if m.Text != nil {
		src := "testdata/tokenizer_unigram.json"
		if m.Text.Tokenizer == TokenizerBPE {
			src = "testdata/tokenizer_bpe.json"
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(m.Text.File))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, dir, m)
	return dir
}

func writeManifest(t *testing.T, dir string, m *Manifest) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadValid(t *testing.T) {
	m := wanLike()
	dir := writePackage(t, m)
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tokenizer == nil || len(p.Tokenizer.Encode("a cat")) == 0 {
		t.Fatal("tokenizer not loaded")
	}
	if got := p.Signatures[CompDenoiser].Opsets[""]; got != 17 {
		t.Fatalf("denoiser opset %d, want 17", got)
	}
	if got := p.Manifest.Latent.Frames(9); got != 3 {
		t.Fatalf("latent frames of 9: %d, want 3", got)
	}
	if !p.Manifest.Supports(Resolution{64, 32}, 5) || p.Manifest.Supports(Resolution{64, 64}, 5) {
		t.Fatal("Supports")
	}
	fc := p.Manifest.FlowConfig(0, 0)
	if fc.Steps != 40 || fc.Shift != 5 || fc.TimeScale != 1000 || fc.Guidance.Scale != 5 || !fc.Guidance.Batched {
		t.Fatalf("FlowConfig %+v", fc)
	}
	if s := p.Manifest.Latent.Scale(3); s != 2 {
		t.Fatalf("Scale(3) = %v, want 2", s)
	}
	needORT(t)
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
}

// svdLike is an EDM manifest without text, shaped like Stable Video
// Diffusion: CLIP image embedding plus the still's latent.
func svdLike() *Manifest {
	m := wanLike()
	m.Name, m.Kind = "tiny-svd", KindEDM
	m.Frames = []int{14, 25}
	m.Latent = Latent{Channels: 4, SpatialFactor: 8, TemporalFactor: 1, ScalingFactor: 0.18215}
	m.Scheduler = Scheduler{Type: SchedulerEDMEuler, SigmaMin: 0.002, SigmaMax: 700, Rho: 7, SigmaData: 1, Prediction: "v"}
	m.Defaults = Defaults{Steps: 25, Guidance: 3}
	m.ImageLatent = ImageLatentImage
	m.Text = nil
	m.Components.TextEncoder = nil
	m.Components.VAEEncoder.Inputs[RoleImage] = tensor("image", Float32, "N", 3, "H", "W")
	m.Components.VAEEncoder.Outputs[RoleLatent] = tensor("latent", Float32, "N", 4, "h", "w")
	m.Components.VAEDecoder.Inputs[RoleLatent] = tensor("latent", Float32, "N", 4, "h", "w")
	m.Components.VAEDecoder.Outputs[RoleVideo] = tensor("frames", Float32, "N", 3, "H", "W")
	d := m.Components.Denoiser
	delete(d.Inputs, RoleEncoderHiddenStates)
	d.Inputs[RoleAddedTimeIDs] = tensor("added_time_ids", Float32, "B", 3)
	return m
}

func TestLoadValidEDM(t *testing.T) {
	p, err := Load(writePackage(t, svdLike()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Tokenizer != nil {
		t.Fatal("tokenizer without text")
	}
	ec := p.Manifest.EDMConfig(10, 0)
	if ec.Steps != 10 || ec.SigmaMax != 700 || ec.Guidance.Scale != 3 || ec.Network.String() != "v" {
		t.Fatalf("EDMConfig %+v", ec)
	}
	needORT(t)
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err is an *Error about file (by suffix) and field,
// and that its message contains each of msg.
func wantErr(t *testing.T, err error, file, field string, msg ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if !strings.HasSuffix(e.File, file) || e.Field != field {
		t.Fatalf("error %q: file %q field %q, want file *%s field %q", err, e.File, e.Field, file, field)
	}
	for _, s := range msg {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		// edit changes the package after it was written to match the
		// manifest; it may rewrite the manifest.
		edit        func(t *testing.T, dir string, m *Manifest)
		file, field string
		msg         []string
	}{
		{"no manifest", func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, ManifestFile))
		}, "model.json", "", []string{"missing"}},
		{"unknown field", func(t *testing.T, dir string, m *Manifest) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			b = []byte(strings.Replace(string(b), `"fps"`, `"colour": 1, "fps"`, 1))
			os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
		}, "model.json", "colour", []string{"unknown field"}},
		{"unknown nested field", func(t *testing.T, dir string, m *Manifest) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			b = []byte(strings.Replace(string(b), `"channels"`, `"chanels": 4, "channels"`, 1))
			os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
		}, "model.json", "chanels", []string{"unknown field"}},
		{"wrong json type", func(t *testing.T, dir string, m *Manifest) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			b = []byte(strings.Replace(string(b), `"fps": 16`, `"fps": "16"`, 1))
			os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
		}, "model.json", "fps", nil},
		{"missing denoiser file", func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, "denoiser.onnx"))
		}, "denoiser.onnx", "components.denoiser.file", []string{"missing"}},
		{"missing tokenizer", func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, "tokenizer", "tokenizer.json"))
		}, "tokenizer.json", "text.file", []string{"missing"}},
		{"not onnx", func(t *testing.T, dir string, m *Manifest) {
			os.WriteFile(filepath.Join(dir, "vae_decoder.onnx"), []byte("PK\x03\x04 not a model"), 0o644)
		}, "vae_decoder.onnx", "components.vae_decoder.file", []string{"invalid ONNX"}},
		{"wrong tensor name", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs[RoleTimestep] = tensor("timestep", Float32, "B")
			writeManifest(t, dir, m)
		}, "denoiser.onnx", "components.denoiser.inputs.timestep.name", []string{`no input "timestep"`, `"t"`}},
		{"wrong dtype", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs[RoleLatent] = tensor("x", Float32, "B", 4, "T", "h", "w")
			writeManifest(t, dir, m)
		}, "denoiser.onnx", "components.denoiser.inputs.latent.dtype", []string{"float32", "float16"}},
		{"wrong rank", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs[RoleTimestep] = tensor("t", Float32)
			writeManifest(t, dir, m)
		}, "denoiser.onnx", "components.denoiser.inputs.timestep.shape", []string{"rank 0", "rank 1"}},
		{"wrong fixed dim", func(t *testing.T, dir string, m *Manifest) {
			m.Components.TextEncoder.Outputs[RoleHiddenStates] = tensor("last_hidden_state", Float32, "B", "L", 16)
			writeManifest(t, dir, m)
		}, "text_encoder.onnx", "components.text_encoder.outputs.hidden_states.shape[2]", []string{"16", "8"}},
		{"undeclared graph input", func(t *testing.T, dir string, m *Manifest) {
			delete(m.Components.TextEncoder.Inputs, RoleAttentionMask)
			writeManifest(t, dir, m)
		}, "text_encoder.onnx", "components.text_encoder.inputs", []string{`"attention_mask" is not declared`}},
		{"unsupported opset", func(t *testing.T, dir string, m *Manifest) {
			onnxModel(t, filepath.Join(dir, "vae_encoder.onnx"), MaxOpset+1, m.Components.VAEEncoder)
		}, "vae_encoder.onnx", "components.vae_encoder.file", []string{"opset", "ONNX Runtime 1.30"}},
		{"old opset", func(t *testing.T, dir string, m *Manifest) {
			onnxModel(t, filepath.Join(dir, "vae_encoder.onnx"), 6, m.Components.VAEEncoder)
		}, "vae_encoder.onnx", "components.vae_encoder.file", []string{"opset 6"}},
		{"tokenizer kind mismatch", func(t *testing.T, dir string, m *Manifest) {
			m.Text.Tokenizer = TokenizerBPE
			writeManifest(t, dir, m)
		}, "tokenizer.json", "text.tokenizer", []string{`"bpe"`, `"unigram"`}},
		{"frames not 4k+1", func(t *testing.T, dir string, m *Manifest) {
			m.Frames = []int{5, 8}
			writeManifest(t, dir, m)
		}, "model.json", "frames[1]", []string{"8 frames", "4k+1"}},
		{"resolution not multiple of spatial factor", func(t *testing.T, dir string, m *Manifest) {
			m.Resolutions = []Resolution{{60, 32}}
			writeManifest(t, dir, m)
		}, "model.json", "resolutions[0]", []string{"60x32", "spatial_factor 8"}},
		{"bad kind", func(t *testing.T, dir string, m *Manifest) {
			m.Kind = "ddpm"
			writeManifest(t, dir, m)
		}, "model.json", "kind", []string{`"ddpm"`}},
		{"scheduler of the other kind", func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler = Scheduler{Type: SchedulerEDMEuler, Prediction: "v"}
			writeManifest(t, dir, m)
		}, "model.json", "scheduler.type", []string{"edm"}},
		{"mean without std", func(t *testing.T, dir string, m *Manifest) {
			m.Latent.Std = nil
			writeManifest(t, dir, m)
		}, "model.json", "latent.std", nil},
		{"unknown role", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs["mask"] = tensor("mask", Float32, "B")
			writeManifest(t, dir, m)
		}, "model.json", "components.denoiser.inputs.mask", []string{"unknown role"}},
		{"missing component", func(t *testing.T, dir string, m *Manifest) {
			m.Components.VAEDecoder = nil
			writeManifest(t, dir, m)
		}, "model.json", "components.vae_decoder", []string{"missing"}},
		{"unknown dtype", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs[RoleTimestep] = Tensor{Name: "t", DType: "float8", Shape: []Dim{{Name: "B"}}}
			writeManifest(t, dir, m)
		}, "model.json", "components.denoiser.inputs.timestep.dtype", []string{"float8"}},
		{"latent channels disagree", func(t *testing.T, dir string, m *Manifest) {
			m.Latent.Channels = 16
			m.Latent.Mean, m.Latent.Std = nil, nil
			writeManifest(t, dir, m)
		}, "model.json", "components.denoiser.inputs.latent.shape", []string{"latent.channels is 16"}},
		{"path outside package", func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.File = "../denoiser.onnx"
			writeManifest(t, dir, m)
		}, "model.json", "components.denoiser.file", []string{"leaves the package folder"}},
		{"image latent mode missing", func(t *testing.T, dir string, m *Manifest) {
			m.ImageLatent = ""
			writeManifest(t, dir, m)
		}, "model.json", "image_latent", []string{"missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := wanLike()
			dir := writePackage(t, m)
			c.edit(t, dir, m)
			_, err := Load(dir)
			wantErr(t, err, c.file, c.field, c.msg...)
		})
	}
}

// TestCheckRuntime checks the declared tensors through ONNX Runtime.
func TestCheckRuntime(t *testing.T) {
	needORT(t)
	p, err := Load(writePackage(t, wanLike()))
	if err != nil {
		t.Fatal(err)
	}
	p.Manifest.Components.Denoiser.Inputs[RoleImageEmbeds] = tensor("clip_fea", Float32, "B", 5, 8)
	wantErr(t, p.CheckRuntime(), "denoiser.onnx", "components.denoiser.inputs.image_embeds.dtype", []string{"float32", "float16"}...)
	p.Manifest.Components.Denoiser.Inputs[RoleImageEmbeds] = tensor("clip_fea", Float16, "B", 8)
	wantErr(t, p.CheckRuntime(), "denoiser.onnx", "components.denoiser.inputs.image_embeds.shape", "rank 2")
	p.Manifest.Components.Denoiser.Inputs[RoleImageEmbeds] = tensor("clip", Float16, "B", 5, 8)
	wantErr(t, p.CheckRuntime(), "denoiser.onnx", "components.denoiser.inputs.image_embeds.name", `"clip"`)
}

// TestOpsetRange checks that ONNX Runtime loads the accepted opset range
// and refuses the first opset above it.
func TestOpsetRange(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	c := wanLike().Components.VAEDecoder
	path := filepath.Join(dir, "m.onnx")
	for _, v := range []int64{MinOpset, MaxOpset} {
		onnxModel(t, path, v, c)
		if _, _, err := ort.GetInputOutputInfo(path); err != nil {
			t.Fatalf("opset %d: %v", v, err)
		}
	}
	onnxModel(t, path, MaxOpset+1, c)
	if _, _, err := ort.GetInputOutputInfo(path); err == nil {
		t.Fatalf("ONNX Runtime loads opset %d: raise MaxOpset", MaxOpset+1)
	}
}

// TestExternalData moves the decoder's constant into an external weight
// file: Load requires the file, and ONNX Runtime reads it.
func TestExternalData(t *testing.T) {
	m := wanLike()
	dir := writePackage(t, m)
	path := filepath.Join(dir, "vae_decoder.onnx")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mp pb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	init := mp.Graph.Initializer[0]
	data := init.RawData
	init.RawData = nil
	pb.SetExternalData(init, "weights/vae_decoder.bin", 0, len(data))
	if b, err = proto.Marshal(&mp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	_, err = Load(dir)
	wantErr(t, err, "weights/vae_decoder.bin", "components.vae_decoder.file", "external data file missing")

	if err := os.MkdirAll(filepath.Join(dir, "weights"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "weights", "vae_decoder.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Signatures[CompVAEDecoder].ExternalData; len(got) != 1 || got[0] != "weights/vae_decoder.bin" {
		t.Fatalf("external data %q", got)
	}
	needORT(t)
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
}

// text.file may be a SentencePiece model file (spiece.model, as T5 and
// umT5 checkpoints ship it): Load reads it as a unigram tokenizer, and a
// manifest that calls it bpe is refused.
func TestSentencePieceTokenizerFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pkg")
	if err := os.CopyFS(dir, os.DirFS("../testdata/torch-tiny")); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Manifest.Text.File != "tokenizer/spiece.model" || p.Tokenizer == nil || p.Tokenizer.ModelType() != TokenizerUnigram {
		t.Fatalf("text %+v, tokenizer %v", p.Manifest.Text, p.Tokenizer)
	}
	if ids := p.Tokenizer.Encode(""); len(ids) != 1 || ids[0] != 1 {
		t.Errorf(`Encode("") = %v, want [1] (</s>)`, ids)
	}
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), `"tokenizer": "unigram"`, `"tokenizer": "bpe"`, 1)
	if bad == string(data) {
		t.Fatal("manifest has no unigram tokenizer")
	}
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir)
	wantErr(t, err, "tokenizer/spiece.model", "text.tokenizer", `manifest says "bpe"`, `"unigram"`)
}
