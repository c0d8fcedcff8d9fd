package inference

import (
	"slices"
	"testing"
)

func TestProviderDeviceName(t *testing.T) {
	for _, c := range []struct {
		p    Provider
		want string
	}{
		{Provider{Name: ProviderCPU}, "cpu"},
		{Provider{Name: "cuda", Device: 1, Options: map[string]string{"gpu_mem_limit": "8589934592"}}, "cuda:1"},
		{Provider{Name: "tensorrt"}, "tensorrt:0"},
	} {
		if got := c.p.DeviceName(); got != c.want {
			t.Errorf("%v: DeviceName() = %q, want %q", c.p, got, c.want)
		}
	}
}

// A CPU-only engine reports cpu for every component, once; nothing after
// Close.
func TestLearnedDevices(t *testing.T) {
	_, p := writeTiny(t, TinyOptions{Seed: 1})
	e := newLearned(t, p)
	if got := e.Devices(); !slices.Equal(got, []string{"cpu"}) {
		t.Errorf("Devices() = %v, want [cpu]", got)
	}
	e.Close()
	if got := e.Devices(); got != nil {
		t.Errorf("Devices() after Close = %v", got)
	}
}
