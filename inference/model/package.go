package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/paimeng/paimeng/inference/sample"
	"github.com/paimeng/paimeng/inference/tokenize"
)

// Package is a loaded and validated model package.
type Package struct {
	// Dir is the package folder.
	Dir string
	// Manifest is the decoded model.json.
	Manifest Manifest
	// Tokenizer encodes prompts; nil when the model has no text encoder.
	Tokenizer *tokenize.Tokenizer
	// Signatures holds the header of each present component's ONNX file,
	// by component name.
	Signatures map[string]*Signature
}

// Load reads model.json from dir and validates the package: the manifest
// (strictly: unknown fields are errors), the presence of every component,
// tokenizer and external weight file, each component's ONNX header (a
// model with a graph, opsets that ONNX Runtime 1.30 runs) and each declared
// tensor against the graph's inputs and outputs (name, dtype, rank, fixed
// dimensions), and that the tokenizer loads and is of the declared kind.
// Every graph input must be declared, since the engine feeds only what the
// manifest names.
//
// Load reads headers only, so it is cheap even for models of tens of
// gigabytes, and needs no ONNX Runtime. CheckRuntime repeats the tensor
// check through ONNX Runtime itself.
//
// Errors are *Error values naming the file and the manifest field.
func Load(dir string) (*Package, error) {
	mpath := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(mpath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: mpath, Msg: "missing"}
		}
		return nil, &Error{File: mpath, Msg: "unreadable", Err: err}
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, &Error{File: mpath, Field: jsonField(err), Msg: "invalid manifest", Err: err}
	}
	if err := m.validate(mpath); err != nil {
		return nil, err
	}
	p := &Package{Dir: dir, Manifest: *m, Signatures: map[string]*Signature{}}

	if t := m.Text; t != nil {
		tpath := filepath.Join(dir, filepath.FromSlash(t.File))
		tok, kind, err := loadTokenizer(tpath)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &Error{File: tpath, Field: "text.file", Msg: "missing"}
			}
			return nil, &Error{File: tpath, Field: "text.file", Msg: "tokenizer does not load", Err: err}
		}
		if kind != t.Tokenizer {
			return nil, &Error{File: tpath, Field: "text.tokenizer", Msg: fmt.Sprintf("manifest says %q but the file holds a %q model", t.Tokenizer, kind)}
		}
		p.Tokenizer = tok
	}

	for _, spec := range componentSpecs {
		c := m.Components.get(spec.name)
		if c == nil {
			continue
		}
		field := "components." + spec.name
		cpath := p.Path(spec.name)
		sig, err := ReadSignature(cpath)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &Error{File: cpath, Field: field + ".file", Msg: "missing"}
			}
			return nil, &Error{File: cpath, Field: field + ".file", Msg: "invalid ONNX file", Err: err}
		}
		if err := checkOpsets(sig.Opsets); err != nil {
			return nil, &Error{File: cpath, Field: field + ".file", Msg: err.Error()}
		}
		for _, loc := range sig.ExternalData {
			if err := checkRelPath(loc); err != nil {
				return nil, &Error{File: cpath, Field: field + ".file", Msg: "external data location " + err.Error()}
			}
			dpath := filepath.Join(filepath.Dir(cpath), filepath.FromSlash(loc))
			if _, err := os.Stat(dpath); err != nil {
				return nil, &Error{File: dpath, Field: field + ".file", Msg: "external data file missing", Err: err}
			}
		}
		if err := checkTensors(cpath, field, c, sig.Inputs, sig.Outputs, true); err != nil {
			return nil, err
		}
		p.Signatures[spec.name] = sig
	}
	return p, nil
}

// Path returns the path of a component's ONNX file, or "" when the
// package has no such component.
func (p *Package) Path(component string) string {
	c := p.Manifest.Components.get(component)
	if c == nil {
		return ""
	}
	return filepath.Join(p.Dir, filepath.FromSlash(c.File))
}

// Component returns a component by name (CompDenoiser, ...), or nil.
func (p *Package) Component(name string) *Component { return p.Manifest.Components.get(name) }

// CheckRuntime opens each component with ONNX Runtime and checks the
// declared tensors against the inputs and outputs the runtime reports.
// ONNX Runtime must be initialised (inference.InitORT). It builds a
// temporary session per component, which loads the weights: use it in
// operator checks, or check the engine's own sessions with CheckIO.
func (p *Package) CheckRuntime() error {
	if !ort.IsInitialized() {
		return errors.New("model: ONNX Runtime not initialized")
	}
	for _, spec := range componentSpecs {
		if p.Component(spec.name) == nil {
			continue
		}
		cpath := p.Path(spec.name)
		in, out, err := ort.GetInputOutputInfo(cpath)
		if err != nil {
			return &Error{File: cpath, Field: "components." + spec.name + ".file", Msg: "ONNX Runtime cannot load the model", Err: err}
		}
		if err := p.CheckIO(spec.name, in, out); err != nil {
			return err
		}
	}
	return nil
}

// CheckIO checks a component's declared tensors against inputs and outputs
// reported by ONNX Runtime for it.
func (p *Package) CheckIO(component string, inputs, outputs []ort.InputOutputInfo) error {
	c := p.Component(component)
	if c == nil {
		return fmt.Errorf("model: %s has no component %q", p.Dir, component)
	}
	conv := func(list []ort.InputOutputInfo) []TensorInfo {
		out := make([]TensorInfo, len(list))
		for i, x := range list {
			ti := TensorInfo{Name: x.Name, HasShape: true}
			if x.OrtValueType == ort.ONNXTypeTensor {
				ti.DType = int32(x.DataType)
			}
			for _, d := range x.Dimensions {
				if d > 0 {
					ti.Shape = append(ti.Shape, Dim{Size: d})
				} else {
					ti.Shape = append(ti.Shape, Dim{}) // symbolic or unknown
				}
			}
			if ti.Shape == nil {
				ti.Shape = []Dim{}
			}
			out[i] = ti
		}
		return out
	}
	return checkTensors(p.Path(component), "components."+component, c, conv(inputs), conv(outputs), true)
}

// checkTensors matches the declared tensors of c against a graph's inputs
// and outputs. With allInputs, every graph input must be declared.
func checkTensors(file, field string, c *Component, inputs, outputs []TensorInfo, allInputs bool) error {
	for _, side := range []struct {
		kind     string
		declared map[string]Tensor
		graph    []TensorInfo
	}{{"inputs", c.Inputs, inputs}, {"outputs", c.Outputs, outputs}} {
		byName := map[string]TensorInfo{}
		var names []string
		for _, g := range side.graph {
			byName[g.Name] = g
			names = append(names, g.Name)
		}
		declaredNames := map[string]bool{}
		for _, role := range sortedKeys(side.declared) {
			t := side.declared[role]
			declaredNames[t.Name] = true
			f := field + "." + side.kind + "." + role
			g, ok := byName[t.Name]
			if !ok {
				return &Error{File: file, Field: f + ".name", Msg: fmt.Sprintf("graph has no %s %q (it has %s)", strings.TrimSuffix(side.kind, "s"), t.Name, quoteList(names))}
			}
			if g.DType != t.DType.ONNX() {
				return &Error{File: file, Field: f + ".dtype", Msg: fmt.Sprintf("manifest says %s, graph %q is %s", t.DType, t.Name, dtypeName(g.DType))}
			}
			if !g.HasShape {
				continue
			}
			if len(g.Shape) != len(t.Shape) {
				return &Error{File: file, Field: f + ".shape", Msg: fmt.Sprintf("manifest says rank %d %v, graph %q has rank %d %v", len(t.Shape), t.Shape, t.Name, len(g.Shape), g.Shape)}
			}
			for i, d := range t.Shape {
				gd := g.Shape[i]
				if d.Fixed() && gd.Name == "" && gd.Size > 0 && gd.Size != d.Size {
					return &Error{File: file, Field: fmt.Sprintf("%s.shape[%d]", f, i), Msg: fmt.Sprintf("manifest says %d, graph %q has %d", d.Size, t.Name, gd.Size)}
				}
			}
		}
		if allInputs && side.kind == "inputs" {
			for _, n := range names {
				if !declaredNames[n] {
					return &Error{File: file, Field: field + ".inputs", Msg: fmt.Sprintf("graph input %q is not declared (the engine feeds only declared roles)", n)}
				}
			}
		}
	}
	return nil
}

func checkOpsets(opsets map[string]int64) error {
	for _, d := range sortedKeys(opsets) {
		v := opsets[d]
		switch d {
		case "", "ai.onnx":
			if v < MinOpset || v > MaxOpset {
				return fmt.Errorf("opset %d of the default domain is outside %d..%d that ONNX Runtime 1.30 runs", v, MinOpset, MaxOpset)
			}
		default:
			max, ok := domainMax[d]
			if !ok {
				return fmt.Errorf("operator domain %q is not built into ONNX Runtime (custom operators are not supported)", d)
			}
			if v < 1 || v > max {
				return fmt.Errorf("opset %d of domain %q is outside 1..%d", v, d, max)
			}
		}
	}
	return nil
}

// loadTokenizer loads a tokenizer.json or a SentencePiece model file and
// reports its model kind.
func loadTokenizer(path string) (*tokenize.Tokenizer, string, error) {
	tok, err := tokenize.Load(path)
	if err != nil {
		return nil, "", err
	}
	return tok, tok.ModelType(), nil
}

// jsonField extracts the field path of a JSON decoding error, if any.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(s, "json: unknown field "), `"`)
	}
	return ""
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// FlowConfig returns the sampler configuration of a flow model with the
// given steps and guidance scale (0 takes the manifest defaults). With a
// dynamic shift the caller sets Tokens (Manifest.Tokens of the planned
// clip); with a low-noise expert, LowNoise holds the boundary and that
// expert's guidance (GuidanceLowNoise) and the caller sets LowNoise.Model.
func (m *Manifest) FlowConfig(steps int, guidance float64) sample.FlowConfig {
	low := m.GuidanceLowNoise(guidance)
	steps, guidance = m.pick(steps, guidance)
	s := m.Scheduler
	cfg := sample.FlowConfig{
		Steps: steps, Shift: s.Shift, Terminal: s.ShiftTerminal, TimeScale: s.TimeScale,
		Guidance: sample.Guidance{Scale: guidance, Batched: m.BatchedGuidance},
	}
	if d := s.DynamicShift; d != nil {
		cfg.Dynamic = &sample.DynamicShift{BaseShift: d.BaseShift, MaxShift: d.MaxShift, BaseSeqLen: d.BaseSeqLen, MaxSeqLen: d.MaxSeqLen}
	}
	if m.Components.DenoiserLowNoise != nil {
		cfg.LowNoise = &sample.LowNoise{Boundary: s.Boundary, Guidance: low}
	}
	return cfg
}

// GuidanceLowNoise returns the guidance scale of the low-noise expert's
// steps for a requested scale: guidance when not 0 (a request sets both
// experts), else defaults.guidance_low_noise, else defaults.guidance.
func (m *Manifest) GuidanceLowNoise(guidance float64) float64 {
	switch {
	case guidance != 0:
		return guidance
	case m.Defaults.GuidanceLowNoise != 0:
		return m.Defaults.GuidanceLowNoise
	}
	return m.Defaults.Guidance
}

// EDMConfig returns the sampler configuration of an EDM model with the
// given steps and guidance scale (0 takes the manifest defaults).
func (m *Manifest) EDMConfig(steps int, guidance float64) sample.EDMConfig {
	steps, guidance = m.pick(steps, guidance)
	net := sample.PredictV
	switch m.Scheduler.Prediction {
	case "f":
		net = sample.PredictF
	case "denoised":
		net = sample.PredictDenoised
	}
	tm := sample.TimeDefault
	switch m.Scheduler.Timestep {
	case TimestepCNoise:
		tm = sample.TimeCNoise
	case TimestepSigma:
		tm = sample.TimeSigma
	}
	s := m.Scheduler
	return sample.EDMConfig{
		Steps: steps, SigmaMin: s.SigmaMin, SigmaMax: s.SigmaMax, Rho: s.Rho, SigmaData: s.SigmaData,
		Network: net, Time: tm,
		Guidance: sample.Guidance{Scale: guidance, Batched: m.BatchedGuidance},
	}
}

// Tokens returns the number of latent tokens the denoiser sees for a clip
// of frames output frames at r, which a dynamic shift depends on: the
// latent has T = (frames−1)/temporal_factor + 1 frames of
// (height/spatial_factor)×(width/spatial_factor), divided per axis by
// scheduler.dynamic_shift.patch_size (rounded down; [1, 1, 1] when
// unset).
func (m *Manifest) Tokens(r Resolution, frames int) int {
	l := m.Latent
	p := []int{1, 1, 1}
	if d := m.Scheduler.DynamicShift; d != nil && len(d.PatchSize) == 3 {
		p = d.PatchSize
	}
	return l.Frames(frames) / p[0] * (r.Height / l.SpatialFactor / p[1]) * (r.Width / l.SpatialFactor / p[2])
}

// DenoiserLayout returns the layout of the denoiser's latent tensors:
// latent.layout, or when it is unset the layout the rank of the denoiser's
// latent input implies (4: LayoutBTCHW, else LayoutBCTHW).
func (m *Manifest) DenoiserLayout() string {
	if m.Latent.Layout != "" {
		return m.Latent.Layout
	}
	if d := m.Components.Denoiser; d != nil && d.Inputs[RoleLatent].Rank() == 4 {
		return LayoutBTCHW
	}
	return LayoutBCTHW
}

// Validate checks the manifest on its own, as Load does before it opens
// any file; file is the manifest path used in the errors.
func (m *Manifest) Validate(file string) error { return m.validate(file) }

func (m *Manifest) pick(steps int, guidance float64) (int, float64) {
	if steps == 0 {
		steps = m.Defaults.Steps
	}
	if guidance == 0 {
		guidance = m.Defaults.Guidance
	}
	return steps, guidance
}

// Supports reports whether the model supports an output size and frame
// count.
func (m *Manifest) Supports(r Resolution, frames int) bool {
	okR, okF := false, false
	for _, x := range m.Resolutions {
		okR = okR || x == r
	}
	for _, f := range m.Frames {
		okF = okF || f == frames
	}
	return okR && okF
}
