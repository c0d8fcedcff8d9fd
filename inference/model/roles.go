package model

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Component names, as used in model.json under "components".
const (
	CompTextEncoder  = "text_encoder"
	CompImageEncoder = "image_encoder"
	CompVAEEncoder   = "vae_encoder"
	CompDenoiser     = "denoiser"
	CompVAEDecoder   = "vae_decoder"
	// CompDenoiserLowNoise is the optional second expert of a two-expert
	// model (Wan 2.2 A14B): CompDenoiser runs the steps at noise levels
	// from scheduler.boundary up, this one the steps below. It takes the
	// same tensors as CompDenoiser.
	CompDenoiserLowNoise = "denoiser_low_noise"
)

// Layouts of the denoiser's latent tensors (latent, image_latent,
// prediction), Latent.Layout.
const (
	// LayoutBCTHW is [B, C, T, h, w], channels first (Wan, LTX-Video).
	LayoutBCTHW = "bcthw"
	// LayoutBTCHW is [B·T, C, h, w]: frames folded into the batch, the T
	// frames of item b at rows b·T … b·T+T−1 (Stable Video Diffusion's
	// UNet). The denoiser's other inputs keep their batch B.
	LayoutBTCHW = "bt_chw"
)

// Tensor roles. A role is what the engine feeds or reads; the manifest maps
// it to the component's ONNX tensor name.
const (
	RoleInputIDs             = "input_ids"              // text_encoder in: [B, L] token ids
	RoleAttentionMask        = "attention_mask"         // text_encoder in: [B, L] 1 for tokens, 0 for padding
	RoleHiddenStates         = "hidden_states"          // text_encoder out: [B, L, D]
	RoleImage                = "image"                  // image_encoder / vae_encoder in: pixels in [-1, 1]
	RoleImageEmbeds          = "image_embeds"           // image_encoder out, denoiser in: [B, N, D] or [B, D]
	RoleLatent               = "latent"                 // vae_encoder out, denoiser in, vae_decoder in
	RoleTimestep             = "timestep"               // denoiser in: [B] or scalar
	RoleEncoderHiddenStates  = "encoder_hidden_states"  // denoiser in: [B, L, D]
	RoleEncoderAttentionMask = "encoder_attention_mask" // denoiser in: [B, L]
	RoleImageLatent          = "image_latent"           // denoiser in: VAE latent of the still, [B, C, F', h, w]
	RoleAddedTimeIDs         = "added_time_ids"         // denoiser in: [B, 3] (fps, motion bucket, noise augmentation)
	RolePrediction           = "prediction"             // denoiser out: same shape as latent
	RoleVideo                = "video"                  // vae_decoder out: [B, 3, F, H, W] in [-1, 1]
)

type roleSpec struct {
	role     string
	required bool
	dtypes   string // "float", "int" or "any"
	ranks    []int  // allowed ranks; nil means any
	scalarOK bool   // rank 0 allowed
}

func (r roleSpec) dtypeOK(d DType) bool {
	switch r.dtypes {
	case "float":
		return d.isFloat()
	case "int":
		return d.isInt()
	}
	return true
}

type componentSpec struct {
	name            string
	required        bool
	inputs, outputs []roleSpec
}

var (
	denoiserInputs = []roleSpec{
		{RoleLatent, true, "float", []int{4, 5}, false},
		{RoleTimestep, true, "any", []int{0, 1}, true},
		{RoleEncoderHiddenStates, false, "float", []int{3}, false},
		{RoleEncoderAttentionMask, false, "any", []int{2}, false},
		{RoleImageLatent, false, "float", []int{4, 5}, false},
		{RoleImageEmbeds, false, "float", []int{2, 3}, false},
		{RoleAddedTimeIDs, false, "float", []int{2}, false},
	}
	denoiserOutputs = []roleSpec{{RolePrediction, true, "float", []int{4, 5}, false}}
)

var componentSpecs = []componentSpec{
	{CompTextEncoder, false,
		[]roleSpec{{RoleInputIDs, true, "int", []int{2}, false}, {RoleAttentionMask, false, "int", []int{2}, false}},
		[]roleSpec{{RoleHiddenStates, true, "float", []int{3}, false}}},
	{CompImageEncoder, false,
		[]roleSpec{{RoleImage, true, "float", []int{4}, false}},
		[]roleSpec{{RoleImageEmbeds, true, "float", []int{2, 3}, false}}},
	{CompVAEEncoder, true,
		[]roleSpec{{RoleImage, true, "float", []int{4, 5}, false}},
		[]roleSpec{{RoleLatent, true, "float", []int{4, 5}, false}}},
	{CompDenoiser, true, denoiserInputs, denoiserOutputs},
	{CompDenoiserLowNoise, false, denoiserInputs, denoiserOutputs},
	{CompVAEDecoder, true,
		[]roleSpec{{RoleLatent, true, "float", []int{4, 5}, false}},
		[]roleSpec{{RoleVideo, true, "float", []int{4, 5}, false}}},
}

// checkRelPath accepts a non-empty relative path inside the package folder.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("missing")
	case filepath.IsAbs(p) || path.IsAbs(p):
		return fmt.Errorf("%q is absolute, want a path inside the package folder", p)
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q leaves the package folder", p)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func roleList(rs []roleSpec) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.role
	}
	return strings.Join(names, ", ")
}

func rankList(ranks []int) string {
	s := make([]string, len(ranks))
	for i, r := range ranks {
		s[i] = fmt.Sprint(r)
	}
	return strings.Join(s, " or ")
}
