package inference

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Execution provider names accepted in a provider spec.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// maxDeviceID bounds the device ordinals a spec may name.
const maxDeviceID = 63

// Provider is one execution provider a session may use: its name, the GPU
// ordinal (0 for cpu) and provider options passed to ONNX Runtime as strings.
type Provider struct {
	Name    string
	Device  int
	Options map[string]string
}

// String renders the provider in the spec syntax ParseProviders reads, with
// options sorted by key.
func (p Provider) String() string {
	var b strings.Builder
	b.WriteString(p.Name)
	if p.Name != ProviderCPU {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Device))
	}
	if len(p.Options) > 0 {
		keys := make([]string, 0, len(p.Options))
		for k := range p.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(p.Options[k])
		}
		b.WriteByte('}')
	}
	return b.String()
}

// providerOptions returns the options ONNX Runtime receives for p, with the
// device ordinal as device_id.
func (p Provider) providerOptions() map[string]string {
	m := make(map[string]string, len(p.Options)+1)
	for k, v := range p.Options {
		m[k] = v
	}
	m["device_id"] = strconv.Itoa(p.Device)
	return m
}

// ParseProviders reads an execution provider spec such as
//
//	cuda:0,cpu
//	tensorrt:0,cuda:1,cpu
//	cuda:0{gpu_mem_limit=8GiB,cudnn_conv_algo_search=EXHAUSTIVE},cpu
//
// Entries are separated by commas and tried in order. Each entry is a name
// (cpu, cuda, tensorrt), for GPU providers an optional ":N" device ordinal
// (default 0), and optional "{key=value,...}" options handed to ONNX Runtime
// as provider options. Only the keys ProviderOptionKeys lists are accepted,
// and each value is checked here (see providerOptionTable): an unknown key or
// a bad value is an error naming the key and what it accepts, rather than a
// provider that fails to start later on a GPU box. Values are normalised to
// what ONNX Runtime reads: sizes (gpu_mem_limit, trt_max_workspace_size)
// may carry a suffix KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024) and become bytes; switches accept 0, 1, true or false and
// become 0 or 1; names are matched without regard to case and take ONNX
// Runtime's spelling. device_id is set from the ordinal and may not appear
// among the options. Names may not repeat, cpu takes neither ordinal
// nor options and must come last; when it is absent it is appended, so every
// list ends in the CPU provider. Whitespace around tokens is ignored; an
// empty spec means "cpu".
func ParseProviders(spec string) ([]Provider, error) {
	entries, err := splitTop(spec)
	if err != nil {
		return nil, err
	}
	var out []Provider
	seen := map[string]bool{}
	for i, e := range entries {
		if e == "" {
			if len(entries) == 1 {
				break
			}
			return nil, fmt.Errorf("inference: providers %q: empty entry %d", spec, i+1)
		}
		p, err := parseProvider(e)
		if err != nil {
			return nil, fmt.Errorf("inference: providers %q: %w", spec, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("inference: providers %q: %s listed twice (a session uses one device per provider)", spec, p.Name)
		}
		if seen[ProviderCPU] {
			return nil, fmt.Errorf("inference: providers %q: cpu must be last (%s after it would never be used)", spec, p.Name)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	if !seen[ProviderCPU] {
		out = append(out, Provider{Name: ProviderCPU})
	}
	return out, nil
}

// splitTop splits s at commas outside braces and trims each part.
func splitTop(s string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
			if depth > 1 {
				return nil, fmt.Errorf("inference: providers %q: nested '{' at byte %d", s, i)
			}
		case '}':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("inference: providers %q: unmatched '}' at byte %d", s, i)
			}
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("inference: providers %q: unclosed '{'", s)
	}
	return append(parts, strings.TrimSpace(s[start:])), nil
}

func parseProvider(e string) (Provider, error) {
	head, opts := e, ""
	if i := strings.IndexByte(e, '{'); i >= 0 {
		if !strings.HasSuffix(e, "}") {
			return Provider{}, fmt.Errorf("%q: text after '}'", e)
		}
		head, opts = strings.TrimSpace(e[:i]), e[i+1:len(e)-1]
	}
	name, dev, hasDev := strings.Cut(head, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	p := Provider{Name: name}
	switch name {
	case ProviderCPU:
		if hasDev {
			return Provider{}, fmt.Errorf("%q: cpu takes no device ordinal", e)
		}
		if strings.TrimSpace(opts) != "" || strings.Contains(e, "{") {
			return Provider{}, fmt.Errorf("%q: cpu takes no options (threads are session settings)", e)
		}
		return p, nil
	case ProviderCUDA, ProviderTensorRT:
	case "":
		return Provider{}, fmt.Errorf("%q: missing provider name", e)
	default:
		return Provider{}, fmt.Errorf("%q: unknown provider %q (want cpu, cuda or tensorrt)", e, name)
	}
	if hasDev {
		dev = strings.TrimSpace(dev)
		n, err := strconv.Atoi(dev)
		if err != nil || n < 0 || n > maxDeviceID || dev != strconv.Itoa(n) {
			return Provider{}, fmt.Errorf("%q: bad device ordinal %q (want 0..%d)", e, dev, maxDeviceID)
		}
		p.Device = n
	}
	if strings.Contains(e, "{") {
		p.Options = map[string]string{}
		for _, kv := range strings.Split(opts, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				return Provider{}, fmt.Errorf("%q: empty option", e)
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || !validOptionKey(k) || v == "" {
				return Provider{}, fmt.Errorf("%q: option %q is not key=value", e, kv)
			}
			if k == "device_id" {
				return Provider{}, fmt.Errorf("%q: give the device as %s:N, not device_id", e, name)
			}
			if _, dup := p.Options[k]; dup {
				return Provider{}, fmt.Errorf("%q: option %s given twice", e, k)
			}
			nv, err := checkOption(name, k, v)
			if err != nil {
				return Provider{}, fmt.Errorf("%q: %w", e, err)
			}
			p.Options[k] = nv
		}
	}
	return p, nil
}

// optionKind says how a provider option's value is checked and normalised.
type optionKind int

const (
	optBytes  optionKind = iota // a positive byte count, size suffix allowed
	optSwitch                   // 0 or 1 (true and false accepted)
	optChoice                   // one of a fixed set of names
	optPath                     // a file system path
)

// providerOption is one option key a provider accepts.
type providerOption struct {
	key     string
	kind    optionKind
	choices []string // for optChoice, in ONNX Runtime's spelling
}

// providerOptionTable lists the options each GPU provider accepts, sorted by
// key: the CUDA and TensorRT execution provider options of ONNX Runtime
// that matter for serving. They reach ONNX Runtime unchanged apart from the
// normalisation checkOption does, through CUDAProviderOptions.Update and
// TensorRTProviderOptions.Update (see appendProvider).
var providerOptionTable = map[string][]providerOption{
	ProviderCUDA: {
		{key: "arena_extend_strategy", kind: optChoice, choices: []string{"kNextPowerOfTwo", "kSameAsRequested"}},
		{key: "cudnn_conv_algo_search", kind: optChoice, choices: []string{"EXHAUSTIVE", "HEURISTIC", "DEFAULT"}},
		{key: "cudnn_conv_use_max_workspace", kind: optSwitch},
		{key: "do_copy_in_default_stream", kind: optSwitch},
		{key: "gpu_mem_limit", kind: optBytes},
	},
	ProviderTensorRT: {
		{key: "trt_engine_cache_enable", kind: optSwitch},
		{key: "trt_engine_cache_path", kind: optPath},
		{key: "trt_fp16_enable", kind: optSwitch},
		{key: "trt_int8_enable", kind: optSwitch},
		{key: "trt_max_workspace_size", kind: optBytes},
		{key: "trt_timing_cache_enable", kind: optSwitch},
	},
}

// ProviderOptionKeys lists, sorted, the option keys the named execution
// provider accepts in a spec; none for cpu or an unknown name.
func ProviderOptionKeys(provider string) []string {
	var keys []string
	for _, o := range providerOptionTable[provider] {
		keys = append(keys, o.key)
	}
	return keys
}

// checkOption checks the value of option key of provider and returns it in
// the form ONNX Runtime reads.
func checkOption(provider, key, v string) (string, error) {
	var opt *providerOption
	for i, o := range providerOptionTable[provider] {
		if o.key == key {
			opt = &providerOptionTable[provider][i]
			break
		}
	}
	if opt == nil {
		hint := ""
		for other := range providerOptionTable {
			if other != provider && slices.Contains(ProviderOptionKeys(other), key) {
				hint = fmt.Sprintf(" (%s is a %s option)", key, other)
			}
		}
		return "", fmt.Errorf("unknown %s option %q%s; %s accepts %s", provider, key, hint, provider, strings.Join(ProviderOptionKeys(provider), ", "))
	}
	switch opt.kind {
	case optBytes:
		n, err := parseBytes(v)
		if err != nil {
			return "", fmt.Errorf("option %s: %w", key, err)
		}
		return strconv.FormatUint(n, 10), nil
	case optSwitch:
		switch strings.ToLower(v) {
		case "1", "true":
			return "1", nil
		case "0", "false":
			return "0", nil
		}
		return "", fmt.Errorf("option %s: %q is not 0 or 1 (true or false)", key, v)
	case optChoice:
		for _, c := range opt.choices {
			if strings.EqualFold(v, c) {
				return c, nil
			}
		}
		return "", fmt.Errorf("option %s: %q is not one of %s", key, v, strings.Join(opt.choices, ", "))
	}
	return v, nil
}

func validOptionKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseBytes reads a byte count with an optional KB/MB/GB/KiB/MiB/GiB suffix.
func parseBytes(v string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := v, uint64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad size %q (want a positive integer of bytes with an optional KB, MB, GB, TB, KiB, MiB, GiB or TiB suffix)", v)
	}
	if n > ^uint64(0)/mult {
		return 0, fmt.Errorf("size %q overflows", v)
	}
	return n * mult, nil
}
