package kernels

import (
	"errors"
	"fmt"
	"strconv"
)

// DefaultLibrary is the CUDA driver library Detect loads.
const DefaultLibrary = "libcuda.so.1"

// Device is one GPU as the CUDA driver reports it.
type Device struct {
	Index  int    // CUDA device ordinal
	Name   string // for example "NVIDIA H100 80GB HBM3"
	Memory uint64 // total memory in bytes
	Major  int    // compute capability, major
	Minor  int    // compute capability, minor
	SMs    int    // streaming multiprocessors
}

// ComputeCapability returns "major.minor", for example "9.0".
func (d Device) ComputeCapability() string {
	return strconv.Itoa(d.Major) + "." + strconv.Itoa(d.Minor)
}

// String describes the device on one line.
func (d Device) String() string {
	return fmt.Sprintf("cuda:%d %s (%.1f GiB, compute capability %s)", d.Index, d.Name, float64(d.Memory)/(1<<30), d.ComputeCapability())
}

// Devices is what Detect found.
type Devices struct {
	Library string   // the driver library that was loaded
	Driver  int      // CUDA driver API version, for example 12040 for 12.4
	GPUs    []Device // in ordinal order; never empty when Detect succeeds
}

// DriverVersion returns the driver API version as "major.minor".
func (d Devices) DriverVersion() string {
	return strconv.Itoa(d.Driver/1000) + "." + strconv.Itoa(d.Driver%1000/10)
}

// ErrNoGPU is matched (with errors.Is) by every error Detect returns when
// the machine has no usable GPU: no driver library, a driver that does not
// initialise, or no device.
var ErrNoGPU = errors.New("no GPU")

// NoGPUError says why no GPU is usable. Its message starts with "no GPU: ".
type NoGPUError struct {
	Reason string
}

func (e *NoGPUError) Error() string { return "no GPU: " + e.Reason }

// Is reports whether target is ErrNoGPU.
func (e *NoGPUError) Is(target error) bool { return target == ErrNoGPU }

func noGPU(format string, args ...any) error {
	return &NoGPUError{Reason: fmt.Sprintf(format, args...)}
}

// Detect loads the CUDA driver (DefaultLibrary) and lists its devices. On
// a machine without a GPU it returns an error matching ErrNoGPU whose
// message gives the reason. It never panics.
func Detect() (Devices, error) {
	return DetectLibrary(DefaultLibrary)
}

// DetectLibrary is Detect with the driver library named: a file name
// searched like dlopen does, or a path.
func DetectLibrary(library string) (ds Devices, err error) {
	defer func() {
		if r := recover(); r != nil {
			ds, err = Devices{}, fmt.Errorf("kernels: reading CUDA devices from %s: %v", library, r)
		}
	}()
	return detect(library)
}

// cudaError names the CUDA driver results Detect can meet.
func cudaError(r int32) string {
	name := map[int32]string{
		1:   "CUDA_ERROR_INVALID_VALUE",
		2:   "CUDA_ERROR_OUT_OF_MEMORY",
		3:   "CUDA_ERROR_NOT_INITIALIZED",
		4:   "CUDA_ERROR_DEINITIALIZED",
		34:  "CUDA_ERROR_STUB_LIBRARY",
		35:  "CUDA_ERROR_INSUFFICIENT_DRIVER",
		46:  "CUDA_ERROR_DEVICES_UNAVAILABLE",
		100: "CUDA_ERROR_NO_DEVICE",
		101: "CUDA_ERROR_INVALID_DEVICE",
		304: "CUDA_ERROR_OPERATING_SYSTEM",
		803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
		804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
		999: "CUDA_ERROR_UNKNOWN",
	}[r]
	if name == "" {
		return "CUDA error " + strconv.Itoa(int(r))
	}
	return name + " (" + strconv.Itoa(int(r)) + ")"
}
