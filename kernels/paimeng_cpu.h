// paimeng_cpu.h lets paimeng.cu build as plain C++17 (g++) so that its
// kernels run on the CPU: the CUDA emulator in testdata/cudaemu includes it
// before paimeng.cu.
//
//   g++ -std=c++17 -O2 -ffp-contract=off -fno-fast-math -msse2 -mfpmath=sse
//       -include kernels/paimeng_cpu.h -x c++ kernels/paimeng.cu ...
//
// The flags matter: the GPU build uses --fmad=false, so every float
// operation must round on its own, in IEEE single precision (SSE, no x87
// excess precision, no contraction into fused multiply-adds).
//
// The built-in variables are per OS thread: the launcher sets them before
// each call of a kernel on the thread that makes that call.

#ifndef PAIMENG_CPU_H
#define PAIMENG_CPU_H

#if defined(__FAST_MATH__)
#error "paimeng_cpu.h: build without -ffast-math; the kernels need exact IEEE float arithmetic"
#endif
#if defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ != 0
#error "paimeng_cpu.h: build with -msse2 -mfpmath=sse; x87 excess precision changes results"
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>

#define __global__
#define __device__ static inline
#define __forceinline__
#define __restrict__ __restrict

struct dim3 {
	unsigned x, y, z;
};

struct uint4 {
	unsigned x, y, z, w;
};

// One translation unit holds the kernels, so the built-ins live here.
static thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;

static inline unsigned __float_as_uint(float f) {
	unsigned u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float __uint_as_float(unsigned u) {
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }

#endif // PAIMENG_CPU_H
