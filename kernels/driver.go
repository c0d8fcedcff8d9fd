package kernels

import (
	"bytes"
	"strings"
	"sync"
	"unsafe"
)

// CUDA driver device attributes.
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// driver holds the CUDA driver API entry points the package uses. Handles
// (contexts, modules, functions, events) are opaque pointers, device
// memory is a CUdeviceptr (64 bits).
type driver struct {
	library string

	cuInit               func(flags uint32) int32
	cuDriverGetVersion   func(version *int32) int32
	cuDeviceGetCount     func(count *int32) int32
	cuDeviceGet          func(dev *int32, ordinal int32) int32
	cuDeviceGetName      func(name *byte, length int32, dev int32) int32
	cuDeviceTotalMem     func(bytes *uint64, dev int32) int32
	cuDeviceGetAttribute func(value *int32, attr int32, dev int32) int32

	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuModuleLoadData          func(mod *uintptr, image *byte) int32
	cuModuleUnload            func(mod uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params *uintptr, extra *uintptr) int32
	cuMemAlloc                func(ptr *uint64, size uintptr) int32
	cuMemFree                 func(ptr uint64) int32
	cuMemcpyHtoD              func(dst uint64, src *byte, n uintptr) int32
	cuMemcpyDtoH              func(dst *byte, src uint64, n uintptr) int32
	cuMemcpyDtoD              func(dst, src uint64, n uintptr) int32
	cuMemsetD8                func(dst uint64, v uint8, n uintptr) int32
	cuMemGetInfo              func(free, total *uintptr) int32
	cuMemAllocHost            func(p *unsafe.Pointer, size uintptr) int32
	cuMemFreeHost             func(p unsafe.Pointer) int32
	cuEventCreate             func(ev *uintptr, flags uint32) int32
	cuEventRecord             func(ev uintptr, stream uintptr) int32
	cuEventSynchronize        func(ev uintptr) int32
	cuEventElapsedTime        func(ms *float32, start, end uintptr) int32
	cuEventDestroy            func(ev uintptr) int32
	cuGetErrorName            func(r int32, name **byte) int32
}

var (
	driversMu sync.Mutex
	drivers   = map[string]*driver{} // loaded libraries stay loaded
)

// load opens library once and resolves the driver's entry points.
func load(library string) (*driver, error) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if d := drivers[library]; d != nil {
		return d, nil
	}
	h, err := dlopen(library)
	if err != nil {
		return nil, noGPU("%s not found (%v)", library, strings.TrimSpace(err.Error()))
	}
	d := &driver{library: library}
	if err := bind(h, library, []symbol{
		{&d.cuInit, "cuInit"},
		{&d.cuDriverGetVersion, "cuDriverGetVersion"},
		{&d.cuDeviceGetCount, "cuDeviceGetCount"},
		{&d.cuDeviceGet, "cuDeviceGet"},
		{&d.cuDeviceGetName, "cuDeviceGetName"},
		{&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
		{&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
		{&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
		{&d.cuCtxSetCurrent, "cuCtxSetCurrent"},
		{&d.cuCtxSynchronize, "cuCtxSynchronize"},
		{&d.cuModuleLoadData, "cuModuleLoadData"},
		{&d.cuModuleUnload, "cuModuleUnload"},
		{&d.cuModuleGetFunction, "cuModuleGetFunction"},
		{&d.cuLaunchKernel, "cuLaunchKernel"},
		{&d.cuMemAlloc, "cuMemAlloc_v2"},
		{&d.cuMemFree, "cuMemFree_v2"},
		{&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
		{&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
		{&d.cuMemcpyDtoD, "cuMemcpyDtoD_v2"},
		{&d.cuMemsetD8, "cuMemsetD8_v2"},
		{&d.cuMemGetInfo, "cuMemGetInfo_v2"},
		{&d.cuMemAllocHost, "cuMemAllocHost_v2"},
		{&d.cuMemFreeHost, "cuMemFreeHost"},
		{&d.cuEventCreate, "cuEventCreate"},
		{&d.cuEventRecord, "cuEventRecord"},
		{&d.cuEventSynchronize, "cuEventSynchronize"},
		{&d.cuEventElapsedTime, "cuEventElapsedTime"},
		{&d.cuEventDestroy, "cuEventDestroy_v2"},
		{&d.cuGetErrorName, "cuGetErrorName"},
	}); err != nil {
		return nil, noGPU("%s is not a usable CUDA driver: %v", library, err)
	}
	drivers[library] = d
	return d, nil
}

func detect(library string) (Devices, error) {
	d, err := load(library)
	if err != nil {
		return Devices{}, err
	}
	if r := d.cuInit(0); r != 0 {
		return Devices{}, noGPU("%s: cuInit failed: %s", library, d.errorName(r))
	}
	ds := Devices{Library: library}
	var v int32
	if r := d.cuDriverGetVersion(&v); r == 0 {
		ds.Driver = int(v)
	}
	var n int32
	if r := d.cuDeviceGetCount(&n); r != 0 {
		return Devices{}, noGPU("%s: cuDeviceGetCount failed: %s", library, d.errorName(r))
	}
	if n == 0 {
		return Devices{}, noGPU("%s: the CUDA driver reports no device", library)
	}
	for i := range n {
		g, err := d.device(int(i))
		if err != nil {
			return Devices{}, noGPU("%s: %v", library, err)
		}
		ds.GPUs = append(ds.GPUs, g)
	}
	return ds, nil
}

// device reads one device's name, memory and compute capability.
func (d *driver) device(i int) (Device, error) {
	var dev int32
	if r := d.cuDeviceGet(&dev, int32(i)); r != 0 {
		return Device{}, d.fail(r, "cuDeviceGet(%d)", i)
	}
	g := Device{Index: i}
	name := make([]byte, 256)
	if r := d.cuDeviceGetName(&name[0], int32(len(name)), dev); r != 0 {
		return Device{}, d.fail(r, "cuDeviceGetName(%d)", i)
	}
	if k := bytes.IndexByte(name, 0); k >= 0 {
		name = name[:k]
	}
	g.Name = string(name)
	if r := d.cuDeviceTotalMem(&g.Memory, dev); r != 0 {
		return Device{}, d.fail(r, "cuDeviceTotalMem(%d)", i)
	}
	var major, minor, sms int32
	if r := d.cuDeviceGetAttribute(&major, attrComputeCapabilityMajor, dev); r != 0 {
		return Device{}, d.fail(r, "compute capability of device %d", i)
	}
	if r := d.cuDeviceGetAttribute(&minor, attrComputeCapabilityMinor, dev); r != 0 {
		return Device{}, d.fail(r, "compute capability of device %d", i)
	}
	if r := d.cuDeviceGetAttribute(&sms, attrMultiprocessorCount, dev); r != 0 {
		return Device{}, d.fail(r, "multiprocessor count of device %d", i)
	}
	g.Major, g.Minor, g.SMs = int(major), int(minor), int(sms)
	return g, nil
}
