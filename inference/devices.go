package inference

import (
	"slices"
	"strconv"

	"github.com/paimeng/paimeng/inference/model"
)

// learnedComponents are a learned engine's components, the heaviest first.
var learnedComponents = []string{model.CompDenoiser, model.CompDenoiserLowNoise, model.CompVAEDecoder, model.CompVAEEncoder, model.CompImageEncoder, model.CompTextEncoder}

// DeviceName names the device p runs on: "cpu", or the provider and its
// ordinal ("cuda:0", "tensorrt:1"), without options.
func (p Provider) DeviceName() string {
	if p.Name == ProviderCPU {
		return ProviderCPU
	}
	return p.Name + ":" + strconv.Itoa(p.Device)
}

// Devices lists the execution providers the engine's sessions got, by
// DeviceName, without repeats across the components, the heaviest
// component's first and cpu last: for example ["cuda:0", "cpu"] when CUDA was available, or
// ["cpu"] after a fallback. It is empty after Close.
func (e *LearnedEngine) Devices() []string {
	if e.closed.Load() {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range learnedComponents {
		s := e.sessions[c]
		if s == nil {
			continue
		}
		for _, p := range s.Providers() {
			if d := p.DeviceName(); !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	// A component that fell back to the CPU must not put cpu first.
	slices.SortStableFunc(out, func(a, b string) int {
		switch {
		case a == ProviderCPU && b != ProviderCPU:
			return 1
		case b == ProviderCPU && a != ProviderCPU:
			return -1
		}
		return 0
	})
	return out
}
