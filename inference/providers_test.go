package inference

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProviders(t *testing.T) {
	cpu := Provider{Name: "cpu"}
	for _, c := range []struct {
		spec string
		want []Provider
	}{
		{"", []Provider{cpu}},
		{"  ", []Provider{cpu}},
		{"cpu", []Provider{cpu}},
		{"cuda:0,cpu", []Provider{{Name: "cuda"}, cpu}},
		{"cuda", []Provider{{Name: "cuda"}, cpu}},
		{"CUDA:1", []Provider{{Name: "cuda", Device: 1}, cpu}},
		{"tensorrt:0,cuda:1,cpu", []Provider{{Name: "tensorrt"}, {Name: "cuda", Device: 1}, cpu}},
		{" tensorrt : 2 , cuda:2 ", []Provider{{Name: "tensorrt", Device: 2}, {Name: "cuda", Device: 2}, cpu}},
		{"cuda:0{gpu_mem_limit=8GiB,cudnn_conv_algo_search=EXHAUSTIVE},cpu", []Provider{
			{Name: "cuda", Options: map[string]string{"gpu_mem_limit": "8589934592", "cudnn_conv_algo_search": "EXHAUSTIVE"}}, cpu}},
		{"cuda:0{gpu_mem_limit=8GB}", []Provider{{Name: "cuda", Options: map[string]string{"gpu_mem_limit": "8000000000"}}, cpu}},
		{"cuda:0{gpu_mem_limit=1024}", []Provider{{Name: "cuda", Options: map[string]string{"gpu_mem_limit": "1024"}}, cpu}},
		{"tensorrt:0{trt_fp16_enable=1, trt_engine_cache_enable=1, trt_engine_cache_path=/var/cache/trt, trt_max_workspace_size=4GiB},cuda:0",
			[]Provider{{Name: "tensorrt", Options: map[string]string{"trt_fp16_enable": "1", "trt_engine_cache_enable": "1",
				"trt_engine_cache_path": "/var/cache/trt", "trt_max_workspace_size": "4294967296"}}, {Name: "cuda"}, cpu}},
	} {
		got, err := ParseProviders(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.spec, got, c.want)
		}
		// The rendering parses back to the same list.
		again, err := ParseProviders(providerList(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: round trip via %q: %+v, %v", c.spec, providerList(got), again, err)
		}
	}
}

func TestParseProvidersErrors(t *testing.T) {
	for _, c := range []struct{ spec, msg string }{
		{"gpu:0", "unknown provider"},
		{"rocm", "unknown provider"},
		{"cuda:-1", "bad device ordinal"},
		{"cuda:x", "bad device ordinal"},
		{"cuda:64", "bad device ordinal"},
		{"cuda:01", "bad device ordinal"},
		{"cuda:", "bad device ordinal"},
		{"cpu:0", "cpu takes no device"},
		{"cpu{x=1}", "cpu takes no options"},
		{"cpu,cuda:0", "cpu must be last"},
		{"cuda:0,cuda:1", "listed twice"},
		{"cuda:0,,cpu", "empty entry"},
		{",cpu", "empty entry"},
		{":0", "missing provider name"},
		{"cuda:0{gpu_mem_limit=8GiB", "unclosed"},
		{"cuda:0}", "unmatched"},
		{"cuda:0{a={b=1}}", "nested"},
		{"cuda:0{gpu_mem_limit=1}y", "text after"},
		{"cuda:0{}", "empty option"},
		{"cuda:0{gpu_mem_limit=1,}", "empty option"},
		{"cuda:0{novalue}", "not key=value"},
		{"cuda:0{gpu_mem_limit=}", "not key=value"},
		{"cuda:0{Bad-Key=1}", "not key=value"},
		{"cuda:0{gpu_mem_limit=1,gpu_mem_limit=2}", "given twice"},
		{"cuda:0{device_id=1}", "not device_id"},
		{"cuda:0{gpu_mem_limit=lots}", "bad size"},
		{"cuda:0{gpu_mem_limit=0}", "bad size"},
		{"cuda:0{gpu_mem_limit=-1GB}", "bad size"},
		{"cuda:0{gpu_mem_limit=99999999999TiB}", "overflows"},
	} {
		_, err := ParseProviders(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: error %v, want one containing %q", c.spec, err, c.msg)
		}
	}
}

// TestProviderOptions checks every option key of the CUDA and TensorRT
// providers: the values each accepts, what ONNX Runtime receives for them,
// and the exact error for a value or key it refuses.
func TestProviderOptions(t *testing.T) {
	const (
		cudaKeys = "arena_extend_strategy, cudnn_conv_algo_search, cudnn_conv_use_max_workspace, do_copy_in_default_stream, gpu_mem_limit"
		trtKeys  = "trt_engine_cache_enable, trt_engine_cache_path, trt_fp16_enable, trt_int8_enable, trt_max_workspace_size, trt_timing_cache_enable"
	)
	if got := strings.Join(ProviderOptionKeys(ProviderCUDA), ", "); got != cudaKeys {
		t.Errorf("cuda keys %s", got)
	}
	if got := strings.Join(ProviderOptionKeys(ProviderTensorRT), ", "); got != trtKeys {
		t.Errorf("tensorrt keys %s", got)
	}
	if got := ProviderOptionKeys(ProviderCPU); len(got) != 0 {
		t.Errorf("cpu keys %v", got)
	}

	for _, c := range []struct{ entry, key, want string }{
		{"cuda:1{gpu_mem_limit=8GiB}", "gpu_mem_limit", "8589934592"},
		{"cuda:1{gpu_mem_limit=512MiB}", "gpu_mem_limit", "536870912"},
		{"cuda:1{gpu_mem_limit=64KiB}", "gpu_mem_limit", "65536"},
		{"cuda:1{gpu_mem_limit=2GB}", "gpu_mem_limit", "2000000000"},
		{"cuda:1{gpu_mem_limit=1TiB}", "gpu_mem_limit", "1099511627776"},
		{"cuda:1{gpu_mem_limit=4096}", "gpu_mem_limit", "4096"},
		{"cuda:1{gpu_mem_limit=4096B}", "gpu_mem_limit", "4096"},
		{"cuda:1{gpu_mem_limit=8 GiB}", "gpu_mem_limit", "8589934592"},
		{"cuda:1{arena_extend_strategy=kNextPowerOfTwo}", "arena_extend_strategy", "kNextPowerOfTwo"},
		{"cuda:1{arena_extend_strategy=kSameAsRequested}", "arena_extend_strategy", "kSameAsRequested"},
		{"cuda:1{arena_extend_strategy=ksameasrequested}", "arena_extend_strategy", "kSameAsRequested"},
		{"cuda:1{cudnn_conv_algo_search=EXHAUSTIVE}", "cudnn_conv_algo_search", "EXHAUSTIVE"},
		{"cuda:1{cudnn_conv_algo_search=HEURISTIC}", "cudnn_conv_algo_search", "HEURISTIC"},
		{"cuda:1{cudnn_conv_algo_search=default}", "cudnn_conv_algo_search", "DEFAULT"},
		{"cuda:1{do_copy_in_default_stream=1}", "do_copy_in_default_stream", "1"},
		{"cuda:1{do_copy_in_default_stream=false}", "do_copy_in_default_stream", "0"},
		{"cuda:1{cudnn_conv_use_max_workspace=0}", "cudnn_conv_use_max_workspace", "0"},
		{"cuda:1{cudnn_conv_use_max_workspace=True}", "cudnn_conv_use_max_workspace", "1"},
		{"tensorrt:1{trt_fp16_enable=1}", "trt_fp16_enable", "1"},
		{"tensorrt:1{trt_fp16_enable=0}", "trt_fp16_enable", "0"},
		{"tensorrt:1{trt_int8_enable=true}", "trt_int8_enable", "1"},
		{"tensorrt:1{trt_engine_cache_enable=1}", "trt_engine_cache_enable", "1"},
		{"tensorrt:1{trt_engine_cache_path=/var/cache/paimeng/trt}", "trt_engine_cache_path", "/var/cache/paimeng/trt"},
		{"tensorrt:1{trt_engine_cache_path=trt-cache}", "trt_engine_cache_path", "trt-cache"},
		{"tensorrt:1{trt_max_workspace_size=4GiB}", "trt_max_workspace_size", "4294967296"},
		{"tensorrt:1{trt_timing_cache_enable=FALSE}", "trt_timing_cache_enable", "0"},
	} {
		ps, err := ParseProviders(c.entry)
		if err != nil {
			t.Errorf("%s: %v", c.entry, err)
			continue
		}
		p := ps[0]
		if p.Device != 1 || p.Options[c.key] != c.want || len(p.Options) != 1 {
			t.Errorf("%s: got %+v, want %s=%s on device 1", c.entry, p, c.key, c.want)
		}
		// What ONNX Runtime receives: the option as normalised, and the
		// ordinal as device_id.
		if got := p.providerOptions(); len(got) != 2 || got[c.key] != c.want || got["device_id"] != "1" {
			t.Errorf("%s: provider options %v", c.entry, got)
		}
	}

	for _, c := range []struct{ spec, msg string }{
		{"cuda:0{gpu_mem_limit=8XB}", `inference: providers "cuda:0{gpu_mem_limit=8XB}": "cuda:0{gpu_mem_limit=8XB}": option gpu_mem_limit: bad size "8XB" (want a positive integer of bytes with an optional KB, MB, GB, TB, KiB, MiB, GiB or TiB suffix)`},
		{"cuda:0{gpu_mem_limit=1.5GiB}", `inference: providers "cuda:0{gpu_mem_limit=1.5GiB}": "cuda:0{gpu_mem_limit=1.5GiB}": option gpu_mem_limit: bad size "1.5GiB" (want a positive integer of bytes with an optional KB, MB, GB, TB, KiB, MiB, GiB or TiB suffix)`},
		{"cuda:0{gpu_mem_limit=0GiB}", `inference: providers "cuda:0{gpu_mem_limit=0GiB}": "cuda:0{gpu_mem_limit=0GiB}": option gpu_mem_limit: bad size "0GiB" (want a positive integer of bytes with an optional KB, MB, GB, TB, KiB, MiB, GiB or TiB suffix)`},
		{"cuda:0{gpu_mem_limit=20000000TiB}", `inference: providers "cuda:0{gpu_mem_limit=20000000TiB}": "cuda:0{gpu_mem_limit=20000000TiB}": option gpu_mem_limit: size "20000000TiB" overflows`},
		{"cuda:0{arena_extend_strategy=kDouble}", `inference: providers "cuda:0{arena_extend_strategy=kDouble}": "cuda:0{arena_extend_strategy=kDouble}": option arena_extend_strategy: "kDouble" is not one of kNextPowerOfTwo, kSameAsRequested`},
		{"cuda:0{arena_extend_strategy=0}", `inference: providers "cuda:0{arena_extend_strategy=0}": "cuda:0{arena_extend_strategy=0}": option arena_extend_strategy: "0" is not one of kNextPowerOfTwo, kSameAsRequested`},
		{"cuda:0{cudnn_conv_algo_search=FAST}", `inference: providers "cuda:0{cudnn_conv_algo_search=FAST}": "cuda:0{cudnn_conv_algo_search=FAST}": option cudnn_conv_algo_search: "FAST" is not one of EXHAUSTIVE, HEURISTIC, DEFAULT`},
		{"cuda:0{do_copy_in_default_stream=yes}", `inference: providers "cuda:0{do_copy_in_default_stream=yes}": "cuda:0{do_copy_in_default_stream=yes}": option do_copy_in_default_stream: "yes" is not 0 or 1 (true or false)`},
		{"cuda:0{cudnn_conv_use_max_workspace=2}", `inference: providers "cuda:0{cudnn_conv_use_max_workspace=2}": "cuda:0{cudnn_conv_use_max_workspace=2}": option cudnn_conv_use_max_workspace: "2" is not 0 or 1 (true or false)`},
		{"tensorrt:0{trt_fp16_enable=on}", `inference: providers "tensorrt:0{trt_fp16_enable=on}": "tensorrt:0{trt_fp16_enable=on}": option trt_fp16_enable: "on" is not 0 or 1 (true or false)`},
		{"tensorrt:0{trt_int8_enable=-1}", `inference: providers "tensorrt:0{trt_int8_enable=-1}": "tensorrt:0{trt_int8_enable=-1}": option trt_int8_enable: "-1" is not 0 or 1 (true or false)`},
		{"tensorrt:0{trt_engine_cache_enable=2}", `inference: providers "tensorrt:0{trt_engine_cache_enable=2}": "tensorrt:0{trt_engine_cache_enable=2}": option trt_engine_cache_enable: "2" is not 0 or 1 (true or false)`},
		{"tensorrt:0{trt_timing_cache_enable=y}", `inference: providers "tensorrt:0{trt_timing_cache_enable=y}": "tensorrt:0{trt_timing_cache_enable=y}": option trt_timing_cache_enable: "y" is not 0 or 1 (true or false)`},
		{"tensorrt:0{trt_max_workspace_size=big}", `inference: providers "tensorrt:0{trt_max_workspace_size=big}": "tensorrt:0{trt_max_workspace_size=big}": option trt_max_workspace_size: bad size "big" (want a positive integer of bytes with an optional KB, MB, GB, TB, KiB, MiB, GiB or TiB suffix)`},
		{"tensorrt:0{trt_engine_cache_path=}", `inference: providers "tensorrt:0{trt_engine_cache_path=}": "tensorrt:0{trt_engine_cache_path=}": option "trt_engine_cache_path=" is not key=value`},
		{"cuda:0{use_tf32=0}", `inference: providers "cuda:0{use_tf32=0}": "cuda:0{use_tf32=0}": unknown cuda option "use_tf32"; cuda accepts ` + cudaKeys},
		{"tensorrt:0{trt_dla_enable=1},cuda:0", `inference: providers "tensorrt:0{trt_dla_enable=1},cuda:0": "tensorrt:0{trt_dla_enable=1}": unknown tensorrt option "trt_dla_enable"; tensorrt accepts ` + trtKeys},
		{"cuda:0{trt_fp16_enable=1}", `inference: providers "cuda:0{trt_fp16_enable=1}": "cuda:0{trt_fp16_enable=1}": unknown cuda option "trt_fp16_enable" (trt_fp16_enable is a tensorrt option); cuda accepts ` + cudaKeys},
		{"tensorrt:0{gpu_mem_limit=1GiB}", `inference: providers "tensorrt:0{gpu_mem_limit=1GiB}": "tensorrt:0{gpu_mem_limit=1GiB}": unknown tensorrt option "gpu_mem_limit" (gpu_mem_limit is a cuda option); tensorrt accepts ` + trtKeys},
		{"tensorrt:0{trt_context_memory_sharing_limit=1GiB}", `inference: providers "tensorrt:0{trt_context_memory_sharing_limit=1GiB}": "tensorrt:0{trt_context_memory_sharing_limit=1GiB}": unknown tensorrt option "trt_context_memory_sharing_limit"; tensorrt accepts ` + trtKeys},
		{"cuda:1{device_id=0}", `inference: providers "cuda:1{device_id=0}": "cuda:1{device_id=0}": give the device as cuda:N, not device_id`},
	} {
		_, err := ParseProviders(c.spec)
		if err == nil || err.Error() != c.msg {
			t.Errorf("%q:\n got %v\nwant %s", c.spec, err, c.msg)
		}
	}
}
