package kernels

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// CUDAError is a failed CUDA driver call.
type CUDAError struct {
	Op   string // what was being done
	Code int32  // CUresult
	Name string // for example CUDA_ERROR_OUT_OF_MEMORY
}

func (e *CUDAError) Error() string {
	return "kernels: " + e.Op + ": " + e.Name + " (" + strconv.Itoa(int(e.Code)) + ")"
}

// OutOfMemory reports whether the call failed for lack of device memory.
func (e *CUDAError) OutOfMemory() bool { return e.Code == 2 }

func (d *driver) errorName(r int32) string {
	var p *byte
	if d.cuGetErrorName != nil && d.cuGetErrorName(r, &p) == 0 && p != nil {
		var b []byte
		for q := unsafe.Pointer(p); *(*byte)(q) != 0 && len(b) < 128; q = unsafe.Add(q, 1) {
			b = append(b, *(*byte)(q))
		}
		return string(b)
	}
	return cudaError(r)
}

func (d *driver) fail(r int32, format string, args ...any) error {
	return &CUDAError{Op: fmt.Sprintf(format, args...), Code: r, Name: d.errorName(r)}
}

// Options configures Open.
type Options struct {
	Device int    // CUDA device ordinal
	Driver string // the CUDA driver library; default DefaultLibrary
	NVRTC  string // the NVRTC library; default the first of NVRTCLibraries, then of NVRTCFallbacks, that loads
	// NVRTCFallbacks are tried after NVRTCLibraries when NVRTC is "".
	NVRTCFallbacks []string
	CacheDir       string // where compiled programs are kept; "" compiles every time
	Source         string // CUDA source; default Source
}

// GPU is one device with the project's kernels loaded: its primary
// context, the compiled module and its functions. Calls are serialised;
// each runs on a locked OS thread with the context current.
type GPU struct {
	Device  Device
	Program *Program

	d      *driver
	dev    int32
	ctx    uintptr
	mod    uintptr
	mu     sync.Mutex
	fns    map[string]uintptr
	closed bool
}

// Kernels is every kernel in Source.
var Kernels = []string{"pm_camera", "pm_rgb_planes", "pm_resize_u8", "pm_halve", "pm_preprocess", "pm_postprocess", "pm_copy"}

// Open initialises the driver, compiles (or reads from the cache) the
// kernels for the device's architecture, and loads them.
func Open(opt Options) (*GPU, error) {
	lib := opt.Driver
	if lib == "" {
		lib = DefaultLibrary
	}
	ds, err := DetectLibrary(lib)
	if err != nil {
		return nil, err
	}
	if opt.Device < 0 || opt.Device >= len(ds.GPUs) {
		return nil, fmt.Errorf("kernels: no device %d (%d present)", opt.Device, len(ds.GPUs))
	}
	d, err := load(lib)
	if err != nil {
		return nil, err
	}
	g := &GPU{Device: ds.GPUs[opt.Device], d: d, fns: map[string]uintptr{}}
	src := opt.Source
	if src == "" {
		src = Source
	}
	g.Program, err = Compile(src, opt.NVRTC, g.Device.Major, g.Device.Minor, opt.CacheDir, opt.NVRTCFallbacks...)
	if err != nil {
		return nil, err
	}
	err = g.do(func() error {
		if r := d.cuDeviceGet(&g.dev, int32(opt.Device)); r != 0 {
			return d.fail(r, "cuDeviceGet(%d)", opt.Device)
		}
		if r := d.cuDevicePrimaryCtxRetain(&g.ctx, g.dev); r != 0 {
			return d.fail(r, "retaining the primary context of device %d", opt.Device)
		}
		if r := d.cuCtxSetCurrent(g.ctx); r != 0 {
			return d.fail(r, "cuCtxSetCurrent")
		}
		img := g.Program.Image
		if g.Program.Kind == "ptx" && (len(img) == 0 || img[len(img)-1] != 0) {
			img = append(img, 0)
		}
		if r := d.cuModuleLoadData(&g.mod, &img[0]); r != 0 {
			return d.fail(r, "loading the %s for %s", g.Program.Kind, g.Program.Arch)
		}
		for _, name := range Kernels {
			var fn uintptr
			c := cstring(name)
			if r := d.cuModuleGetFunction(&fn, g.mod, &c[0]); r != 0 {
				return d.fail(r, "kernel %s", name)
			}
			g.fns[name] = fn
		}
		return nil
	})
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// do runs f with the context current on a locked OS thread, one call at a
// time.
func (g *GPU) do(f func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("kernels: %s is closed", g.Device)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if g.ctx != 0 {
		if r := g.d.cuCtxSetCurrent(g.ctx); r != 0 {
			return g.d.fail(r, "cuCtxSetCurrent")
		}
	}
	return f()
}

// Close unloads the kernels and releases the context. Memory allocated
// through g must be freed first.
func (g *GPU) Close() error {
	var err error
	if e := g.do(func() error {
		if g.mod != 0 {
			if r := g.d.cuModuleUnload(g.mod); r != 0 {
				err = g.d.fail(r, "cuModuleUnload")
			}
			g.mod = 0
		}
		if g.ctx != 0 {
			if r := g.d.cuDevicePrimaryCtxRelease(g.dev); r != 0 && err == nil {
				err = g.d.fail(r, "releasing the primary context")
			}
			g.ctx = 0
		}
		return nil
	}); e != nil {
		return nil // already closed
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return err
}

// Mem is device memory.
type Mem struct {
	Ptr  uint64
	Size int
}

// At returns the address of byte off of m.
func (m Mem) At(off int) uint64 { return m.Ptr + uint64(off) }

// Alloc allocates n bytes of device memory.
func (g *GPU) Alloc(n int) (Mem, error) {
	m := Mem{Size: n}
	err := g.do(func() error {
		if r := g.d.cuMemAlloc(&m.Ptr, uintptr(max(n, 1))); r != 0 {
			return g.d.fail(r, "allocating %d bytes", n)
		}
		return nil
	})
	return m, err
}

// Free releases m; a zero Mem is ignored.
func (g *GPU) Free(m Mem) error {
	if m.Ptr == 0 {
		return nil
	}
	return g.do(func() error {
		if r := g.d.cuMemFree(m.Ptr); r != 0 {
			return g.d.fail(r, "cuMemFree")
		}
		return nil
	})
}

func (g *GPU) check(m Mem, off, n int, what string) error {
	if off < 0 || n < 0 || off+n > m.Size {
		return fmt.Errorf("kernels: %s of %d bytes at %d outside a buffer of %d", what, n, off, m.Size)
	}
	return nil
}

// Upload copies src to m from byte off.
func (g *GPU) Upload(m Mem, off int, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if err := g.check(m, off, len(src), "upload"); err != nil {
		return err
	}
	return g.do(func() error {
		if r := g.d.cuMemcpyHtoD(m.At(off), &src[0], uintptr(len(src))); r != 0 {
			return g.d.fail(r, "copying %d bytes to the device", len(src))
		}
		return nil
	})
}

// Download copies len(dst) bytes of m from byte off into dst.
func (g *GPU) Download(dst []byte, m Mem, off int) error {
	if len(dst) == 0 {
		return nil
	}
	if err := g.check(m, off, len(dst), "download"); err != nil {
		return err
	}
	return g.do(func() error {
		if r := g.d.cuMemcpyDtoH(&dst[0], m.At(off), uintptr(len(dst))); r != 0 {
			return g.d.fail(r, "copying %d bytes from the device", len(dst))
		}
		return nil
	})
}

// CopyDevice copies n bytes from src to dst on the device.
func (g *GPU) CopyDevice(dst, src Mem, n int) error {
	if err := g.check(dst, 0, n, "copy"); err != nil {
		return err
	}
	if err := g.check(src, 0, n, "copy"); err != nil {
		return err
	}
	return g.do(func() error {
		if r := g.d.cuMemcpyDtoD(dst.Ptr, src.Ptr, uintptr(n)); r != 0 {
			return g.d.fail(r, "device-to-device copy of %d bytes", n)
		}
		return nil
	})
}

// Memset fills n bytes of m with v.
func (g *GPU) Memset(m Mem, v byte, n int) error {
	if err := g.check(m, 0, n, "memset"); err != nil {
		return err
	}
	return g.do(func() error {
		if r := g.d.cuMemsetD8(m.Ptr, v, uintptr(n)); r != 0 {
			return g.d.fail(r, "memset of %d bytes", n)
		}
		return nil
	})
}

// MemInfo returns the device's free and total memory.
func (g *GPU) MemInfo() (free, total uint64, err error) {
	err = g.do(func() error {
		var f, t uintptr
		if r := g.d.cuMemGetInfo(&f, &t); r != 0 {
			return g.d.fail(r, "cuMemGetInfo")
		}
		free, total = uint64(f), uint64(t)
		return nil
	})
	return
}

// HostBuffer is page-locked host memory: copies from the device into it
// run at full bus speed.
type HostBuffer struct {
	B   []byte
	ptr unsafe.Pointer
}

// AllocHost allocates n bytes of page-locked host memory.
func (g *GPU) AllocHost(n int) (*HostBuffer, error) {
	h := &HostBuffer{}
	err := g.do(func() error {
		if r := g.d.cuMemAllocHost(&h.ptr, uintptr(max(n, 1))); r != 0 {
			return g.d.fail(r, "allocating %d bytes of page-locked memory", n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.B = unsafe.Slice((*byte)(h.ptr), n)
	return h, nil
}

// FreeHost releases h.
func (g *GPU) FreeHost(h *HostBuffer) error {
	if h == nil || h.ptr == nil {
		return nil
	}
	p := h.ptr
	h.ptr, h.B = nil, nil
	return g.do(func() error {
		if r := g.d.cuMemFreeHost(p); r != 0 {
			return g.d.fail(r, "cuMemFreeHost")
		}
		return nil
	})
}

// Sync waits for all work on the device.
func (g *GPU) Sync() error {
	return g.do(func() error {
		if r := g.d.cuCtxSynchronize(); r != 0 {
			return g.d.fail(r, "cuCtxSynchronize")
		}
		return nil
	})
}

// Time runs f (which launches work) between two events and returns the
// device time it took, after waiting for it.
func (g *GPU) Time(f func() error) (time.Duration, error) {
	var start, end uintptr
	err := g.do(func() error {
		if r := g.d.cuEventCreate(&start, 0); r != 0 {
			return g.d.fail(r, "cuEventCreate")
		}
		if r := g.d.cuEventCreate(&end, 0); r != 0 {
			g.d.cuEventDestroy(start)
			start = 0
			return g.d.fail(r, "cuEventCreate")
		}
		if r := g.d.cuEventRecord(start, 0); r != 0 {
			return g.d.fail(r, "cuEventRecord")
		}
		return nil
	})
	defer func() {
		g.do(func() error {
			if start != 0 {
				g.d.cuEventDestroy(start)
			}
			if end != 0 {
				g.d.cuEventDestroy(end)
			}
			return nil
		})
	}()
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	var ms float32
	err = g.do(func() error {
		if r := g.d.cuEventRecord(end, 0); r != 0 {
			return g.d.fail(r, "cuEventRecord")
		}
		if r := g.d.cuEventSynchronize(end); r != 0 {
			return g.d.fail(r, "waiting for the timed work")
		}
		if r := g.d.cuEventElapsedTime(&ms, start, end); r != 0 {
			return g.d.fail(r, "cuEventElapsedTime")
		}
		return nil
	})
	return time.Duration(float64(ms) * float64(time.Millisecond)), err
}

// Dim is a launch's grid or block size.
type Dim struct{ X, Y, Z uint32 }

// Grid2D covers w×h threads (times z) with blocks of bx×by.
func Grid2D(w, h, z, bx, by int) (grid, block Dim) {
	return Dim{uint32((w + bx - 1) / bx), uint32((h + by - 1) / by), uint32(max(z, 1))}, Dim{uint32(bx), uint32(by), 1}
}

// Launch runs kernel name on the default stream without waiting for it.
// Each argument is passed by value as the kernel declares it: uint64 for a
// device pointer (Mem is converted), int32, int64, float32, or a struct
// value such as YUVMatrix.
func (g *GPU) Launch(name string, grid, block Dim, args ...any) error {
	fn, ok := g.fns[name]
	if !ok {
		return fmt.Errorf("kernels: no kernel %s", name)
	}
	if grid.X == 0 || grid.Y == 0 || grid.Z == 0 {
		return nil // nothing to do
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	params := make([]uintptr, len(args))
	for i, a := range args {
		var p unsafe.Pointer
		switch v := a.(type) {
		case Mem:
			x := v.Ptr
			p = unsafe.Pointer(&x)
		case uint64:
			p = unsafe.Pointer(&v)
		case int32:
			p = unsafe.Pointer(&v)
		case int64:
			p = unsafe.Pointer(&v)
		case float32:
			p = unsafe.Pointer(&v)
		case YUVMatrix:
			p = unsafe.Pointer(&v)
		default:
			return fmt.Errorf("kernels: %s argument %d: unsupported type %T", name, i, a)
		}
		pin.Pin(p)
		params[i] = uintptr(p)
	}
	if len(params) == 0 {
		params = append(params, 0)
	}
	pin.Pin(&params[0])
	return g.do(func() error {
		if r := g.d.cuLaunchKernel(fn, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, 0, 0, &params[0], nil); r != 0 {
			return g.d.fail(r, "launching %s", name)
		}
		return nil
	})
}

// YUVMatrix is the kernels' RGB → Y'CbCr conversion: rows Y, Cb, Cr and
// offsets (including the +0.5 that makes truncation round).
type YUVMatrix struct {
	M   [9]float32
	Off [3]float32
}
