package model

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
	"github.com/paimeng/paimeng/inference/sample"
)

func cloneComponent(c *Component, file string) *Component {
	out := &Component{File: file, Inputs: map[string]Tensor{}, Outputs: map[string]Tensor{}}
	for k, v := range c.Inputs {
		v.Shape = append([]Dim(nil), v.Shape...)
		out.Inputs[k] = v
	}
	for k, v := range c.Outputs {
		v.Shape = append([]Dim(nil), v.Shape...)
		out.Outputs[k] = v
	}
	return out
}

// wan22Like is a two-expert manifest shaped like Wan 2.2 A14B
// image-to-video: no CLIP, a high-noise and a low-noise denoiser.
func wan22Like() *Manifest {
	m := wanLike()
	m.Name = "tiny-wan22"
	m.Components.ImageEncoder = nil
	delete(m.Components.Denoiser.Inputs, RoleImageEmbeds)
	m.Components.DenoiserLowNoise = cloneComponent(m.Components.Denoiser, "low_noise/denoiser.onnx")
	m.Scheduler.Boundary = 0.9
	m.Defaults = Defaults{Steps: 40, Guidance: 3.5, GuidanceLowNoise: 3}
	return m
}

// ltxLike is a flow manifest with LTX-Video's resolution-dependent shift.
func ltxLike() *Manifest {
	m := wanLike()
	m.Name = "tiny-ltx"
	m.Resolutions = []Resolution{{768, 512}, {512, 768}}
	m.Frames = []int{9, 121}
	m.Latent.SpatialFactor, m.Latent.TemporalFactor = 32, 8
	m.Scheduler = Scheduler{Type: SchedulerFlowEuler, TimeScale: 1000, ShiftTerminal: 0.1,
		DynamicShift: &DynamicShift{BaseShift: 0.95, MaxShift: 2.05, BaseSeqLen: 1024, MaxSeqLen: 4096}}
	m.ImageLatent = ImageLatentImage
	m.Components.ImageEncoder = nil
	d := m.Components.Denoiser
	delete(d.Inputs, RoleImageEmbeds)
	d.Inputs[RoleImageLatent] = tensor("y", Float16, "B", 4, 1, "h", "w")
	d.Inputs[RoleEncoderAttentionMask] = tensor("mask", Int64, "B", "L")
	return m
}

// svdBT is svdLike with the denoiser in Stable Video Diffusion's own
// layout: [B·F, C, h, w] latents, a scalar timestep taking c_noise.
func svdBT() *Manifest {
	m := svdLike()
	m.Latent.Layout = LayoutBTCHW
	m.Scheduler.Timestep = TimestepCNoise
	d := m.Components.Denoiser
	d.Inputs[RoleLatent] = tensor("sample", Float16, "N", 4, "h", "w")
	d.Inputs[RoleImageLatent] = tensor("image_latents", Float16, "B", 4, "h", "w")
	d.Inputs[RoleTimestep] = tensor("timestep", Float32)
	d.Outputs[RolePrediction] = tensor("out_sample", Float16, "N", 4, "h", "w")
	return m
}

func TestLoadVariants(t *testing.T) {
	needORT(t)
	// Two experts.
	p, err := Load(writePackage(t, wan22Like()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
	if p.Signatures[CompDenoiserLowNoise] == nil || p.Path(CompDenoiserLowNoise) != filepath.Join(p.Dir, "low_noise", "denoiser.onnx") {
		t.Fatalf("low-noise expert: %v at %s", p.Signatures[CompDenoiserLowNoise], p.Path(CompDenoiserLowNoise))
	}
	fc := p.Manifest.FlowConfig(0, 0)
	if fc.LowNoise == nil || fc.LowNoise.Boundary != 0.9 || fc.LowNoise.Guidance != 3 || fc.Guidance.Scale != 3.5 || fc.LowNoise.Model != nil {
		t.Fatalf("FlowConfig %+v, low noise %+v", fc, fc.LowNoise)
	}
	if fc := p.Manifest.FlowConfig(0, 2); fc.LowNoise.Guidance != 2 || fc.Guidance.Scale != 2 {
		t.Fatalf("a requested guidance sets both experts: %v and %v", fc.Guidance.Scale, fc.LowNoise.Guidance)
	}
	m := wan22Like()
	m.Defaults.GuidanceLowNoise = 0
	if g := m.GuidanceLowNoise(0); g != 3.5 {
		t.Fatalf("low-noise guidance without its own default: %v, want defaults.guidance", g)
	}
	// The experts' tensor names may differ; their signatures may not.
	m = wan22Like()
	low := m.Components.DenoiserLowNoise
	x := low.Inputs[RoleLatent]
	x.Name = "hidden"
	low.Inputs[RoleLatent] = x
	if _, err := Load(writePackage(t, m)); err != nil {
		t.Fatal(err)
	}

	// Dynamic shift.
	p, err = Load(writePackage(t, ltxLike()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
	lm := &p.Manifest
	if n := lm.Tokens(Resolution{768, 512}, 121); n != 16*16*24 {
		t.Fatalf("tokens at 768x512x121: %d, want 6144", n)
	}
	fc = lm.FlowConfig(30, 0)
	if fc.Dynamic == nil || *fc.Dynamic != (sample.DynamicShift{BaseShift: 0.95, MaxShift: 2.05, BaseSeqLen: 1024, MaxSeqLen: 4096}) ||
		fc.Shift != 0 || fc.Terminal != 0.1 || fc.TimeScale != 1000 || fc.LowNoise != nil {
		t.Fatalf("FlowConfig %+v", fc)
	}
	fc.Tokens = lm.Tokens(Resolution{768, 512}, 121)
	f, err := sample.NewFlowEuler(fc, 4, func(_ context.Context, _ []float32, _ float32, _ []sample.Branch, _ []float32) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if f.Sigma(0) != 1 || f.Sigma(29) != 0.1 || f.Sigma(30) != 0 {
		t.Fatalf("schedule %v … %v, %v", f.Sigma(0), f.Sigma(29), f.Sigma(30))
	}
	lm.Scheduler.DynamicShift.PatchSize = []int{1, 2, 2}
	if n := lm.Tokens(Resolution{768, 512}, 121); n != 16*8*12 {
		t.Fatalf("tokens with 2×2 patches: %d", n)
	}

	// SVD's layout.
	p, err = Load(writePackage(t, svdBT()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckRuntime(); err != nil {
		t.Fatal(err)
	}
	if p.Manifest.DenoiserLayout() != LayoutBTCHW || p.Manifest.EDMConfig(0, 0).Time != sample.TimeCNoise {
		t.Fatalf("layout %q, time %v", p.Manifest.DenoiserLayout(), p.Manifest.EDMConfig(0, 0).Time)
	}
	m = svdBT()
	m.Latent.Layout = "" // implied by the rank
	m.Scheduler.Timestep = TimestepSigma
	if p, err = Load(writePackage(t, m)); err != nil {
		t.Fatal(err)
	}
	if p.Manifest.DenoiserLayout() != LayoutBTCHW || p.Manifest.EDMConfig(0, 0).Time != sample.TimeSigma {
		t.Fatalf("layout %q, time %v", p.Manifest.DenoiserLayout(), p.Manifest.EDMConfig(0, 0).Time)
	}
	if l := wanLike().DenoiserLayout(); l != LayoutBCTHW {
		t.Fatalf("Wan layout %q", l)
	}
}

func TestLoadVariantErrors(t *testing.T) {
	cases := []struct {
		name        string
		base        func() *Manifest
		edit        func(t *testing.T, dir string, m *Manifest)
		file, field string
		msg         []string
	}{
		// Two experts.
		{"boundary missing", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Boundary = 0
		}, "model.json", "scheduler.boundary", []string{"missing", "denoiser_low_noise"}},
		{"boundary above 1", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Boundary = 1.2
		}, "model.json", "scheduler.boundary", []string{"1.2", "0 < boundary < 1"}},
		{"boundary negative", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Boundary = -0.5
		}, "model.json", "scheduler.boundary", []string{"-0.5", "0 < boundary < 1"}},
		{"boundary without expert", wanLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Boundary = 0.9
		}, "model.json", "scheduler.boundary", []string{"no components.denoiser_low_noise"}},
		{"low guidance without expert", wanLike, func(t *testing.T, dir string, m *Manifest) {
			m.Defaults.GuidanceLowNoise = 2
		}, "model.json", "defaults.guidance_low_noise", []string{"no components.denoiser_low_noise"}},
		{"low guidance below 1", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Defaults.GuidanceLowNoise = 0.5
		}, "model.json", "defaults.guidance_low_noise", []string{"0.5", ">= 1"}},
		{"expert file missing", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, "low_noise", "denoiser.onnx"))
		}, "low_noise/denoiser.onnx", "components.denoiser_low_noise.file", []string{"missing"}},
		{"expert is the denoiser's file", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Components.DenoiserLowNoise.File = "./denoiser.onnx"
		}, "model.json", "components.denoiser_low_noise.file", []string{"also the file of components.denoiser"}},
		{"expert dtype", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Components.DenoiserLowNoise.Inputs[RoleLatent] = tensor("x", Float32, "B", 4, "T", "h", "w")
		}, "model.json", "components.denoiser_low_noise.inputs.latent.dtype", []string{"float32", "float16", "same tensors"}},
		{"expert shape", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Components.DenoiserLowNoise.Outputs[RolePrediction] = tensor("v", Float16, "B", 4, "T", "h", 8)
		}, "model.json", "components.denoiser_low_noise.outputs.prediction.shape", []string{"[B 4 T h 8]", "[B 4 T h w]"}},
		{"expert lacks a role", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			delete(m.Components.DenoiserLowNoise.Inputs, RoleImageLatent)
		}, "model.json", "components.denoiser_low_noise.inputs.image_latent", []string{"missing"}},
		{"expert has another role", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			m.Components.DenoiserLowNoise.Inputs[RoleAddedTimeIDs] = tensor("ids", Float32, "B", 3)
		}, "model.json", "components.denoiser_low_noise.inputs.added_time_ids", []string{"no such input"}},
		{"expert graph disagrees", wan22Like, func(t *testing.T, dir string, m *Manifest) {
			c := cloneComponent(m.Components.DenoiserLowNoise, "")
			c.Inputs[RoleTimestep] = tensor("time", Float32, "B")
			onnxModel(t, filepath.Join(dir, "low_noise", "denoiser.onnx"), 17, c)
		}, "denoiser.onnx", "components.denoiser_low_noise.inputs.timestep.name", []string{`no input "t"`, `"time"`}},
		{"expert of an edm model", svdLike, func(t *testing.T, dir string, m *Manifest) {
			m.Components.DenoiserLowNoise = cloneComponent(m.Components.Denoiser, "low.onnx")
		}, "model.json", "components.denoiser_low_noise", []string{`needs kind "flow"`}},
		{"boundary on edm", svdLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Boundary = 0.5
		}, "model.json", "scheduler.boundary", []string{`belongs to "flow_euler"`}},

		// Dynamic shift.
		{"shift and dynamic shift", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Shift = 3
		}, "model.json", "scheduler.shift", []string{"dynamic_shift", "one or the other"}},
		{"dynamic seq lens", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.DynamicShift.MaxSeqLen = 1024
		}, "model.json", "scheduler.dynamic_shift.max_seq_len", []string{"above base_seq_len 1024"}},
		{"dynamic base len", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.DynamicShift.BaseSeqLen = 0
		}, "model.json", "scheduler.dynamic_shift.base_seq_len", []string{">= 1"}},
		{"dynamic patch", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.DynamicShift.PatchSize = []int{1, 2}
		}, "model.json", "scheduler.dynamic_shift.patch_size", []string{"[t, h, w]"}},
		{"terminal", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.ShiftTerminal = 1
		}, "model.json", "scheduler.shift_terminal", []string{"0 < shift_terminal < 1"}},
		{"dynamic shift on edm", svdLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.DynamicShift = &DynamicShift{BaseShift: 0.5, MaxShift: 1, BaseSeqLen: 256, MaxSeqLen: 4096}
		}, "model.json", "scheduler.dynamic_shift", []string{`belongs to "flow_euler"`}},
		{"edm field on flow", wanLike, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Timestep = TimestepCNoise
		}, "model.json", "scheduler.timestep", []string{`belongs to "edm_euler"`}},
		{"unknown dynamic field", ltxLike, func(t *testing.T, dir string, m *Manifest) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			b = []byte(strings.Replace(string(b), `"base_shift"`, `"base_len": 1, "base_shift"`, 1))
			os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
		}, "model.json", "base_len", []string{"unknown field"}},

		// Layouts and timesteps.
		{"unknown layout", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Latent.Layout = "btchw"
		}, "model.json", "latent.layout", []string{`"btchw"`, `"bt_chw"`}},
		{"layout disagrees with rank", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Latent.Layout = LayoutBCTHW
		}, "model.json", "components.denoiser.inputs.latent.shape", []string{"rank 4, want 5", `latent.layout is "bcthw"`}},
		{"prediction rank", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Latent.Layout = ""
			m.Components.Denoiser.Outputs[RolePrediction] = tensor("out_sample", Float16, "B", 4, "T", "h", "w")
		}, "model.json", "components.denoiser.outputs.prediction.shape", []string{"rank 5, want 4", "implies"}},
		{"image latent rank", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Components.Denoiser.Inputs[RoleImageLatent] = tensor("image_latents", Float16, "B", 4, 1, "h", "w")
		}, "model.json", "components.denoiser.inputs.image_latent.shape", []string{"rank 5, want 4"}},
		{"vae ranks", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Components.VAEEncoder.Outputs[RoleLatent] = tensor("latent", Float32, "B", 4, "T", "h", "w")
		}, "model.json", "components.vae_encoder.outputs.latent.shape", []string{"rank 5", "inputs.image has rank 4"}},
		{"decoder ranks", wanLike, func(t *testing.T, dir string, m *Manifest) {
			m.Components.VAEDecoder.Outputs[RoleVideo] = tensor("video", Float32, "N", 3, "H", "W")
		}, "model.json", "components.vae_decoder.outputs.video.shape", []string{"rank 4", "inputs.latent has rank 5"}},
		{"per-frame vae with temporal factor", wanLike, func(t *testing.T, dir string, m *Manifest) {
			m.Components.VAEEncoder.Inputs[RoleImage] = tensor("video", Float32, "N", 3, "H", "W")
			m.Components.VAEEncoder.Outputs[RoleLatent] = tensor("latent", Float32, "N", 4, "h", "w")
		}, "model.json", "components.vae_encoder.inputs.image.shape", []string{"temporal_factor 1, not 4"}},
		{"timestep semantics", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Timestep = "t_noise"
		}, "model.json", "scheduler.timestep", []string{`"t_noise"`, `"c_noise"`}},
		{"flow field on edm", svdBT, func(t *testing.T, dir string, m *Manifest) {
			m.Scheduler.Shift = 3
		}, "model.json", "scheduler.shift", []string{`belongs to "flow_euler"`}},
		{"scalar timestep graph is a vector", svdBT, func(t *testing.T, dir string, m *Manifest) {
			c := cloneComponent(m.Components.Denoiser, "")
			c.Inputs[RoleTimestep] = tensor("timestep", Float32, "B")
			onnxModel(t, filepath.Join(dir, "denoiser.onnx"), 17, c)
		}, "denoiser.onnx", "components.denoiser.inputs.timestep.shape", []string{"rank 0", "rank 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.base()
			dir := writePackage(t, m)
			c.edit(t, dir, m)
			if c.field != "base_len" {
				writeManifest(t, dir, m)
			}
			_, err := Load(dir)
			wantErr(t, err, c.file, c.field, c.msg...)
			t.Log(err)
		})
	}
}

// scalarModel writes a model computing y = t·x for a scalar t and x of
// shape [2] (x named xName); with external, its constant 1 (multiplied in)
// lives in an external data file.
func scalarModel(t *testing.T, path, xName string, external bool) {
	t.Helper()
	vi := func(name string, dims ...int64) *pb.ValueInfoProto {
		shape := &pb.TensorShapeProto{}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &pb.ValueInfoProto{Name: name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
			TensorType: &pb.TypeProto_Tensor{ElemType: Float32.ONNX(), Shape: shape}}}}
	}
	one := &pb.TensorProto{Name: "one", DataType: Float32.ONNX(), Dims: []int64{1}, FloatData: []float32{1}}
	if external {
		one.FloatData = nil
		pb.SetExternalData(one, "one.bin", 0, 4)
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "one.bin"), []byte{0, 0, 0x80, 0x3f}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := &pb.GraphProto{Name: "scalar",
		Input:       []*pb.ValueInfoProto{vi("t"), vi(xName, 2)},
		Output:      []*pb.ValueInfoProto{vi("y", 2)},
		Initializer: []*pb.TensorProto{one},
		Node: []*pb.NodeProto{
			{OpType: "Mul", Input: []string{"t", xName}, Output: []string{"tx"}, Name: "mul"},
			{OpType: "Mul", Input: []string{"tx", "one"}, Output: []string{"y"}, Name: "mul_one"},
		}}
	m := &pb.ModelProto{IrVersion: 9, ProducerName: "test", OpsetImport: []*pb.OperatorSetIdProto{{Version: 17}}, Graph: g}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// VectorizeScalarInput turns a scalar input into a [1] input that the
// graph reshapes back: ONNX Runtime runs the result and computes what the
// scalar graph computes.
func TestVectorizeScalarInput(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	scalarModel(t, path, "t_1d", false)
	data, vec, ok, err := VectorizeScalarInput(path, "t")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if vec != "t_1d_2" { // "t_1d" is taken
		t.Fatalf("vector input %q", vec)
	}
	in, out, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, i := range in {
		if i.Name == vec {
			found = len(i.Dimensions) == 1 && i.Dimensions[0] == 1
		}
		if i.Name == "t" {
			t.Fatal("scalar input still there")
		}
	}
	if !found || len(in) != 2 || len(out) != 1 {
		t.Fatalf("inputs %v outputs %v", in, out)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{vec, "t_1d"}, []string{"y"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	tv, _ := ort.NewTensor(ort.NewShape(1), []float32{3})
	xv, _ := ort.NewTensor(ort.NewShape(2), []float32{1, -2})
	defer tv.Destroy()
	defer xv.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{tv, xv}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	y := outs[0].(*ort.Tensor[float32])
	if sh := y.GetShape(); len(sh) != 1 || sh[0] != 2 || y.GetData()[0] != 3 || y.GetData()[1] != -6 {
		t.Fatalf("y %v %v, want [3 -6]", sh, y.GetData())
	}

	// A vector input needs nothing; a missing one is an error.
	if _, _, ok, err := VectorizeScalarInput(path, "t_1d"); ok || err != nil {
		t.Fatalf("vector input: %v %v", ok, err)
	}
	if _, _, _, err := VectorizeScalarInput(path, "u"); err == nil {
		t.Fatal("missing input accepted")
	}
	// External data stays external: the result names the same file,
	// relative to the original's folder.
	ext := filepath.Join(dir, "ext.onnx")
	scalarModel(t, ext, "x", true)
	if _, _, err := ort.GetInputOutputInfo(ext); err != nil {
		t.Fatal(err)
	}
	data, vec, ok, err = VectorizeScalarInput(ext, "t")
	if err != nil || !ok {
		t.Fatalf("external data: %v %v", ok, err)
	}
	sig, err := ParseSignature(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig.ExternalData) != 1 || sig.ExternalData[0] != "one.bin" || len(sig.Inputs) != 2 || sig.Inputs[0].Name != vec || len(sig.Inputs[0].Shape) != 1 {
		t.Fatalf("rewritten signature %+v", sig)
	}
}
