//go:build linux

package kernels

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The CUDA emulator (testdata/cudaemu/cudaemu.cc) is a test double of the
// CUDA driver library: built with g++ as a libcuda.so.1, it speaks the
// driver's C ABI and runs paimeng.cu's kernels on the CPU, so that the
// driver bindings and the kernels' arithmetic are tested on machines
// without a GPU.

var (
	emuOnce sync.Once
	emuLib  string
	emuErr  error
)

// emulator builds the CUDA emulator once per test binary run and returns
// the path of its libcuda.so.1. Without g++ the test fails: the emulator
// is how this package is tested without a GPU, so it is never skipped.
func emulator(t testing.TB) string {
	t.Helper()
	emuOnce.Do(func() { emuLib, emuErr = emuBuild() })
	if emuErr != nil {
		t.Fatalf("building the CUDA emulator: %v", emuErr)
	}
	return emuLib
}

func emuBuild() (string, error) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		return "", fmt.Errorf("g++ not found (%v): install g++ (scripts/setup.sh does, or apt-get install g++) to build the CUDA emulator the kernels tests run on", err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "cudaemu", "cudaemu.cc"))
	if err != nil {
		return "", err
	}
	inc := filepath.Dir(filepath.Dir(filepath.Dir(src))) // the package directory: paimeng.cu, paimeng_cpu.h
	dir, err := os.MkdirTemp("", "paimeng-cudaemu-")
	if err != nil {
		return "", err
	}
	lib := filepath.Join(dir, "libcuda.so.1")
	// Exact IEEE single precision, as the GPU build's --fmad=false: no
	// contraction into fused multiply-adds, no x87 excess precision.
	args := []string{"-std=c++17", "-O2", "-ffp-contract=off"}
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "386" {
		args = append(args, "-msse2", "-mfpmath=sse")
	}
	args = append(args, "-shared", "-fPIC", "-o", lib, src, "-I", inc, "-pthread")
	out, err := exec.Command(gxx, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("g++ %v: %v\n%s", args, err, out)
	}
	return lib, nil
}

// emuDriver is the part of the driver API TestEmulatorDriverABI calls,
// with the C signatures of cuda.h (CUresult int, CUdevice int, CUdeviceptr
// unsigned long long, handles as pointers, size_t sizes).
type emuDriver struct {
	cuInit                    func(flags uint32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxGetCurrent           func(ctx *uintptr) int32
	cuCtxSynchronize          func() int32
	cuMemAlloc                func(dptr *uint64, size uintptr) int32
	cuMemFree                 func(dptr uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, size uintptr) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, size uintptr) int32
	cuMemsetD8                func(dst uint64, v uint8, n uintptr) int32
	cuMemGetInfo              func(free, total *uintptr) int32
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) int32
	cuModuleUnload            func(mod uintptr) int32
	cuModuleGetFunction       func(f *uintptr, mod uintptr, name *byte) int32
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params, extra *unsafe.Pointer) int32
	cuEventCreate             func(ev *uintptr, flags uint32) int32
	cuEventRecord             func(ev, stream uintptr) int32
	cuEventSynchronize        func(ev uintptr) int32
	cuEventElapsedTime        func(ms *float32, start, end uintptr) int32
	cuEventDestroy            func(ev uintptr) int32
	cuGetErrorName            func(r int32, s **byte) int32
	liveBytes                 func() int64
}

func emuLoad(t *testing.T, lib string) *emuDriver {
	t.Helper()
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatalf("dlopen %s: %v", lib, err)
	}
	d := &emuDriver{}
	for _, f := range []struct {
		ptr  any
		name string
	}{
		{&d.cuInit, "cuInit"},
		{&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
		{&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
		{&d.cuCtxSetCurrent, "cuCtxSetCurrent"},
		{&d.cuCtxGetCurrent, "cuCtxGetCurrent"},
		{&d.cuCtxSynchronize, "cuCtxSynchronize"},
		{&d.cuMemAlloc, "cuMemAlloc_v2"},
		{&d.cuMemFree, "cuMemFree_v2"},
		{&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
		{&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
		{&d.cuMemsetD8, "cuMemsetD8_v2"},
		{&d.cuMemGetInfo, "cuMemGetInfo_v2"},
		{&d.cuModuleLoadData, "cuModuleLoadData"},
		{&d.cuModuleUnload, "cuModuleUnload"},
		{&d.cuModuleGetFunction, "cuModuleGetFunction"},
		{&d.cuLaunchKernel, "cuLaunchKernel"},
		{&d.cuEventCreate, "cuEventCreate"},
		{&d.cuEventRecord, "cuEventRecord"},
		{&d.cuEventSynchronize, "cuEventSynchronize"},
		{&d.cuEventElapsedTime, "cuEventElapsedTime"},
		{&d.cuEventDestroy, "cuEventDestroy_v2"},
		{&d.cuGetErrorName, "cuGetErrorName"},
		{&d.liveBytes, "cudaemu_live_bytes"},
	} {
		sym, err := purego.Dlsym(h, f.name)
		if err != nil {
			t.Fatalf("%s: %s missing: %v", lib, f.name, err)
		}
		purego.RegisterFunc(f.ptr, sym)
	}
	return d
}

// emuCString is s as a NUL-terminated C string.
func emuCString(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}

// emuGoString reads a NUL-terminated C string.
func emuGoString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; ; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			return string(b)
		}
		b = append(b, c)
	}
}

// emuPTX is a hand-written stand-in for NVRTC's PTX of pm_copy.
const emuPTX = `//
// Generated by hand for the CUDA emulator's test
//

.version 8.4
.target sm_90
.address_size 64

	// .globl	pm_copy

.visible .entry pm_copy(
	.param .u64 pm_copy_param_0,
	.param .u64 pm_copy_param_1,
	.param .u64 pm_copy_param_2
)
{
	ret;
}
`

// emuCubin is a minimal ELF64 CUDA image (EM_CUDA) whose only section is
// a string table naming pm_halve, as a cubin's symbol names are.
func emuCubin() []byte {
	strtab := []byte("\x00.shstrtab\x00pm_halve\x00.text.pm_halve\x00")
	const ehsize, shentsize = 64, 64
	shoff := ehsize + len(strtab)
	img := make([]byte, shoff+2*shentsize)
	copy(img, "\x7fELF")
	img[4], img[5], img[6] = 2, 1, 1 // ELFCLASS64, little-endian, EV_CURRENT
	le := binary.LittleEndian
	le.PutUint16(img[0x10:], 2)   // ET_EXEC
	le.PutUint16(img[0x12:], 190) // EM_CUDA
	le.PutUint32(img[0x14:], 1)
	le.PutUint64(img[0x28:], uint64(shoff))
	le.PutUint16(img[0x34:], ehsize)
	le.PutUint16(img[0x3A:], shentsize)
	le.PutUint16(img[0x3C:], 2) // e_shnum
	le.PutUint16(img[0x3E:], 1) // e_shstrndx
	copy(img[ehsize:], strtab)
	sh := img[shoff+shentsize:]
	le.PutUint32(sh[0:], 1) // sh_name ".shstrtab"
	le.PutUint32(sh[4:], 3) // SHT_STRTAB
	le.PutUint64(sh[0x18:], ehsize)
	le.PutUint64(sh[0x20:], uint64(len(strtab)))
	return img
}

// TestEmulatorDriverABI checks the emulator against the driver API's C
// ABI and semantics: device queries through DetectLibrary, contexts
// current per OS thread, checked memory calls, modules from PTX text and
// cubins, a kernel launch with kernelParams, events and leak accounting.
func TestEmulatorDriverABI(t *testing.T) {
	lib := emulator(t)

	ds, err := DetectLibrary(lib)
	if err != nil {
		t.Fatalf("DetectLibrary(%s): %v", lib, err)
	}
	if len(ds.GPUs) != 1 {
		t.Fatalf("devices %+v, want 1", ds.GPUs)
	}
	if g := ds.GPUs[0]; g.Index != 0 || g.Name != "paimeng CUDA emulator (CPU)" || g.ComputeCapability() != "9.0" || g.Memory != 8<<30 {
		t.Errorf("device %+v", g)
	}
	if ds.Driver != 12040 || ds.Library != lib {
		t.Errorf("driver %d, library %s", ds.Driver, ds.Library)
	}

	d := emuLoad(t, lib)
	check := func(what string, got, want int32) {
		t.Helper()
		if got != want {
			var name *byte
			d.cuGetErrorName(got, &name)
			t.Fatalf("%s = %d (%s), want %d", what, got, emuGoString(name), want)
		}
	}
	check("cuInit", d.cuInit(0), 0)
	var name *byte
	check("cuGetErrorName(500)", d.cuGetErrorName(500, &name), 0)
	if s := emuGoString(name); s != "CUDA_ERROR_NOT_FOUND" {
		t.Errorf("cuGetErrorName(500) = %q", s)
	}

	// Contexts are current per OS thread: this goroutine keeps its thread
	// and leaves it with no context current.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	check("cuCtxSetCurrent(NULL)", d.cuCtxSetCurrent(0), 0)
	var dptr uint64
	check("cuMemAlloc without a context", d.cuMemAlloc(&dptr, 1<<20), 201)
	var freeMem, totalMem uintptr
	check("cuMemGetInfo without a context", d.cuMemGetInfo(&freeMem, &totalMem), 201)

	var ctx uintptr
	check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&ctx, 0), 0)
	defer func() { check("cuDevicePrimaryCtxRelease", d.cuDevicePrimaryCtxRelease(0), 0) }()
	check("cuDevicePrimaryCtxRetain(device 1)", d.cuDevicePrimaryCtxRetain(&ctx, 1), 101)
	check("cuCtxSetCurrent", d.cuCtxSetCurrent(ctx), 0)
	defer func() { check("cuCtxSetCurrent(NULL)", d.cuCtxSetCurrent(0), 0) }()
	var cur uintptr
	check("cuCtxGetCurrent", d.cuCtxGetCurrent(&cur), 0)
	if cur != ctx || ctx == 0 {
		t.Fatalf("current context %#x, want %#x", cur, ctx)
	}

	// Another OS thread has no context current.
	other := make(chan int32)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var p uint64
		other <- d.cuMemAlloc(&p, 256)
	}()
	check("cuMemAlloc on another thread", <-other, 201)

	live0 := d.liveBytes()
	const size = 1 << 20
	var src, dst uint64
	check("cuMemAlloc", d.cuMemAlloc(&src, size), 0)
	check("cuMemAlloc", d.cuMemAlloc(&dst, size), 0)
	if src%256 != 0 || dst%256 != 0 {
		t.Errorf("device pointers %#x, %#x not 256-byte aligned", src, dst)
	}
	if got := d.liveBytes() - live0; got != 2*size {
		t.Errorf("cudaemu_live_bytes grew by %d, want %d", got, 2*size)
	}
	check("cuMemGetInfo", d.cuMemGetInfo(&freeMem, &totalMem), 0)
	if totalMem != 8<<30 || uint64(freeMem) != 8<<30-uint64(d.liveBytes()) {
		t.Errorf("cuMemGetInfo: free %d, total %d, live %d", freeMem, totalMem, d.liveBytes())
	}

	host := make([]byte, size)
	for i := range host {
		host[i] = byte(i*7 + i>>11)
	}
	back := make([]byte, size)
	check("cuMemcpyHtoD", d.cuMemcpyHtoD(src, unsafe.Pointer(&host[0]), size), 0)
	check("cuMemcpyDtoH", d.cuMemcpyDtoH(unsafe.Pointer(&back[0]), src, size), 0)
	if !bytes.Equal(host, back) {
		t.Fatal("bytes copied in and out differ")
	}
	check("cuMemcpyDtoH past the end", d.cuMemcpyDtoH(unsafe.Pointer(&back[0]), src+size-16, 32), 1)
	check("cuMemcpyHtoD past the end", d.cuMemcpyHtoD(dst+1, unsafe.Pointer(&host[0]), size), 1)
	check("cuMemsetD8 past the end", d.cuMemsetD8(dst+size, 0, 1), 1)
	check("cuMemFree of an interior pointer", d.cuMemFree(src+256), 1)
	check("cuMemsetD8", d.cuMemsetD8(dst, 0, size), 0)

	// Modules: PTX text and a cubin, each naming the kernels it holds.
	ptx := append([]byte(emuPTX), 0)
	var mod uintptr
	check("cuModuleLoadData(garbage)", d.cuModuleLoadData(&mod, unsafe.Pointer(emuCString("not an image"))), 200)
	check("cuModuleLoadData(PTX)", d.cuModuleLoadData(&mod, unsafe.Pointer(&ptx[0])), 0)
	defer func() { check("cuModuleUnload", d.cuModuleUnload(mod), 0) }()
	var copyFn, fn uintptr
	check(`cuModuleGetFunction("pm_copy")`, d.cuModuleGetFunction(&copyFn, mod, emuCString("pm_copy")), 0)
	check(`cuModuleGetFunction("pm_camera")`, d.cuModuleGetFunction(&fn, mod, emuCString("pm_camera")), 500)
	cubin := emuCubin()
	var cubinMod uintptr
	check("cuModuleLoadData(cubin)", d.cuModuleLoadData(&cubinMod, unsafe.Pointer(&cubin[0])), 0)
	check(`cuModuleGetFunction(cubin, "pm_halve")`, d.cuModuleGetFunction(&fn, cubinMod, emuCString("pm_halve")), 0)
	check(`cuModuleGetFunction(cubin, "pm_copy")`, d.cuModuleGetFunction(&fn, cubinMod, emuCString("pm_copy")), 500)
	check("cuModuleUnload(cubin)", d.cuModuleUnload(cubinMod), 0)
	check("cuModuleUnload twice", d.cuModuleUnload(cubinMod), 400)

	// pm_copy(const uint4* src, uint4* dst, long long n): kernelParams
	// points at each argument's value.
	n := int64(size / 16)
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&src)
	pin.Pin(&dst)
	pin.Pin(&n)
	params := [3]unsafe.Pointer{unsafe.Pointer(&src), unsafe.Pointer(&dst), unsafe.Pointer(&n)}
	pin.Pin(&params[0])
	launch := func(gx, bx, shared uint32, extra *unsafe.Pointer) int32 {
		return d.cuLaunchKernel(copyFn, gx, 1, 1, bx, 1, 1, shared, 0, &params[0], extra)
	}
	check("cuLaunchKernel with 2048 threads a block", launch(64, 2048, 0, nil), 1)
	check("cuLaunchKernel with an empty grid", launch(0, 256, 0, nil), 1)
	check("cuLaunchKernel with shared memory", launch(64, 256, 1024, nil), 1)
	check("cuLaunchKernel with extra", launch(64, 256, 0, &params[0]), 1)
	check("cuLaunchKernel without kernelParams", d.cuLaunchKernel(copyFn, 64, 1, 1, 256, 1, 1, 0, 0, nil, nil), 1)

	var start, end uintptr
	check("cuEventCreate", d.cuEventCreate(&start, 0), 0)
	check("cuEventCreate", d.cuEventCreate(&end, 0), 0)
	var ms float32
	check("cuEventElapsedTime before records", d.cuEventElapsedTime(&ms, start, end), 400)
	check("cuEventRecord", d.cuEventRecord(start, 0), 0)
	check("cuLaunchKernel(pm_copy)", launch(64, 256, 0, nil), 0)
	check("cuEventRecord", d.cuEventRecord(end, 0), 0)
	check("cuEventSynchronize", d.cuEventSynchronize(end), 0)
	check("cuEventElapsedTime", d.cuEventElapsedTime(&ms, start, end), 0)
	if ms < 0 {
		t.Errorf("elapsed %v ms", ms)
	}
	t.Logf("pm_copy of %d bytes: %.3f ms", size, ms)
	check("cuEventDestroy", d.cuEventDestroy(start), 0)
	check("cuEventDestroy", d.cuEventDestroy(end), 0)
	check("cuCtxSynchronize", d.cuCtxSynchronize(), 0)

	clear(back)
	check("cuMemcpyDtoH", d.cuMemcpyDtoH(unsafe.Pointer(&back[0]), dst, size), 0)
	if !bytes.Equal(host, back) {
		for i := range back {
			if back[i] != host[i] {
				t.Fatalf("pm_copy: byte %d is %#x, want %#x", i, back[i], host[i])
			}
		}
	}

	check("cuMemFree", d.cuMemFree(src), 0)
	check("cuMemFree", d.cuMemFree(dst), 0)
	check("cuMemFree twice", d.cuMemFree(dst), 1)
	if got := d.liveBytes(); got != live0 {
		t.Errorf("cudaemu_live_bytes = %d after the frees, want %d", got, live0)
	}
}
