//go:build !linux

package kernels

import "runtime"

func detect(library string) (Devices, error) {
	return Devices{}, noGPU("%s not loaded: the CUDA driver is only used on Linux, not %s", library, runtime.GOOS)
}
