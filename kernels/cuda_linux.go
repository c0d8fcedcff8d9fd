//go:build linux

package kernels

import (
	"bytes"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// CUDA driver device attributes.
const (
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// driver holds the CUDA driver entry points Detect uses.
type driver struct {
	cuInit               func(flags uint32) int32
	cuDriverGetVersion   func(version *int32) int32
	cuDeviceGetCount     func(count *int32) int32
	cuDeviceGet          func(dev *int32, ordinal int32) int32
	cuDeviceGetName      func(name *byte, length int32, dev int32) int32
	cuDeviceTotalMem     func(bytes *uint64, dev int32) int32
	cuDeviceGetAttribute func(value *int32, attr int32, dev int32) int32
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
	h, err := purego.Dlopen(library, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, noGPU("%s not found (%v)", library, strings.TrimSpace(err.Error()))
	}
	d := &driver{}
	for _, f := range []struct {
		ptr  any
		name string
	}{
		{&d.cuInit, "cuInit"},
		{&d.cuDriverGetVersion, "cuDriverGetVersion"},
		{&d.cuDeviceGetCount, "cuDeviceGetCount"},
		{&d.cuDeviceGet, "cuDeviceGet"},
		{&d.cuDeviceGetName, "cuDeviceGetName"},
		{&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
		{&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
	} {
		sym, err := purego.Dlsym(h, f.name)
		if err != nil {
			purego.Dlclose(h)
			return nil, noGPU("%s is not a usable CUDA driver: %s missing (%v)", library, f.name, err)
		}
		purego.RegisterFunc(f.ptr, sym)
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
		return Devices{}, noGPU("%s: cuInit failed: %s", library, cudaError(r))
	}
	ds := Devices{Library: library}
	var v int32
	if r := d.cuDriverGetVersion(&v); r == 0 {
		ds.Driver = int(v)
	}
	var n int32
	if r := d.cuDeviceGetCount(&n); r != 0 {
		return Devices{}, noGPU("%s: cuDeviceGetCount failed: %s", library, cudaError(r))
	}
	if n == 0 {
		return Devices{}, noGPU("%s: the CUDA driver reports no device", library)
	}
	for i := range n {
		var dev int32
		if r := d.cuDeviceGet(&dev, i); r != 0 {
			return Devices{}, noGPU("%s: cuDeviceGet(%d) failed: %s", library, i, cudaError(r))
		}
		g := Device{Index: int(i)}
		name := make([]byte, 256)
		if r := d.cuDeviceGetName(&name[0], int32(len(name)), dev); r != 0 {
			return Devices{}, noGPU("%s: cuDeviceGetName(%d) failed: %s", library, i, cudaError(r))
		}
		if k := bytes.IndexByte(name, 0); k >= 0 {
			name = name[:k]
		}
		g.Name = string(name)
		if r := d.cuDeviceTotalMem(&g.Memory, dev); r != 0 {
			return Devices{}, noGPU("%s: cuDeviceTotalMem(%d) failed: %s", library, i, cudaError(r))
		}
		var major, minor int32
		if r := d.cuDeviceGetAttribute(&major, attrComputeCapabilityMajor, dev); r != 0 {
			return Devices{}, noGPU("%s: compute capability of device %d: %s", library, i, cudaError(r))
		}
		if r := d.cuDeviceGetAttribute(&minor, attrComputeCapabilityMinor, dev); r != 0 {
			return Devices{}, noGPU("%s: compute capability of device %d: %s", library, i, cudaError(r))
		}
		g.Major, g.Minor = int(major), int(minor)
		ds.GPUs = append(ds.GPUs, g)
	}
	return ds, nil
}
