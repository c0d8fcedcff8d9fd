package kernels

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source is the project's CUDA C++ (paimeng.cu), compiled at run time.
//
//go:embed paimeng.cu
var Source string

// NVRTCLibraries are the names and paths tried, in order, when no NVRTC
// library is named: the sonames of CUDA 13, 12 and 11.2+ installations as
// the dynamic loader finds them, then the usual toolkit folder.
var NVRTCLibraries = []string{
	"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so",
	"/usr/local/cuda/lib64/libnvrtc.so",
}

// nvrtcAPI holds NVRTC's entry points.
type nvrtcAPI struct {
	path                 string
	version              func(major, minor *int32) int32
	getNumSupportedArchs func(n *int32) int32
	getSupportedArchs    func(archs *int32) int32
	createProgram        func(prog *uintptr, src, name *byte, numHeaders int32, headers, includeNames **byte) int32
	compileProgram       func(prog uintptr, numOptions int32, options **byte) int32
	getProgramLogSize    func(prog uintptr, size *uintptr) int32
	getProgramLog        func(prog uintptr, log *byte) int32
	getPTXSize           func(prog uintptr, size *uintptr) int32
	getPTX               func(prog uintptr, ptx *byte) int32
	getCUBINSize         func(prog uintptr, size *uintptr) int32
	getCUBIN             func(prog uintptr, cubin *byte) int32
	destroyProgram       func(prog *uintptr) int32
}

var (
	nvrtcMu   sync.Mutex
	nvrtcLibs = map[string]*nvrtcAPI{}
)

// loadNVRTC opens the named library, or the first of NVRTCLibraries that
// loads, and resolves NVRTC's entry points.
func loadNVRTC(library string, fallbacks ...string) (*nvrtcAPI, error) {
	nvrtcMu.Lock()
	defer nvrtcMu.Unlock()
	names := append(slices.Clone(NVRTCLibraries), fallbacks...)
	if library != "" {
		names = []string{library}
	}
	var reasons []string
	for _, name := range names {
		if api := nvrtcLibs[name]; api != nil {
			return api, nil
		}
		if strings.Contains(name, "/") {
			// NVRTC opens its builtins library by soname at compile
			// time; load the one beside it first so that is found.
			builtins, _ := filepath.Glob(filepath.Join(filepath.Dir(name), "libnvrtc-builtins.so.*"))
			for _, b := range builtins {
				dlopen(b)
			}
		}
		h, err := dlopen(name)
		if err != nil {
			reasons = append(reasons, strings.TrimSpace(err.Error()))
			continue
		}
		api := &nvrtcAPI{path: name}
		if err := bind(h, name, []symbol{
			{&api.version, "nvrtcVersion"},
			{&api.getNumSupportedArchs, "nvrtcGetNumSupportedArchs"},
			{&api.getSupportedArchs, "nvrtcGetSupportedArchs"},
			{&api.createProgram, "nvrtcCreateProgram"},
			{&api.compileProgram, "nvrtcCompileProgram"},
			{&api.getProgramLogSize, "nvrtcGetProgramLogSize"},
			{&api.getProgramLog, "nvrtcGetProgramLog"},
			{&api.getPTXSize, "nvrtcGetPTXSize"},
			{&api.getPTX, "nvrtcGetPTX"},
			{&api.getCUBINSize, "nvrtcGetCUBINSize"},
			{&api.getCUBIN, "nvrtcGetCUBIN"},
			{&api.destroyProgram, "nvrtcDestroyProgram"},
		}); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		nvrtcLibs[name] = api
		return api, nil
	}
	return nil, fmt.Errorf("kernels: no usable NVRTC library (set PAIMENG_NVRTC_LIBRARY, or run scripts/nvrtc.sh): %s", strings.Join(reasons, "; "))
}

// Version returns NVRTC's version as "major.minor".
func (n *nvrtcAPI) Version() string {
	var major, minor int32
	if n.version(&major, &minor) != 0 {
		return "unknown"
	}
	return strconv.Itoa(int(major)) + "." + strconv.Itoa(int(minor))
}

// archs lists the SM versions NVRTC compiles for (e.g. 50 … 90).
func (n *nvrtcAPI) archs() ([]int, error) {
	var count int32
	if r := n.getNumSupportedArchs(&count); r != 0 || count <= 0 {
		return nil, fmt.Errorf("kernels: nvrtcGetNumSupportedArchs: %s", nvrtcError(r))
	}
	a := make([]int32, count)
	if r := n.getSupportedArchs(&a[0]); r != 0 {
		return nil, fmt.Errorf("kernels: nvrtcGetSupportedArchs: %s", nvrtcError(r))
	}
	out := make([]int, len(a))
	for i, v := range a {
		out[i] = int(v)
	}
	slices.Sort(out)
	return out, nil
}

// Program is compiled device code: a CUBIN for the device's exact
// architecture, or PTX the driver finishes when NVRTC is older than the
// device.
type Program struct {
	Image  []byte // NUL-terminated for PTX
	Kind   string // "cubin" or "ptx"
	Arch   string // "sm_90", or "compute_90" for PTX
	NVRTC  string // NVRTC version
	Cached bool   // read from the cache rather than compiled
	Took   time.Duration
}

// CompileOptions are the NVRTC options every compile uses: float operations
// are not fused, so results match the Go code the kernels mirror.
var CompileOptions = []string{"--fmad=false", "--std=c++17", "-default-device"}

// Compile compiles src for compute capability major.minor with NVRTC
// (library as loadNVRTC takes it). With cacheDir set, the result is kept
// there under a hash of the source, options, NVRTC version and
// architecture, and read back instead of compiling again.
//
// With library "", the first of NVRTCLibraries and then of fallbacks that
// loads is used.
func Compile(src, library string, major, minor int, cacheDir string, fallbacks ...string) (*Program, error) {
	start := time.Now()
	api, err := loadNVRTC(library, fallbacks...)
	if err != nil {
		return nil, err
	}
	archs, err := api.archs()
	if err != nil {
		return nil, err
	}
	want := major*10 + minor
	arch, kind := "sm_"+strconv.Itoa(want), "cubin"
	if !slices.Contains(archs, want) {
		// NVRTC is older than the device: PTX for the newest architecture
		// it knows that the device runs; the driver compiles it on load.
		best := 0
		for _, a := range archs {
			if a <= want {
				best = a
			}
		}
		if best == 0 {
			return nil, fmt.Errorf("kernels: NVRTC %s (%s) compiles for %v, none of which runs on compute capability %d.%d", api.Version(), api.path, archs, major, minor)
		}
		arch, kind = "compute_"+strconv.Itoa(best), "ptx"
	}
	opts := append([]string{"--gpu-architecture=" + arch}, CompileOptions...)
	ver := api.Version()
	key := sha256.Sum256([]byte(strings.Join(append([]string{ver, kind, src}, opts...), "\x00")))
	var path string
	if cacheDir != "" {
		path = filepath.Join(cacheDir, hex.EncodeToString(key[:16])+"."+kind)
		if img, err := os.ReadFile(path); err == nil && len(img) > 0 {
			return &Program{Image: img, Kind: kind, Arch: arch, NVRTC: ver, Cached: true, Took: time.Since(start)}, nil
		}
	}
	img, err := api.compile(src, "paimeng.cu", opts, kind == "cubin")
	if err != nil {
		return nil, fmt.Errorf("kernels: NVRTC %s (%s) for %s: %w", ver, api.path, arch, err)
	}
	if path != "" {
		if err := writeAtomic(path, img); err != nil {
			return nil, fmt.Errorf("kernels: kernel cache: %w", err)
		}
	}
	return &Program{Image: img, Kind: kind, Arch: arch, NVRTC: ver, Took: time.Since(start)}, nil
}

// compile runs NVRTC once. The program log is part of a compile error.
func (n *nvrtcAPI) compile(src, name string, opts []string, cubin bool) ([]byte, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	srcC, nameC := cstring(src), cstring(name)
	var prog uintptr
	if r := n.createProgram(&prog, &srcC[0], &nameC[0], 0, nil, nil); r != 0 {
		return nil, fmt.Errorf("nvrtcCreateProgram: %s", nvrtcError(r))
	}
	defer n.destroyProgram(&prog)
	optPtrs := make([]*byte, len(opts))
	for i, o := range opts {
		c := cstring(o)
		pin.Pin(&c[0])
		optPtrs[i] = &c[0]
	}
	pin.Pin(&optPtrs[0])
	r := n.compileProgram(prog, int32(len(optPtrs)), &optPtrs[0])
	logText := n.log(prog)
	if r != 0 {
		return nil, fmt.Errorf("compile failed: %s\n%s", nvrtcError(r), logText)
	}
	var size uintptr
	get, getSize := n.getPTX, n.getPTXSize
	if cubin {
		get, getSize = n.getCUBIN, n.getCUBINSize
	}
	if r := getSize(prog, &size); r != 0 || size == 0 {
		return nil, fmt.Errorf("reading the compiled program's size: %s", nvrtcError(r))
	}
	img := make([]byte, size)
	if r := get(prog, &img[0]); r != 0 {
		return nil, fmt.Errorf("reading the compiled program: %s", nvrtcError(r))
	}
	return img, nil
}

func (n *nvrtcAPI) log(prog uintptr) string {
	var size uintptr
	if n.getProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	b := make([]byte, size)
	if n.getProgramLog(prog, &b[0]) != 0 {
		return ""
	}
	return strings.TrimSpace(string(bytes.TrimRight(b, "\x00")))
}

func cstring(s string) []byte { return append([]byte(s), 0) }

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".kernel-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// nvrtcError names an nvrtcResult.
func nvrtcError(r int32) string {
	names := []string{"NVRTC_SUCCESS", "NVRTC_ERROR_OUT_OF_MEMORY", "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
		"NVRTC_ERROR_INVALID_INPUT", "NVRTC_ERROR_INVALID_PROGRAM", "NVRTC_ERROR_INVALID_OPTION",
		"NVRTC_ERROR_COMPILATION", "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
		"NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION", "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
		"NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID", "NVRTC_ERROR_INTERNAL_ERROR"}
	if r >= 0 && int(r) < len(names) {
		return names[r] + " (" + strconv.Itoa(int(r)) + ")"
	}
	return "NVRTC error " + strconv.Itoa(int(r))
}
