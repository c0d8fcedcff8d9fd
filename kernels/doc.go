// Package kernels finds the machine's NVIDIA GPUs and, later, will hold the
// project's CUDA kernels.
//
// The CUDA driver (libcuda.so.1) is loaded at run time with
// github.com/ebitengine/purego, so the binary builds without CUDA and runs
// on machines without a GPU: Detect then reports that no GPU is present and
// why, and the engines run on the CPU.
//
// CUDA C sources compiled at run time with NVRTC (also loaded through
// purego), together with their Go launch wrappers, are to be added to this
// package; nothing here requires them yet.
package kernels
