package kernels_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/paimeng/paimeng/kernels"
	"github.com/paimeng/paimeng/kernels/kerneltest"
)

// The kernels compile for the architectures paimeng runs on: a CUBIN for
// those NVRTC knows, PTX for the newest it knows when the device is newer.
func TestCompileKernels(t *testing.T) {
	lib := kerneltest.NVRTC(t)
	for _, c := range []struct {
		major, minor int
		arch, kind   string
	}{
		{9, 0, "sm_90", "cubin"}, // H100, H200
		{8, 0, "sm_80", "cubin"}, // A100
		{8, 9, "sm_89", "cubin"}, // L4, L40S
		{7, 5, "sm_75", "cubin"}, // T4
		{12, 0, "", "ptx"},       // newer than this NVRTC: PTX, finished by the driver
	} {
		p, err := kernels.Compile(kernels.Source, lib, c.major, c.minor, "")
		if err != nil {
			t.Fatalf("%d.%d: %v", c.major, c.minor, err)
		}
		if p.Kind != c.kind || (c.arch != "" && p.Arch != c.arch) || p.Cached {
			t.Errorf("%d.%d: %s %s cached=%v, want %s %s", c.major, c.minor, p.Kind, p.Arch, p.Cached, c.kind, c.arch)
		}
		switch p.Kind {
		case "cubin":
			if !bytes.HasPrefix(p.Image, []byte("\x7fELF")) {
				t.Errorf("%s: not an ELF image", p.Arch)
			}
		case "ptx":
			if !strings.HasPrefix(p.Arch, "compute_") {
				t.Errorf("PTX for %s", p.Arch)
			}
		}
		for _, k := range kernels.Kernels {
			if !bytes.Contains(p.Image, []byte(k)) {
				t.Errorf("%s: kernel %s missing from the image", p.Arch, k)
			}
		}
		t.Logf("%d.%d → %s %s, %d bytes, NVRTC %s, %v", c.major, c.minor, p.Kind, p.Arch, len(p.Image), p.NVRTC, p.Took)
	}
}

// A compiled program is kept on disk per source, options, NVRTC version
// and architecture, and read back instead of compiling again.
func TestCompileCache(t *testing.T) {
	lib := kerneltest.NVRTC(t)
	dir := t.TempDir()
	a, err := kernels.Compile(kernels.Source, lib, 9, 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kernels.Compile(kernels.Source, lib, 9, 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Cached || !b.Cached || !bytes.Equal(a.Image, b.Image) {
		t.Errorf("first cached=%v, second cached=%v, same=%v", a.Cached, b.Cached, bytes.Equal(a.Image, b.Image))
	}
	c, err := kernels.Compile(kernels.Source, lib, 8, 0, dir)
	if err != nil || c.Cached {
		t.Errorf("another architecture: cached=%v, %v", c != nil && c.Cached, err)
	}
	d, err := kernels.Compile(kernels.Source+"\n// changed\n", lib, 9, 0, dir)
	if err != nil || d.Cached {
		t.Errorf("changed source: cached=%v, %v", d != nil && d.Cached, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d cache files, want 3", len(entries))
	}
}

// A source that does not compile gives NVRTC's log with the line.
func TestCompileError(t *testing.T) {
	lib := kerneltest.NVRTC(t)
	_, err := kernels.Compile("extern \"C\" __global__ void broken(int* p) {\n\tp[0] = undefined_name;\n}\n", lib, 9, 0, "")
	if err == nil {
		t.Fatal("broken source compiled")
	}
	for _, want := range []string{"NVRTC_ERROR_COMPILATION", "undefined_name", "paimeng.cu(2)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	_, err = kernels.Compile(kernels.Source, "/nonexistent/libnvrtc.so.12", 9, 0, "")
	if err == nil || !strings.Contains(err.Error(), "no usable NVRTC library") || !strings.Contains(err.Error(), "/nonexistent/libnvrtc.so.12") {
		t.Errorf("missing library: %v", err)
	}
}
