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
		{"cuda:0{x=1}y", "text after"},
		{"cuda:0{}", "empty option"},
		{"cuda:0{x=1,}", "empty option"},
		{"cuda:0{novalue}", "not key=value"},
		{"cuda:0{x=}", "not key=value"},
		{"cuda:0{Bad-Key=1}", "not key=value"},
		{"cuda:0{x=1,x=2}", "given twice"},
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
