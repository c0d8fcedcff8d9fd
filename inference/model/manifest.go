// Package model defines the model package contract of the learned
// image-to-video engine: a folder holding a manifest (model.json), the ONNX
// components (text encoder, optional image encoder, VAE encoder, denoiser,
// VAE decoder) and the tokenizer files, and loads such a folder with
// validation that names the file and the field of every problem.
//
// docs/models.md documents the contract for operators who export models.
package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ManifestFile is the name of the manifest inside a package folder.
const ManifestFile = "model.json"

// Kind is the training objective of a model, which selects its sampler.
type Kind string

// Kinds.
const (
	// KindFlow is flow matching / rectified flow (Wan 2.x, LTX-Video, SD3):
	// the denoiser predicts the velocity.
	KindFlow Kind = "flow"
	// KindEDM is EDM-style diffusion with Karras preconditioning (Stable
	// Video Diffusion).
	KindEDM Kind = "edm"
)

// Scheduler types.
const (
	SchedulerFlowEuler = "flow_euler"
	SchedulerEDMEuler  = "edm_euler"
)

// Tokenizer kinds, the model types package inference/tokenize reads (from a
// tokenizer.json, or a SentencePiece model file for unigram).
const (
	TokenizerUnigram = "unigram"
	TokenizerBPE     = "bpe"
)

// Ways of making the denoiser's image_latent input (Manifest.ImageLatent).
const (
	ImageLatentVideo = "video"
	ImageLatentImage = "image"
)

// Manifest is the content of model.json.
type Manifest struct {
	// Name identifies the model, for example "wan2.1-i2v-14b-480p".
	Name string `json:"name"`
	// Version is the package version chosen by the operator.
	Version string `json:"version"`
	// Kind is "flow" or "edm".
	Kind Kind `json:"kind"`
	// FPS is the frame rate the model was trained for.
	FPS float64 `json:"fps"`
	// Resolutions lists the output sizes the model supports.
	Resolutions []Resolution `json:"resolutions"`
	// Frames lists the supported output frame counts F.
	Frames []int `json:"frames"`
	// Latent describes the VAE latent space.
	Latent Latent `json:"latent"`
	// Scheduler selects the sampler and its parameters.
	Scheduler Scheduler `json:"scheduler"`
	// Defaults are the sampling defaults.
	Defaults Defaults `json:"defaults"`
	// BatchedGuidance is true when the denoiser takes the conditional and
	// unconditional branches as one batch of 2 (conditional first).
	BatchedGuidance bool `json:"batched_guidance"`
	// ImageLatent says how the denoiser's image_latent input is made:
	// "video" VAE-encodes F frames, the still followed by F−1 black
	// frames (Wan 2.1 and Wan 2.2 A14B); "image" VAE-encodes the still
	// alone as one frame (Stable Video Diffusion, LTX-Video). Required when
	// the denoiser has an image_latent input, absent otherwise.
	ImageLatent string `json:"image_latent,omitempty"`
	// Text describes the prompt tokenizer; nil for models without text
	// conditioning (Stable Video Diffusion).
	Text *Text `json:"text,omitempty"`
	// Components maps each component to its ONNX file and tensors.
	Components Components `json:"components"`
}

// Resolution is an output size in pixels.
type Resolution struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

func (r Resolution) String() string { return fmt.Sprintf("%dx%d", r.Width, r.Height) }

// Latent describes the VAE latent space and its normalisation. The
// denoiser sees z = (x − shift_c)·ScalingFactor/std_c where x is the raw
// VAE latent of channel c, shift_c is Mean[c] (or ShiftFactor when Mean is
// empty) and std_c is Std[c] (or 1 when Std is empty).
type Latent struct {
	// Channels is the number of latent channels C.
	Channels int `json:"channels"`
	// SpatialFactor s: latent height and width are H/s and W/s.
	SpatialFactor int `json:"spatial_factor"`
	// TemporalFactor t: F frames map to (F−1)/t+1 latent frames; 1 for
	// per-frame VAEs.
	TemporalFactor int `json:"temporal_factor"`
	// ScalingFactor multiplies the centred latent; required.
	ScalingFactor float64 `json:"scaling_factor"`
	// ShiftFactor is subtracted from every channel; 0 when Mean is used.
	ShiftFactor float64 `json:"shift_factor,omitempty"`
	// Mean and Std are the per-channel statistics (Wan, LTX-Video); both
	// empty or both of length Channels.
	Mean []float64 `json:"mean,omitempty"`
	Std  []float64 `json:"std,omitempty"`
	// Layout is the layout of the denoiser's latent tensors (latent,
	// image_latent, prediction): LayoutBCTHW [B, C, T, h, w] or
	// LayoutBTCHW [B·T, C, h, w]. Empty follows the rank of the
	// denoiser's latent input (5: bcthw, 4: bt_chw). The VAE's tensors
	// say theirs by rank: 5 is [B, C, T, h, w], 4 a per-frame VAE's
	// [N, C, h, w] with N = B·F.
	Layout string `json:"layout,omitempty"`
}

// Shift returns shift_c of channel c.
func (l Latent) Shift(c int) float64 {
	if len(l.Mean) > 0 {
		return l.Mean[c]
	}
	return l.ShiftFactor
}

// Scale returns ScalingFactor/std_c, the factor applied after the shift.
func (l Latent) Scale(c int) float64 {
	if len(l.Std) > 0 {
		return l.ScalingFactor / l.Std[c]
	}
	return l.ScalingFactor
}

// Frames returns the number of latent frames for f output frames.
func (l Latent) Frames(f int) int { return (f-1)/l.TemporalFactor + 1 }

// Scheduler selects the sampler. Fields map onto sample.FlowConfig
// (flow_euler) and sample.EDMConfig (edm_euler); zero values take the
// samplers' defaults.
type Scheduler struct {
	// Type is "flow_euler" or "edm_euler".
	Type string `json:"type"`
	// Shift, DynamicShift, ShiftTerminal, TimeScale and Boundary are the
	// flow_euler parameters. Shift is a constant shift; DynamicShift
	// computes it from the token count instead (LTX-Video), so at most
	// one of them is set.
	Shift        float64       `json:"shift,omitempty"`
	DynamicShift *DynamicShift `json:"dynamic_shift,omitempty"`
	// ShiftTerminal, when not 0, stretches the shifted schedule so that
	// its last level before 0 is ShiftTerminal (diffusers'
	// shift_terminal); in (0, 1).
	ShiftTerminal float64 `json:"shift_terminal,omitempty"`
	TimeScale     float64 `json:"time_scale,omitempty"`
	// Boundary is the noise level σ in (0, 1) below which
	// components.denoiser_low_noise denoises instead of
	// components.denoiser (Wan 2.2 A14B); set exactly when the package
	// has a low-noise expert.
	Boundary float64 `json:"boundary,omitempty"`
	// SigmaMin, SigmaMax, Rho, SigmaData, Prediction and Timestep are the
	// edm_euler parameters; Prediction is "v", "f" or "denoised".
	SigmaMin   float64 `json:"sigma_min,omitempty"`
	SigmaMax   float64 `json:"sigma_max,omitempty"`
	Rho        float64 `json:"rho,omitempty"`
	SigmaData  float64 `json:"sigma_data,omitempty"`
	Prediction string  `json:"prediction,omitempty"`
	// Timestep is what the edm_euler network takes as its timestep input:
	// "c_noise" (¼·ln σ, Stable Video Diffusion) or "sigma" (σ). Empty
	// follows Prediction: "sigma" for "denoised", else "c_noise".
	Timestep string `json:"timestep,omitempty"`
}

// Timestep semantics of an edm_euler network (Scheduler.Timestep).
const (
	TimestepCNoise = "c_noise"
	TimestepSigma  = "sigma"
)

// DynamicShift is a flow_euler shift that depends on the number of latent
// tokens n, as diffusers' FlowMatchEulerDiscreteScheduler with
// use_dynamic_shifting (LTX-Video): μ interpolates linearly between
// BaseShift at BaseSeqLen tokens and MaxShift at MaxSeqLen tokens, and the
// schedule is shifted by e^μ (sample.DynamicShift).
type DynamicShift struct {
	BaseShift  float64 `json:"base_shift"`
	MaxShift   float64 `json:"max_shift"`
	BaseSeqLen int     `json:"base_seq_len"`
	MaxSeqLen  int     `json:"max_seq_len"`
	// PatchSize is the denoiser's patch [t, h, w] over the latent: the
	// token count is ⌊T/t⌋·⌊h/h_p⌋·⌊w/w_p⌋ for a latent of T frames of
	// h×w. Empty means [1, 1, 1] (LTX-Video's transformer); Flux-style
	// 2×2 patches are [1, 2, 2].
	PatchSize []int `json:"patch_size,omitempty"`
}

// Defaults are the sampling defaults of the model.
type Defaults struct {
	// Steps is the number of denoiser evaluations (guided pairs).
	Steps int `json:"steps"`
	// Guidance is the classifier-free guidance scale; 1 disables the
	// unconditional branch.
	Guidance float64 `json:"guidance"`
	// GuidanceLowNoise is the guidance scale of the low-noise expert's
	// steps (components.denoiser_low_noise); 0 takes Guidance.
	GuidanceLowNoise float64 `json:"guidance_low_noise,omitempty"`
}

// Text describes the prompt tokenizer.
type Text struct {
	// Tokenizer is "unigram" or "bpe".
	Tokenizer string `json:"tokenizer"`
	// File is the tokenizer.json or SentencePiece model file (spiece.model),
	// relative to the package folder.
	File string `json:"file"`
	// MaxLength is the padded token length L fed to the text encoder.
	MaxLength int `json:"max_length"`
}

// Components lists the ONNX components. ImageEncoder, TextEncoder and
// DenoiserLowNoise are optional; the others are required.
type Components struct {
	TextEncoder  *Component `json:"text_encoder,omitempty"`
	ImageEncoder *Component `json:"image_encoder,omitempty"`
	VAEEncoder   *Component `json:"vae_encoder"`
	// Denoiser is the denoiser or, with DenoiserLowNoise, the high-noise
	// expert.
	Denoiser *Component `json:"denoiser"`
	// DenoiserLowNoise is the low-noise expert of a two-expert model; it
	// takes the same tensors (roles, dtypes, shapes) as Denoiser.
	DenoiserLowNoise *Component `json:"denoiser_low_noise,omitempty"`
	VAEDecoder       *Component `json:"vae_decoder"`
}

// Component is one ONNX file and its tensors by role.
type Component struct {
	// File is the .onnx file, relative to the package folder.
	File string `json:"file"`
	// Inputs and Outputs map roles (see the Role constants) to tensors.
	Inputs  map[string]Tensor `json:"inputs"`
	Outputs map[string]Tensor `json:"outputs"`
}

// Tensor is a declared ONNX graph input or output.
type Tensor struct {
	// Name is the tensor name in the ONNX graph.
	Name string `json:"name"`
	// DType is the element type.
	DType DType `json:"dtype"`
	// Shape has one entry per dimension: a fixed size or a symbol.
	Shape []Dim `json:"shape"`
}

// Rank is the number of dimensions.
func (t Tensor) Rank() int { return len(t.Shape) }

// DType is a tensor element type.
type DType string

// Element types, with their ONNX TensorProto.DataType codes.
const (
	Float32 DType = "float32"
	Float16 DType = "float16"
	Int64   DType = "int64"
	Int32   DType = "int32"
)

// ONNX returns the ONNX element type code, or 0 for an unknown type.
func (d DType) ONNX() int32 {
	switch d {
	case Float32:
		return 1
	case Float16:
		return 10
	case Int64:
		return 7
	case Int32:
		return 6
	}
	return 0
}

func (d DType) isFloat() bool { return d == Float32 || d == Float16 }
func (d DType) isInt() bool   { return d == Int64 || d == Int32 }

// dtypeName names an ONNX element type code.
func dtypeName(code int32) string {
	for _, d := range []DType{Float32, Float16, Int64, Int32} {
		if d.ONNX() == code {
			return string(d)
		}
	}
	names := map[int32]string{0: "undefined", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16",
		8: "string", 9: "bool", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16"}
	if n, ok := names[code]; ok {
		return n
	}
	return "type " + strconv.Itoa(int(code))
}

// Dim is one dimension: a fixed Size > 0, or a symbolic Name such as "B".
// In JSON it is a number or a string.
type Dim struct {
	Size int64
	Name string
}

// Fixed reports whether the dimension has a fixed size.
func (d Dim) Fixed() bool { return d.Name == "" }

func (d Dim) String() string {
	if d.Fixed() {
		return strconv.FormatInt(d.Size, 10)
	}
	return d.Name
}

// MarshalJSON writes a number or a string.
func (d Dim) MarshalJSON() ([]byte, error) {
	if d.Fixed() {
		return []byte(strconv.FormatInt(d.Size, 10)), nil
	}
	return json.Marshal(d.Name)
}

// UnmarshalJSON reads a positive integer or a non-empty string.
func (d *Dim) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return errors.New("empty dimension name")
		}
		*d = Dim{Name: s}
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("dimension %s: want a positive integer or a name", b)
	}
	*d = Dim{Size: n}
	return nil
}

// Error is a validation failure of a package: the file it concerns and,
// for manifest and tensor problems, the field.
type Error struct {
	File  string // path of the file concerned
	Field string // dotted manifest field, or "" when the whole file is concerned
	Msg   string
	Err   error // underlying error, if any
}

func (e *Error) Error() string {
	s := "model: " + e.File
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// decodeManifest strictly decodes model.json: unknown fields and trailing
// data are errors.
func decodeManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level object")
	}
	return &m, nil
}

// validate checks the manifest on its own (no files); the returned error
// names the field. file is the manifest path used in errors.
func (m *Manifest) validate(file string) error {
	bad := func(field, format string, a ...any) error {
		return &Error{File: file, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if m.Name == "" {
		return bad("name", "missing")
	}
	if m.Version == "" {
		return bad("version", "missing")
	}
	switch m.Kind {
	case KindFlow, KindEDM:
	case "":
		return bad("kind", "missing (want %q or %q)", KindFlow, KindEDM)
	default:
		return bad("kind", "%q is not %q or %q", m.Kind, KindFlow, KindEDM)
	}
	if !(m.FPS > 0) || !finite(m.FPS) || m.FPS > 240 {
		return bad("fps", "%v, want 0 < fps <= 240", m.FPS)
	}

	l := m.Latent
	switch {
	case l.Channels <= 0:
		return bad("latent.channels", "%d, want > 0", l.Channels)
	case l.SpatialFactor <= 0:
		return bad("latent.spatial_factor", "%d, want > 0", l.SpatialFactor)
	case l.TemporalFactor <= 0:
		return bad("latent.temporal_factor", "%d, want > 0 (1 for per-frame VAEs)", l.TemporalFactor)
	case !(l.ScalingFactor > 0) || !finite(l.ScalingFactor):
		return bad("latent.scaling_factor", "%v, want finite > 0", l.ScalingFactor)
	case !finite(l.ShiftFactor):
		return bad("latent.shift_factor", "%v, want finite", l.ShiftFactor)
	case len(l.Mean) != len(l.Std):
		return bad("latent.std", "%d values but latent.mean has %d", len(l.Std), len(l.Mean))
	case len(l.Mean) > 0 && len(l.Mean) != l.Channels:
		return bad("latent.mean", "%d values, want latent.channels = %d", len(l.Mean), l.Channels)
	case len(l.Mean) > 0 && l.ShiftFactor != 0:
		return bad("latent.shift_factor", "set together with latent.mean; use one or the other")
	}
	switch l.Layout {
	case "", LayoutBCTHW, LayoutBTCHW:
	default:
		return bad("latent.layout", "%q, want %q ([B, C, T, h, w]) or %q ([B·T, C, h, w])", l.Layout, LayoutBCTHW, LayoutBTCHW)
	}
	for i, v := range l.Mean {
		if !finite(v) {
			return bad(fmt.Sprintf("latent.mean[%d]", i), "%v, want finite", v)
		}
	}
	for i, v := range l.Std {
		if !(v > 0) || !finite(v) {
			return bad(fmt.Sprintf("latent.std[%d]", i), "%v, want finite > 0", v)
		}
	}

	if len(m.Resolutions) == 0 {
		return bad("resolutions", "missing (want at least one {width, height})")
	}
	seenRes := map[Resolution]bool{}
	for i, r := range m.Resolutions {
		f := fmt.Sprintf("resolutions[%d]", i)
		switch {
		case r.Width <= 0 || r.Height <= 0:
			return bad(f, "%s, want positive width and height", r)
		case r.Width%l.SpatialFactor != 0 || r.Height%l.SpatialFactor != 0:
			return bad(f, "%s is not a multiple of latent.spatial_factor %d", r, l.SpatialFactor)
		case seenRes[r]:
			return bad(f, "%s listed twice", r)
		}
		seenRes[r] = true
	}
	if len(m.Frames) == 0 {
		return bad("frames", "missing (want at least one frame count)")
	}
	seenF := map[int]bool{}
	for i, n := range m.Frames {
		f := fmt.Sprintf("frames[%d]", i)
		switch {
		case n <= 0:
			return bad(f, "%d, want > 0", n)
		case (n-1)%l.TemporalFactor != 0:
			return bad(f, "%d frames, want %dk+1 for latent.temporal_factor %d", n, l.TemporalFactor, l.TemporalFactor)
		case seenF[n]:
			return bad(f, "%d listed twice", n)
		}
		seenF[n] = true
	}

	s := m.Scheduler
	nonNeg := func(field string, v float64) error {
		if v < 0 || !finite(v) {
			return bad(field, "%v, want finite >= 0 (0 takes the default)", v)
		}
		return nil
	}
	// Fields of the other scheduler type, by name.
	flowOnly := []struct {
		f   string
		set bool
	}{{"shift", s.Shift != 0}, {"dynamic_shift", s.DynamicShift != nil}, {"shift_terminal", s.ShiftTerminal != 0},
		{"time_scale", s.TimeScale != 0}, {"boundary", s.Boundary != 0}}
	edmOnly := []struct {
		f   string
		set bool
	}{{"sigma_min", s.SigmaMin != 0}, {"sigma_max", s.SigmaMax != 0}, {"rho", s.Rho != 0},
		{"sigma_data", s.SigmaData != 0}, {"prediction", s.Prediction != ""}, {"timestep", s.Timestep != ""}}
	switch s.Type {
	case SchedulerFlowEuler:
		if m.Kind != KindFlow {
			return bad("scheduler.type", "%q needs kind %q, not %q", s.Type, KindFlow, m.Kind)
		}
		for _, o := range edmOnly {
			if o.set {
				return bad("scheduler."+o.f, "belongs to %q, not %q", SchedulerEDMEuler, s.Type)
			}
		}
		for _, p := range []struct {
			f string
			v float64
		}{{"scheduler.shift", s.Shift}, {"scheduler.time_scale", s.TimeScale}} {
			if err := nonNeg(p.f, p.v); err != nil {
				return err
			}
		}
		if d := s.DynamicShift; d != nil {
			switch {
			case s.Shift != 0:
				return bad("scheduler.shift", "%v set together with scheduler.dynamic_shift; use one or the other", s.Shift)
			case !finite(d.BaseShift):
				return bad("scheduler.dynamic_shift.base_shift", "%v, want finite", d.BaseShift)
			case !finite(d.MaxShift):
				return bad("scheduler.dynamic_shift.max_shift", "%v, want finite", d.MaxShift)
			case d.BaseSeqLen < 1:
				return bad("scheduler.dynamic_shift.base_seq_len", "%d, want >= 1", d.BaseSeqLen)
			case d.MaxSeqLen <= d.BaseSeqLen:
				return bad("scheduler.dynamic_shift.max_seq_len", "%d, want above base_seq_len %d", d.MaxSeqLen, d.BaseSeqLen)
			}
			if p := d.PatchSize; len(p) != 0 && (len(p) != 3 || p[0] < 1 || p[1] < 1 || p[2] < 1) {
				return bad("scheduler.dynamic_shift.patch_size", "%v, want [t, h, w], each >= 1 (absent: [1, 1, 1])", p)
			}
		}
		if v := s.ShiftTerminal; v != 0 && !(v > 0 && v < 1) {
			return bad("scheduler.shift_terminal", "%v, want 0 < shift_terminal < 1 (absent: none)", v)
		}
		if v := s.Boundary; v != 0 && !(v > 0 && v < 1) {
			return bad("scheduler.boundary", "%v, want 0 < boundary < 1: the noise level σ where components.%s takes over", v, CompDenoiserLowNoise)
		}
	case SchedulerEDMEuler:
		if m.Kind != KindEDM {
			return bad("scheduler.type", "%q needs kind %q, not %q", s.Type, KindEDM, m.Kind)
		}
		for _, o := range flowOnly {
			if o.set {
				return bad("scheduler."+o.f, "belongs to %q, not %q", SchedulerFlowEuler, s.Type)
			}
		}
		for _, p := range []struct {
			f string
			v float64
		}{{"scheduler.sigma_min", s.SigmaMin}, {"scheduler.sigma_max", s.SigmaMax},
			{"scheduler.rho", s.Rho}, {"scheduler.sigma_data", s.SigmaData}} {
			if err := nonNeg(p.f, p.v); err != nil {
				return err
			}
		}
		if s.SigmaMin != 0 && s.SigmaMax != 0 && !(s.SigmaMin < s.SigmaMax) {
			return bad("scheduler.sigma_min", "%v, want below sigma_max %v", s.SigmaMin, s.SigmaMax)
		}
		switch s.Prediction {
		case "v", "f", "denoised":
		case "":
			return bad("scheduler.prediction", "missing (want \"v\", \"f\" or \"denoised\")")
		default:
			return bad("scheduler.prediction", "%q, want \"v\", \"f\" or \"denoised\"", s.Prediction)
		}
		switch s.Timestep {
		case "", TimestepCNoise, TimestepSigma:
		default:
			return bad("scheduler.timestep", "%q, want %q (¼·ln σ) or %q (σ)", s.Timestep, TimestepCNoise, TimestepSigma)
		}
	case "":
		return bad("scheduler.type", "missing (want %q or %q)", SchedulerFlowEuler, SchedulerEDMEuler)
	default:
		return bad("scheduler.type", "%q, want %q or %q", s.Type, SchedulerFlowEuler, SchedulerEDMEuler)
	}

	if m.Defaults.Steps <= 0 || m.Defaults.Steps > 1000 {
		return bad("defaults.steps", "%d, want 1..1000", m.Defaults.Steps)
	}
	if !(m.Defaults.Guidance >= 1) || !finite(m.Defaults.Guidance) {
		return bad("defaults.guidance", "%v, want finite >= 1 (1 disables guidance)", m.Defaults.Guidance)
	}
	if g := m.Defaults.GuidanceLowNoise; g != 0 && (!(g >= 1) || !finite(g)) {
		return bad("defaults.guidance_low_noise", "%v, want finite >= 1 (absent: defaults.guidance)", g)
	}

	if t := m.Text; t != nil {
		switch t.Tokenizer {
		case TokenizerUnigram, TokenizerBPE:
		case "":
			return bad("text.tokenizer", "missing (want %q or %q)", TokenizerUnigram, TokenizerBPE)
		default:
			return bad("text.tokenizer", "%q, want %q or %q", t.Tokenizer, TokenizerUnigram, TokenizerBPE)
		}
		if err := checkRelPath(t.File); err != nil {
			return bad("text.file", "%v", err)
		}
		if t.MaxLength <= 0 || t.MaxLength > 4096 {
			return bad("text.max_length", "%d, want 1..4096", t.MaxLength)
		}
	}
	return m.Components.validate(m, bad)
}

type badFunc func(field, format string, a ...any) error

func (c *Components) validate(m *Manifest, bad badFunc) error {
	for _, s := range componentSpecs {
		comp := c.get(s.name)
		field := "components." + s.name
		if comp == nil {
			if s.required {
				return bad(field, "missing")
			}
			continue
		}
		if err := checkRelPath(comp.File); err != nil {
			return bad(field+".file", "%v", err)
		}
		for _, io := range []struct {
			kind  string
			roles []roleSpec
			got   map[string]Tensor
		}{{"inputs", s.inputs, comp.Inputs}, {"outputs", s.outputs, comp.Outputs}} {
			known := map[string]roleSpec{}
			for _, r := range io.roles {
				known[r.role] = r
				if _, ok := io.got[r.role]; r.required && !ok {
					return bad(field+"."+io.kind+"."+r.role, "missing")
				}
			}
			names := map[string]string{}
			for _, role := range sortedKeys(io.got) {
				t := io.got[role]
				f := field + "." + io.kind + "." + role
				r, ok := known[role]
				if !ok {
					return bad(f, "unknown role (want one of %s)", roleList(io.roles))
				}
				if t.Name == "" {
					return bad(f+".name", "missing")
				}
				if other, dup := names[t.Name]; dup {
					return bad(f+".name", "%q is also the tensor of role %s", t.Name, other)
				}
				names[t.Name] = role
				if t.DType.ONNX() == 0 {
					return bad(f+".dtype", "%q, want float32, float16, int64 or int32", t.DType)
				}
				if !r.dtypeOK(t.DType) {
					return bad(f+".dtype", "%s not allowed for this role (want %s)", t.DType, r.dtypes)
				}
				if len(t.Shape) == 0 && !r.scalarOK {
					return bad(f+".shape", "missing")
				}
				if r.ranks != nil && !containsInt(r.ranks, len(t.Shape)) {
					return bad(f+".shape", "rank %d, want %s", len(t.Shape), rankList(r.ranks))
				}
			}
		}
	}

	d := c.Denoiser
	text := m.Text != nil
	switch {
	case text && c.TextEncoder == nil:
		return bad("components.text_encoder", "missing (text is set)")
	case !text && c.TextEncoder != nil:
		return bad("text", "missing (components.text_encoder is set)")
	}
	_, ehs := d.Inputs[RoleEncoderHiddenStates]
	_, emb := d.Inputs[RoleImageEmbeds]
	_, lat := d.Inputs[RoleImageLatent]
	switch {
	case text && !ehs:
		return bad("components.denoiser.inputs."+RoleEncoderHiddenStates, "missing (the model has a text encoder)")
	case !text && ehs:
		return bad("components.denoiser.inputs."+RoleEncoderHiddenStates, "set but the model has no text encoder (map an image embedding to role %s)", RoleImageEmbeds)
	case c.ImageEncoder != nil && !emb:
		return bad("components.denoiser.inputs."+RoleImageEmbeds, "missing (components.image_encoder is set)")
	case c.ImageEncoder == nil && emb:
		return bad("components.image_encoder", "missing (the denoiser takes %s)", RoleImageEmbeds)
	case !emb && !lat:
		return bad("components.denoiser.inputs", "no image conditioning: want %s, %s or both", RoleImageLatent, RoleImageEmbeds)
	}
	switch {
	case lat && m.ImageLatent == "":
		return bad("image_latent", "missing (the denoiser takes %s; want %q or %q)", RoleImageLatent, ImageLatentVideo, ImageLatentImage)
	case lat && m.ImageLatent != ImageLatentVideo && m.ImageLatent != ImageLatentImage:
		return bad("image_latent", "%q, want %q or %q", m.ImageLatent, ImageLatentVideo, ImageLatentImage)
	case !lat && m.ImageLatent != "":
		return bad("image_latent", "set but the denoiser has no %s input", RoleImageLatent)
	}
	if _, ok := d.Inputs[RoleEncoderAttentionMask]; ok && !text {
		return bad("components.denoiser.inputs."+RoleEncoderAttentionMask, "set but the model has no text encoder")
	}
	// Fixed latent channel dimensions must agree with latent.channels.
	for _, p := range []struct {
		field string
		t     Tensor
		ok    bool
	}{
		{"components.denoiser.inputs." + RoleLatent, d.Inputs[RoleLatent], true},
		{"components.denoiser.outputs." + RolePrediction, d.Outputs[RolePrediction], true},
		{"components.vae_decoder.inputs." + RoleLatent, c.VAEDecoder.Inputs[RoleLatent], true},
		{"components.vae_encoder.outputs." + RoleLatent, c.VAEEncoder.Outputs[RoleLatent], true},
	} {
		if len(p.t.Shape) >= 4 && p.t.Shape[1].Fixed() && p.t.Shape[1].Size != int64(m.Latent.Channels) {
			return bad(p.field+".shape", "channel dimension %d, latent.channels is %d", p.t.Shape[1].Size, m.Latent.Channels)
		}
	}
	if err := c.validateLayout(m, bad); err != nil {
		return err
	}
	return c.validateLowNoise(m, bad)
}

// validateLayout checks that the ranks of the latent tensors agree: the
// denoiser's with latent.layout, and each VAE's input with its output.
func (c *Components) validateLayout(m *Manifest, bad badFunc) error {
	d := c.Denoiser
	layout, how := m.Latent.Layout, "latent.layout is"
	if layout == "" {
		layout, how = m.DenoiserLayout(), "components.denoiser.inputs.latent implies latent.layout"
	}
	want := 5
	if layout == LayoutBTCHW {
		want = 4
	}
	for _, p := range []struct {
		field string
		t     Tensor
		ok    bool
	}{
		{"components.denoiser.inputs." + RoleLatent, d.Inputs[RoleLatent], true},
		{"components.denoiser.inputs." + RoleImageLatent, d.Inputs[RoleImageLatent], d.Inputs[RoleImageLatent].Name != ""},
		{"components.denoiser.outputs." + RolePrediction, d.Outputs[RolePrediction], true},
	} {
		if p.ok && p.t.Rank() != want {
			return bad(p.field+".shape", "rank %d, want %d: %s %q", p.t.Rank(), want, how, layout)
		}
	}
	// The VAEs: rank 5 [B, C, T, h, w] or rank 4 [N, C, h, w] on both sides.
	for _, v := range []struct {
		comp, in, out string
		inT, outT     Tensor
	}{
		{CompVAEEncoder, RoleImage, RoleLatent, c.VAEEncoder.Inputs[RoleImage], c.VAEEncoder.Outputs[RoleLatent]},
		{CompVAEDecoder, RoleLatent, RoleVideo, c.VAEDecoder.Inputs[RoleLatent], c.VAEDecoder.Outputs[RoleVideo]},
	} {
		in, out := "components."+v.comp+".inputs."+v.in, "components."+v.comp+".outputs."+v.out
		if v.inT.Rank() != v.outT.Rank() {
			return bad(out+".shape", "rank %d, %s has rank %d (frames are folded into the batch in both or in neither)", v.outT.Rank(), in, v.inT.Rank())
		}
		if v.inT.Rank() == 4 && m.Latent.TemporalFactor != 1 {
			return bad(in+".shape", "rank 4 is a per-frame VAE (frames folded into the batch), which needs latent.temporal_factor 1, not %d", m.Latent.TemporalFactor)
		}
	}
	return nil
}

// validateLowNoise checks the low-noise expert against the denoiser, the
// scheduler's boundary and the defaults.
func (c *Components) validateLowNoise(m *Manifest, bad badFunc) error {
	low, f := c.DenoiserLowNoise, "components."+CompDenoiserLowNoise
	if low == nil {
		switch {
		case m.Scheduler.Boundary != 0:
			return bad("scheduler.boundary", "set but there is no %s", f)
		case m.Defaults.GuidanceLowNoise != 0:
			return bad("defaults.guidance_low_noise", "set but there is no %s", f)
		}
		return nil
	}
	d := c.Denoiser
	switch {
	case m.Kind != KindFlow:
		return bad(f, "a second expert needs kind %q (scheduler.boundary is a flow noise level), not %q", KindFlow, m.Kind)
	case m.Scheduler.Boundary == 0:
		return bad("scheduler.boundary", "missing (%s is set; want the noise level σ in (0, 1) below which it denoises)", f)
	case path.Clean(filepath.ToSlash(low.File)) == path.Clean(filepath.ToSlash(d.File)):
		return bad(f+".file", "%q is also the file of components.%s; the low-noise expert is a second network", low.File, CompDenoiser)
	}
	same := " (the experts take the same tensors)"
	for _, side := range []struct {
		kind       string
		high, lows map[string]Tensor
	}{{"inputs", d.Inputs, low.Inputs}, {"outputs", d.Outputs, low.Outputs}} {
		for _, role := range sortedKeys(side.high) {
			h := side.high[role]
			lf := f + "." + side.kind + "." + role
			l, ok := side.lows[role]
			if !ok {
				return bad(lf, "missing: components.%s has this %s%s", CompDenoiser, strings.TrimSuffix(side.kind, "s"), same)
			}
			if l.DType != h.DType {
				return bad(lf+".dtype", "%s, components.%s.%s.%s is %s%s", l.DType, CompDenoiser, side.kind, role, h.DType, same)
			}
			match := len(l.Shape) == len(h.Shape)
			for i := 0; match && i < len(l.Shape); i++ {
				match = l.Shape[i].Fixed() == h.Shape[i].Fixed() && (!l.Shape[i].Fixed() || l.Shape[i].Size == h.Shape[i].Size)
			}
			if !match {
				return bad(lf+".shape", "%v, components.%s.%s.%s is %v%s", l.Shape, CompDenoiser, side.kind, role, h.Shape, same)
			}
		}
		for _, role := range sortedKeys(side.lows) {
			if _, ok := side.high[role]; !ok {
				return bad(f+"."+side.kind+"."+role, "components.%s has no such %s%s", CompDenoiser, strings.TrimSuffix(side.kind, "s"), same)
			}
		}
	}
	return nil
}

func (c *Components) get(name string) *Component {
	switch name {
	case CompTextEncoder:
		return c.TextEncoder
	case CompImageEncoder:
		return c.ImageEncoder
	case CompVAEEncoder:
		return c.VAEEncoder
	case CompDenoiser:
		return c.Denoiser
	case CompDenoiserLowNoise:
		return c.DenoiserLowNoise
	case CompVAEDecoder:
		return c.VAEDecoder
	}
	return nil
}
