// Package kernels runs the project's CUDA kernels on NVIDIA GPUs without
// needing CUDA at build time.
//
// The CUDA driver (libcuda.so.1) and NVIDIA's runtime compiler (NVRTC) are
// loaded at run time with github.com/ebitengine/purego, so the binary
// builds without a CUDA toolkit and runs on machines without a GPU: Detect
// then reports that no GPU is present and why, and the engines run on the
// CPU.
//
// The kernels' source, paimeng.cu, is embedded in the binary. Open
// compiles it with NVRTC for the device's exact architecture (a CUBIN, or
// PTX for the newest architecture NVRTC knows when the device is newer),
// keeps the result on disk under a hash of the source, options, NVRTC
// version and architecture, loads it into the device's primary context
// and resolves every kernel. Launch wrappers (Camera, RGBPlanes, Resize,
// Halve, Preprocess, Postprocess, CopyKernel) check every buffer's bounds
// before a launch. Every kernel mirrors a Go function of package inference
// and is tested against it; floats are compiled with --fmad=false so the
// arithmetic rounds as the Go code does.
//
// Tests run the kernels without a GPU on the CUDA driver emulator in
// testdata/cudaemu (see package kerneltest): paimeng.cu compiled as C++
// behind the driver API's C ABI, after the real NVRTC has compiled it for
// sm_90.
package kernels
