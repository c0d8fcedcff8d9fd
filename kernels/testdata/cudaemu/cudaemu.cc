// cudaemu is a test double of the CUDA driver library (libcuda.so.1): it
// exports the part of the driver API that package kernels uses, with the
// driver's C signatures and error codes, and runs paimeng.cu's kernels on
// the CPU. Tests build it with
//
//   g++ -std=c++17 -O2 -ffp-contract=off -msse2 -mfpmath=sse -shared -fPIC
//       -o DIR/libcuda.so.1 kernels/testdata/cudaemu/cudaemu.cc -I kernels -pthread
//
// and load DIR/libcuda.so.1 instead of the real driver.
//
// What it checks, as the driver does:
//   - every call but cuInit, cuDriverGetVersion and cuGetError* fails with
//     CUDA_ERROR_NOT_INITIALIZED before cuInit;
//   - memory, module, event and launch calls fail with
//     CUDA_ERROR_INVALID_CONTEXT unless a context is current on the calling
//     OS thread (cuCtxSetCurrent), and with CUDA_ERROR_CONTEXT_IS_DESTROYED
//     when that context is a primary context released to zero references;
//   - cuMemcpy* and cuMemsetD8 ranges must lie inside one live allocation;
//     cuMemFree takes only live allocations;
//   - launch configurations within the limits of a compute capability 9.0
//     device, kernelParams given, no extra, no dynamic shared memory;
//   - handles (modules, functions, events, streams) must be live.
//
// Differences from a GPU: all work is synchronous (events time it with the
// host's steady clock), device pointers are host addresses, and kernels'
// memory accesses are not checked. New allocations are filled with 0xA5
// bytes, not zeros, so code that reads memory it never wrote shows it.
// Releasing the primary context to zero references does not free its
// allocations: cudaemu_live_bytes keeps counting them, so leak tests see
// buffers that were never freed.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "paimeng_cpu.h"

#include "paimeng.cu"

// ---------------------------------------------------------------------------
// Driver API types and results (cuda.h).

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_DEINITIALIZED = 4,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_INVALID_IMAGE = 200,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
	CUDA_ERROR_INVALID_PTX = 218,
	CUDA_ERROR_INVALID_HANDLE = 400,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_READY = 600,
	CUDA_ERROR_ILLEGAL_ADDRESS = 700,
	CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
	CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
	CUDA_ERROR_LAUNCH_FAILED = 719,
	CUDA_ERROR_NOT_SUPPORTED = 801,
	CUDA_ERROR_UNKNOWN = 999,
};

namespace {

// ---------------------------------------------------------------------------
// The emulated device.

const char kDeviceName[] = "paimeng CUDA emulator (CPU)";
const int kDriverVersion = 12040;
const unsigned long long kTotalMem = 8ULL << 30;
const unsigned kMaxThreadsPerBlock = 1024;
const unsigned kMaxBlockDimZ = 64;
const unsigned kMaxGridDimX = 2147483647u;
const unsigned kMaxGridDimYZ = 65535;
const size_t kAlign = 256;
const unsigned char kFill = 0xA5;

// Device attributes answered with a value; every other attribute reads 0.
int attribute(int attr) {
	switch (attr) {
	case 1: // MAX_THREADS_PER_BLOCK
		return (int)kMaxThreadsPerBlock;
	case 2: // MAX_BLOCK_DIM_X
	case 3: // MAX_BLOCK_DIM_Y
		return (int)kMaxThreadsPerBlock;
	case 4: // MAX_BLOCK_DIM_Z
		return (int)kMaxBlockDimZ;
	case 5: // MAX_GRID_DIM_X
		return (int)kMaxGridDimX;
	case 6: // MAX_GRID_DIM_Y
	case 7: // MAX_GRID_DIM_Z
		return (int)kMaxGridDimYZ;
	case 10: // WARP_SIZE
		return 32;
	case 16: // MULTIPROCESSOR_COUNT
		return 4;
	case 75: // COMPUTE_CAPABILITY_MAJOR
		return 9;
	case 76: // COMPUTE_CAPABILITY_MINOR
		return 0;
	}
	return 0;
}

// The device's primary context. refs counts cuDevicePrimaryCtxRetain
// calls not yet released; at zero the context is destroyed (its handle
// stays the same, as the driver's does).
struct CUctx_st_impl {
	int refs = 0;
	bool created = false;
};
CUctx_st_impl g_primary;
CUcontext primaryHandle() { return reinterpret_cast<CUcontext>(&g_primary); }

std::atomic<bool> g_initialized{false};
thread_local CUcontext t_current = nullptr;

std::mutex g_mu; // guards everything below and g_primary

std::map<uintptr_t, size_t> g_allocs;     // device allocations: address → bytes
std::map<uintptr_t, size_t> g_hostAllocs; // cuMemAllocHost: address → bytes
unsigned long long g_liveBytes = 0;
unsigned long long g_liveHostBytes = 0;

// ---------------------------------------------------------------------------
// Kernels: one trampoline per extern "C" __global__ kernel of paimeng.cu,
// reading each argument from kernelParams with the type of its parameter.

template <class T> inline T arg(void* p) {
	static_assert(std::is_trivially_copyable<T>::value, "kernel arguments are copied bytewise");
	T v;
	memcpy(&v, p, sizeof v);
	return v;
}

// If a kernel's parameters change in paimeng.cu, these fail: update the
// type here, its trampoline below and the Go launch wrapper together.
#define EXPECT_KERNEL(name, ...)                                                                                   \
	static_assert(std::is_same<decltype(&name), void (*)(__VA_ARGS__)>::value,                                     \
	              "cudaemu: the parameters of " #name " in paimeng.cu changed; update its trampoline in cudaemu.cc")

EXPECT_KERNEL(pm_camera, const u8*, const Level*, int, const CamFrame*, int, u8*, long long, int, int, int);
EXPECT_KERNEL(pm_rgb_planes, const u8*, int, int, int, int, YUVMatrix, u8*, u8*, u8*);
EXPECT_KERNEL(pm_resize_u8, const u8*, int, int, u8*, int, int, const int*, const float*, int, const int*, const float*,
              int);
EXPECT_KERNEL(pm_halve, const u8*, int, int, u8*);
EXPECT_KERNEL(pm_preprocess, const u8*, int, int, int, int, int, int, void*, int, int, int, float, float, float, float,
              float, float, const int*, const float*, int, const int*, const float*, int);
EXPECT_KERNEL(pm_postprocess, const void*, int, int, int, int, int, YUVMatrix, u8*, long long, int);
EXPECT_KERNEL(pm_copy, const uint4*, uint4*, long long);

static_assert(sizeof(YUVMatrix) == 48, "YUVMatrix is 12 floats");
static_assert(sizeof(Level) == 16, "Level is 4 ints");
static_assert(sizeof(CamFrame) == 104, "CamFrame is 104 bytes");
static_assert(sizeof(uint4) == 16, "uint4 is 16 bytes");

void run_pm_camera(void** p) {
	pm_camera(arg<const u8*>(p[0]), arg<const Level*>(p[1]), arg<int>(p[2]), arg<const CamFrame*>(p[3]), arg<int>(p[4]),
	          arg<u8*>(p[5]), arg<long long>(p[6]), arg<int>(p[7]), arg<int>(p[8]), arg<int>(p[9]));
}

void run_pm_rgb_planes(void** p) {
	pm_rgb_planes(arg<const u8*>(p[0]), arg<int>(p[1]), arg<int>(p[2]), arg<int>(p[3]), arg<int>(p[4]),
	              arg<YUVMatrix>(p[5]), arg<u8*>(p[6]), arg<u8*>(p[7]), arg<u8*>(p[8]));
}

void run_pm_resize_u8(void** p) {
	pm_resize_u8(arg<const u8*>(p[0]), arg<int>(p[1]), arg<int>(p[2]), arg<u8*>(p[3]), arg<int>(p[4]), arg<int>(p[5]),
	             arg<const int*>(p[6]), arg<const float*>(p[7]), arg<int>(p[8]), arg<const int*>(p[9]),
	             arg<const float*>(p[10]), arg<int>(p[11]));
}

void run_pm_halve(void** p) { pm_halve(arg<const u8*>(p[0]), arg<int>(p[1]), arg<int>(p[2]), arg<u8*>(p[3])); }

void run_pm_preprocess(void** p) {
	pm_preprocess(arg<const u8*>(p[0]), arg<int>(p[1]), arg<int>(p[2]), arg<int>(p[3]), arg<int>(p[4]), arg<int>(p[5]),
	              arg<int>(p[6]), arg<void*>(p[7]), arg<int>(p[8]), arg<int>(p[9]), arg<int>(p[10]), arg<float>(p[11]),
	              arg<float>(p[12]), arg<float>(p[13]), arg<float>(p[14]), arg<float>(p[15]), arg<float>(p[16]),
	              arg<const int*>(p[17]), arg<const float*>(p[18]), arg<int>(p[19]), arg<const int*>(p[20]),
	              arg<const float*>(p[21]), arg<int>(p[22]));
}

void run_pm_postprocess(void** p) {
	pm_postprocess(arg<const void*>(p[0]), arg<int>(p[1]), arg<int>(p[2]), arg<int>(p[3]), arg<int>(p[4]),
	               arg<int>(p[5]), arg<YUVMatrix>(p[6]), arg<u8*>(p[7]), arg<long long>(p[8]), arg<int>(p[9]));
}

void run_pm_copy(void** p) { pm_copy(arg<const uint4*>(p[0]), arg<uint4*>(p[1]), arg<long long>(p[2])); }

struct Kernel {
	const char* name;
	void (*run)(void** params);
};

const Kernel kKernels[] = {
	{"pm_camera", run_pm_camera},
	{"pm_rgb_planes", run_pm_rgb_planes},
	{"pm_resize_u8", run_pm_resize_u8},
	{"pm_halve", run_pm_halve},
	{"pm_preprocess", run_pm_preprocess},
	{"pm_postprocess", run_pm_postprocess},
	{"pm_copy", run_pm_copy},
};
const size_t kNumKernels = sizeof kKernels / sizeof kKernels[0];

// ---------------------------------------------------------------------------
// Modules, functions, events.

struct Module;

struct Function {
	Module* module;
	const Kernel* kernel;
};

struct Module {
	Function functions[kNumKernels]; // kernel null where the image lacks it
};

struct Event {
	unsigned flags = 0;
	bool recorded = false;
	std::chrono::steady_clock::time_point at;
};

std::set<Module*> g_modules;
std::set<Function*> g_functions;
std::set<Event*> g_events;

// ---------------------------------------------------------------------------
// Checks.

CUresult initialized() { return g_initialized.load(std::memory_order_acquire) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }

// current is the check of calls that need a context on the calling thread.
// Call it without g_mu held.
CUresult current() {
	if (!g_initialized.load(std::memory_order_acquire)) return CUDA_ERROR_NOT_INITIALIZED;
	if (t_current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
	std::lock_guard<std::mutex> l(g_mu);
	if (g_primary.refs <= 0) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	return CUDA_SUCCESS;
}

// inside reports whether [p, p+n) lies inside one live device allocation.
// Call it with g_mu held.
bool inside(CUdeviceptr p, size_t n) {
	auto it = g_allocs.upper_bound((uintptr_t)p);
	if (it == g_allocs.begin()) return false;
	--it;
	unsigned long long off = p - it->first;
	return off <= it->second && n <= it->second - off;
}

bool validStream(CUstream s) {
	// The NULL stream, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD; the
	// emulator creates no other streams.
	uintptr_t v = (uintptr_t)s;
	return v == 0 || v == 1 || v == 2;
}

// ---------------------------------------------------------------------------
// Launching.

struct Launch {
	void (*run)(void** params);
	void** params;
	dim3 grid, block;
};

// ieeeFloat sets the calling thread's SSE floating-point control to the
// GPU's arithmetic for its lifetime: round to nearest even, subnormals
// kept (no flush-to-zero, no denormals-are-zero), whatever a library in
// the host process may have set.
struct ieeeFloat {
#if defined(__SSE__)
	unsigned saved = _mm_getcsr();
	ieeeFloat() { _mm_setcsr(0x1f80); } // all exceptions masked, nearest, no FTZ/DAZ
	~ieeeFloat() { _mm_setcsr(saved); }
#endif
};

// runBlocks runs blocks [lo, hi) of the grid, numbered x fastest, then y,
// then z, each block's threads likewise, on the calling thread.
void runBlocks(const Launch& L, unsigned long long lo, unsigned long long hi) {
	ieeeFloat fp;
	gridDim = L.grid;
	blockDim = L.block;
	unsigned long long gxy = (unsigned long long)L.grid.x * L.grid.y;
	for (unsigned long long b = lo; b < hi; b++) {
		blockIdx.z = (unsigned)(b / gxy);
		unsigned long long r = b % gxy;
		blockIdx.y = (unsigned)(r / L.grid.x);
		blockIdx.x = (unsigned)(r % L.grid.x);
		for (unsigned tz = 0; tz < L.block.z; tz++) {
			for (unsigned ty = 0; ty < L.block.y; ty++) {
				for (unsigned tx = 0; tx < L.block.x; tx++) {
					threadIdx.x = tx;
					threadIdx.y = ty;
					threadIdx.z = tz;
					L.run(L.params);
				}
			}
		}
	}
}

// run runs the whole grid, its blocks split in contiguous ranges across
// the machine's cores. Kernels are gathers with no communication between
// threads, so any split gives the same bytes.
void run(const Launch& L) {
	unsigned long long blocks = (unsigned long long)L.grid.x * L.grid.y * L.grid.z;
	unsigned long long threads = blocks * L.block.x * L.block.y * L.block.z;
	unsigned long long workers = std::min(32u, std::max(1u, std::thread::hardware_concurrency()));
	if (threads < 4096) workers = 1;
	workers = std::min(workers, blocks);
	std::vector<std::thread> pool;
	unsigned long long lo = 0;
	for (unsigned long long w = 0; w + 1 < workers; w++) {
		unsigned long long hi = blocks * (w + 1) / workers;
		try {
			pool.emplace_back(runBlocks, std::cref(L), lo, hi);
		} catch (...) {
			break; // no thread: the caller runs the rest
		}
		lo = hi;
	}
	runBlocks(L, lo, blocks);
	for (auto& t : pool) t.join();
}

// ---------------------------------------------------------------------------
// Images.

// entryNames records in found the emulated kernels that a PTX text
// declares with .entry.
void entryNames(const char* ptx, bool found[kNumKernels]) {
	const char* s = ptx;
	while ((s = strstr(s, ".entry")) != nullptr) {
		s += 6;
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') continue;
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
		const char* e = s;
		while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9') || *e == '_' || *e == '$') e++;
		for (size_t k = 0; k < kNumKernels; k++) {
			size_t n = strlen(kKernels[k].name);
			if ((size_t)(e - s) == n && memcmp(s, kKernels[k].name, n) == 0) found[k] = true;
		}
		s = e;
	}
}

template <class T> T field(const unsigned char* p, size_t off) {
	T v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

// elfSize is the extent of a little-endian ELF64 CUDA image (a cubin): the
// furthest end of its section header table, program header table and
// sections. 0 when the header is not a CUDA ELF's.
unsigned long long elfSize(const unsigned char* p) {
	if (p[4] != 2 || p[5] != 1) return 0;      // ELFCLASS64, ELFDATA2LSB
	if (field<uint16_t>(p, 0x12) != 190) return 0; // e_machine: EM_CUDA
	unsigned long long phoff = field<uint64_t>(p, 0x20), shoff = field<uint64_t>(p, 0x28);
	unsigned phentsize = field<uint16_t>(p, 0x36), phnum = field<uint16_t>(p, 0x38);
	unsigned shentsize = field<uint16_t>(p, 0x3A), shnum = field<uint16_t>(p, 0x3C);
	const unsigned long long limit = 1ULL << 32;
	if (shoff > limit || phoff > limit) return 0;
	unsigned long long size = 64;
	size = std::max(size, phoff + (unsigned long long)phnum * phentsize);
	size = std::max(size, shoff + (unsigned long long)shnum * shentsize);
	if (shnum > 0 && shentsize < 64) return 0;
	for (unsigned i = 0; i < shnum; i++) {
		const unsigned char* sh = p + shoff + (unsigned long long)i * shentsize;
		uint32_t type = field<uint32_t>(sh, 4);
		unsigned long long off = field<uint64_t>(sh, 0x18), sz = field<uint64_t>(sh, 0x20);
		if (type == 8) continue; // SHT_NOBITS
		if (off > limit || sz > limit) return 0;
		size = std::max(size, off + sz);
	}
	return size;
}

// cubinNames records in found the emulated kernels whose names appear as
// whole strings (NUL before and after, as in a string table) in a cubin.
void cubinNames(const unsigned char* p, unsigned long long size, bool found[kNumKernels]) {
	for (size_t k = 0; k < kNumKernels; k++) {
		std::string needle(1, '\0');
		needle += kKernels[k].name;
		needle += '\0';
		const unsigned char* end = p + size;
		found[k] = std::search(p, end, needle.begin(), needle.end(),
		                       [](unsigned char a, char b) { return a == (unsigned char)b; }) != end;
	}
}

const char* errorName(CUresult r) {
	switch (r) {
	case CUDA_SUCCESS: return "CUDA_SUCCESS";
	case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
	case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
	case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
	case CUDA_ERROR_DEINITIALIZED: return "CUDA_ERROR_DEINITIALIZED";
	case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
	case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
	case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
	case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
	case CUDA_ERROR_NO_BINARY_FOR_GPU: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
	case CUDA_ERROR_INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
	case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
	case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
	case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
	case CUDA_ERROR_ILLEGAL_ADDRESS: return "CUDA_ERROR_ILLEGAL_ADDRESS";
	case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
	case CUDA_ERROR_CONTEXT_IS_DESTROYED: return "CUDA_ERROR_CONTEXT_IS_DESTROYED";
	case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
	case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
	case CUDA_ERROR_UNKNOWN: return "CUDA_ERROR_UNKNOWN";
	}
	return nullptr;
}

// The driver's own descriptions.
const char* errorString(CUresult r) {
	switch (r) {
	case CUDA_SUCCESS: return "no error";
	case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
	case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
	case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
	case CUDA_ERROR_DEINITIALIZED: return "driver shutting down";
	case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
	case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
	case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
	case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
	case CUDA_ERROR_NO_BINARY_FOR_GPU: return "no kernel image is available for execution on the device";
	case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
	case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
	case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
	case CUDA_ERROR_NOT_READY: return "device not ready";
	case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
	case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "too many resources requested for launch";
	case CUDA_ERROR_CONTEXT_IS_DESTROYED: return "context is destroyed";
	case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
	case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
	case CUDA_ERROR_UNKNOWN: return "unknown error";
	}
	return nullptr;
}

} // namespace

// ---------------------------------------------------------------------------
// The exported driver API.

extern "C" {

CUresult cuInit(unsigned int flags) {
	if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
	g_initialized.store(true, std::memory_order_release);
	return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* driverVersion) {
	if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = kDriverVersion;
	return CUDA_SUCCESS;
}

CUresult cuGetErrorName(CUresult error, const char** pStr) {
	if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*pStr = errorName(error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char** pStr) {
	if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*pStr = errorString(error);
	return *pStr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDeviceGetCount(int* count) {
	if (CUresult r = initialized()) return r;
	if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*count = 1;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
	if (CUresult r = initialized()) return r;
	if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
	if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
	*device = 0;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
	if (CUresult r = initialized()) return r;
	if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
	size_t n = std::min(strlen(kDeviceName), (size_t)len - 1);
	memcpy(name, kDeviceName, n);
	name[n] = '\0';
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
	if (CUresult r = initialized()) return r;
	if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*bytes = kTotalMem;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* pi, int attrib, CUdevice dev) {
	if (CUresult r = initialized()) return r;
	if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*pi = attribute(attrib);
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
	if (CUresult r = initialized()) return r;
	if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
	if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	g_primary.refs++;
	g_primary.created = true;
	*pctx = primaryHandle();
	return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
	if (CUresult r = initialized()) return r;
	if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
	std::lock_guard<std::mutex> l(g_mu);
	if (g_primary.refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
	g_primary.refs--;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
	if (CUresult r = initialized()) return r;
	if (ctx != nullptr) {
		std::lock_guard<std::mutex> l(g_mu);
		if (ctx != primaryHandle() || !g_primary.created) return CUDA_ERROR_INVALID_CONTEXT;
	}
	t_current = ctx;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext* pctx) {
	if (CUresult r = initialized()) return r;
	if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
	*pctx = t_current;
	return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void) {
	return current(); // all work is done by the time its call returns
}

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
	if (CUresult r = current()) return r;
	if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	if (bytesize > kTotalMem - g_liveBytes) return CUDA_ERROR_OUT_OF_MEMORY;
	size_t rounded = (bytesize + kAlign - 1) / kAlign * kAlign;
	void* p = aligned_alloc(kAlign, rounded);
	if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
	memset(p, kFill, rounded);
	g_allocs[(uintptr_t)p] = bytesize;
	g_liveBytes += bytesize;
	*dptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
	if (CUresult r = current()) return r;
	std::lock_guard<std::mutex> l(g_mu);
	auto it = g_allocs.find((uintptr_t)dptr);
	if (it == g_allocs.end()) return CUDA_ERROR_INVALID_VALUE;
	g_liveBytes -= it->second;
	g_allocs.erase(it);
	free((void*)(uintptr_t)dptr);
	return CUDA_SUCCESS;
}

CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* total) {
	if (CUresult r = current()) return r;
	if (freeBytes == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	*freeBytes = kTotalMem - g_liveBytes;
	*total = kTotalMem;
	return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
	if (CUresult r = current()) return r;
	if (ByteCount == 0) return CUDA_SUCCESS;
	if (srcHost == nullptr) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	if (!inside(dstDevice, ByteCount)) return CUDA_ERROR_INVALID_VALUE;
	memcpy((void*)(uintptr_t)dstDevice, srcHost, ByteCount);
	return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
	if (CUresult r = current()) return r;
	if (ByteCount == 0) return CUDA_SUCCESS;
	if (dstHost == nullptr) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	if (!inside(srcDevice, ByteCount)) return CUDA_ERROR_INVALID_VALUE;
	memcpy(dstHost, (const void*)(uintptr_t)srcDevice, ByteCount);
	return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
	if (CUresult r = current()) return r;
	if (ByteCount == 0) return CUDA_SUCCESS;
	std::lock_guard<std::mutex> l(g_mu);
	if (!inside(dstDevice, ByteCount) || !inside(srcDevice, ByteCount)) return CUDA_ERROR_INVALID_VALUE;
	memmove((void*)(uintptr_t)dstDevice, (const void*)(uintptr_t)srcDevice, ByteCount);
	return CUDA_SUCCESS;
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
	if (CUresult r = current()) return r;
	if (N == 0) return CUDA_SUCCESS;
	std::lock_guard<std::mutex> l(g_mu);
	if (!inside(dstDevice, N)) return CUDA_ERROR_INVALID_VALUE;
	memset((void*)(uintptr_t)dstDevice, uc, N);
	return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
	if (CUresult r = current()) return r;
	if (pp == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
	size_t rounded = (bytesize + 4095) / 4096 * 4096;
	void* p = aligned_alloc(4096, rounded);
	if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
	memset(p, kFill, rounded);
	std::lock_guard<std::mutex> l(g_mu);
	g_hostAllocs[(uintptr_t)p] = bytesize;
	g_liveHostBytes += bytesize;
	*pp = p;
	return CUDA_SUCCESS;
}

CUresult cuMemFreeHost(void* p) {
	if (CUresult r = current()) return r;
	std::lock_guard<std::mutex> l(g_mu);
	auto it = g_hostAllocs.find((uintptr_t)p);
	if (it == g_hostAllocs.end()) return CUDA_ERROR_INVALID_VALUE;
	g_liveHostBytes -= it->second;
	g_hostAllocs.erase(it);
	free(p);
	return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule* module, const void* image) {
	if (CUresult r = current()) return r;
	if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
	bool found[kNumKernels] = {};
	const unsigned char* p = (const unsigned char*)image;
	if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
		unsigned long long size = elfSize(p);
		if (size == 0) return CUDA_ERROR_INVALID_IMAGE;
		cubinNames(p, size, found);
	} else {
		const char* s = (const char*)image;
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
		if (!(s[0] == '/' && s[1] == '/') && s[0] != '.') return CUDA_ERROR_INVALID_IMAGE;
		entryNames(s, found);
	}
	Module* m = new Module();
	for (size_t k = 0; k < kNumKernels; k++) {
		m->functions[k].module = m;
		m->functions[k].kernel = found[k] ? &kKernels[k] : nullptr;
	}
	std::lock_guard<std::mutex> l(g_mu);
	g_modules.insert(m);
	for (size_t k = 0; k < kNumKernels; k++) {
		if (found[k]) g_functions.insert(&m->functions[k]);
	}
	*module = reinterpret_cast<CUmodule>(m);
	return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hmod) {
	if (CUresult r = current()) return r;
	Module* m = reinterpret_cast<Module*>(hmod);
	std::lock_guard<std::mutex> l(g_mu);
	if (g_modules.erase(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
	for (size_t k = 0; k < kNumKernels; k++) g_functions.erase(&m->functions[k]);
	delete m;
	return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
	if (CUresult r = current()) return r;
	if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
	Module* m = reinterpret_cast<Module*>(hmod);
	std::lock_guard<std::mutex> l(g_mu);
	if (g_modules.count(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
	for (size_t k = 0; k < kNumKernels; k++) {
		if (m->functions[k].kernel != nullptr && strcmp(name, kKernels[k].name) == 0) {
			*hfunc = reinterpret_cast<CUfunction>(&m->functions[k]);
			return CUDA_SUCCESS;
		}
	}
	return CUDA_ERROR_NOT_FOUND;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
	if (CUresult r = current()) return r;
	Launch L;
	{
		std::lock_guard<std::mutex> l(g_mu);
		Function* fn = reinterpret_cast<Function*>(f);
		if (g_functions.count(fn) == 0) return CUDA_ERROR_INVALID_HANDLE;
		L.run = fn->kernel->run;
	}
	if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
	if (kernelParams == nullptr || extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
	if (sharedMemBytes != 0) return CUDA_ERROR_INVALID_VALUE;
	if (gridDimX == 0 || gridDimY == 0 || gridDimZ == 0) return CUDA_ERROR_INVALID_VALUE;
	if (gridDimX > kMaxGridDimX || gridDimY > kMaxGridDimYZ || gridDimZ > kMaxGridDimYZ) return CUDA_ERROR_INVALID_VALUE;
	if (blockDimX == 0 || blockDimY == 0 || blockDimZ == 0) return CUDA_ERROR_INVALID_VALUE;
	if (blockDimX > kMaxThreadsPerBlock || blockDimY > kMaxThreadsPerBlock || blockDimZ > kMaxBlockDimZ ||
	    (unsigned long long)blockDimX * blockDimY * blockDimZ > kMaxThreadsPerBlock) {
		return CUDA_ERROR_INVALID_VALUE;
	}
	L.params = kernelParams;
	L.grid = dim3{gridDimX, gridDimY, gridDimZ};
	L.block = dim3{blockDimX, blockDimY, blockDimZ};
	run(L);
	return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent* phEvent, unsigned int Flags) {
	if (CUresult r = current()) return r;
	const unsigned blockingSync = 0x1, disableTiming = 0x2, interprocess = 0x4;
	if (phEvent == nullptr || (Flags & ~(blockingSync | disableTiming | interprocess)) != 0) return CUDA_ERROR_INVALID_VALUE;
	if ((Flags & interprocess) && !(Flags & disableTiming)) return CUDA_ERROR_INVALID_VALUE;
	Event* e = new Event();
	e->flags = Flags;
	std::lock_guard<std::mutex> l(g_mu);
	g_events.insert(e);
	*phEvent = reinterpret_cast<CUevent>(e);
	return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
	if (CUresult r = current()) return r;
	if (!validStream(hStream)) return CUDA_ERROR_INVALID_HANDLE;
	auto now = std::chrono::steady_clock::now();
	std::lock_guard<std::mutex> l(g_mu);
	Event* e = reinterpret_cast<Event*>(hEvent);
	if (g_events.count(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
	e->recorded = true;
	e->at = now;
	return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent hEvent) {
	if (CUresult r = current()) return r;
	std::lock_guard<std::mutex> l(g_mu);
	if (g_events.count(reinterpret_cast<Event*>(hEvent)) == 0) return CUDA_ERROR_INVALID_HANDLE;
	return CUDA_SUCCESS;
}

CUresult cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
	if (CUresult r = current()) return r;
	if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
	std::lock_guard<std::mutex> l(g_mu);
	Event* a = reinterpret_cast<Event*>(hStart);
	Event* b = reinterpret_cast<Event*>(hEnd);
	if (g_events.count(a) == 0 || g_events.count(b) == 0) return CUDA_ERROR_INVALID_HANDLE;
	if (!a->recorded || !b->recorded || (a->flags & 0x2) || (b->flags & 0x2)) return CUDA_ERROR_INVALID_HANDLE;
	*pMilliseconds = std::chrono::duration<float, std::milli>(b->at - a->at).count();
	return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent hEvent) {
	if (CUresult r = current()) return r;
	Event* e = reinterpret_cast<Event*>(hEvent);
	std::lock_guard<std::mutex> l(g_mu);
	if (g_events.erase(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
	delete e;
	return CUDA_SUCCESS;
}

// cudaemu_live_bytes is the number of bytes of device memory allocated
// with cuMemAlloc and not yet freed (not part of the CUDA API).
long long cudaemu_live_bytes(void) {
	std::lock_guard<std::mutex> l(g_mu);
	return (long long)g_liveBytes;
}

// cudaemu_live_host_bytes is the same for cuMemAllocHost.
long long cudaemu_live_host_bytes(void) {
	std::lock_guard<std::mutex> l(g_mu);
	return (long long)g_liveHostBytes;
}

} // extern "C"
