// paimeng's CUDA kernels, compiled at worker start with NVRTC for the
// device's architecture (see nvrtc.go) with --fmad=false, so that every
// float operation rounds exactly as the Go code it mirrors.
//
// The same file builds as plain C++ (paimeng_cpu.h supplies the CUDA
// built-ins) so that the kernels' arithmetic can be tested without a GPU.
//
// Every kernel is a gather: one thread computes one output element (or a
// 2×2 block of pixels and its chroma sample) from read-only inputs, with no
// shared memory and no synchronisation between threads.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

// ---------------------------------------------------------------------------
// Shared helpers

__device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

__device__ __forceinline__ float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

// IEEE binary16 from float, rounding to nearest, ties to even (the same
// bits as inference.HalfFromFloat32).
__device__ __forceinline__ u16 f32_to_f16(float f) {
	u32 b = __float_as_uint(f);
	u32 sign = (b >> 16) & 0x8000u;
	int exp = (int)((b >> 23) & 0xffu);
	u32 man = b & 0x7fffffu;
	if (exp == 0xff) {
		return (u16)(man != 0 ? (sign | 0x7e00u | (man >> 13)) : (sign | 0x7c00u));
	}
	int e = exp - 127 + 15;
	if (e >= 0x1f) return (u16)(sign | 0x7c00u);
	if (e <= 0) {
		if (e < -10) return (u16)sign;
		u32 full = man | 0x800000u;
		u32 s = (u32)(14 - e);
		u32 m = full >> s;
		u32 rem = full & ((1u << s) - 1u);
		u32 half = 1u << (s - 1u);
		if (rem > half || (rem == half && (m & 1u))) m++;
		return (u16)(sign | m);
	}
	u32 h = ((u32)e << 10) | (man >> 13);
	u32 rem = man & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
	return (u16)(sign | h);
}

// float from IEEE binary16, exactly.
__device__ __forceinline__ float f16_to_f32(u16 h) {
	u32 sign = ((u32)h & 0x8000u) << 16;
	u32 exp = ((u32)h >> 10) & 0x1fu;
	u32 man = (u32)h & 0x3ffu;
	if (exp == 0) {
		if (man == 0) return __uint_as_float(sign);
		// Subnormal: normalise.
		int e = -1;
		do {
			e++;
			man <<= 1;
		} while ((man & 0x400u) == 0);
		return __uint_as_float(sign | ((u32)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13));
	}
	if (exp == 0x1f) return __uint_as_float(sign | 0x7f800000u | (man << 13));
	return __uint_as_float(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

// BT.709 limited range, the constants of inference.rgbToYUV709 as float32.
struct YUVMatrix {
	float m[9];
	float off[3];
};

// Output layouts of a frame.
enum {
	FMT_I420 = 0, // Y plane, U plane, V plane (yuv420p)
	FMT_NV12 = 1, // Y plane, then U,V interleaved at half size
	FMT_RGB8 = 2, // packed R,G,B
};

// put420 writes a 2×2 block's four luma values and one chroma pair at
// block (bx, by) of a w×h frame in I420 or NV12.
__device__ __forceinline__ void put420(u8* frame, int w, int h, int fmt, int bx, int by, const u8 y[4], u8 u, u8 v) {
	int x = 2 * bx, yy = 2 * by;
	frame[yy * w + x] = y[0];
	frame[yy * w + x + 1] = y[1];
	frame[(yy + 1) * w + x] = y[2];
	frame[(yy + 1) * w + x + 1] = y[3];
	int cw = w / 2, ch = h / 2;
	u8* c = frame + w * h;
	if (fmt == FMT_NV12) {
		c[by * w + 2 * bx] = u;
		c[by * w + 2 * bx + 1] = v;
	} else {
		c[by * cw + bx] = u;
		c[cw * ch + by * cw + bx] = v;
	}
}

// BT.709 limited-range Y'CbCr to full-range R'G'B', rounded.
__device__ __forceinline__ void yuv_to_rgb(u8 y, u8 u, u8 v, u8* rgb) {
	float yf = ((float)y - 16.0f) * (255.0f / 219.0f);
	float cb = ((float)u - 128.0f) * (255.0f / 224.0f);
	float cr = ((float)v - 128.0f) * (255.0f / 224.0f);
	float r = yf + 1.5748f * cr;
	float g = yf - 0.18732427f * cb - 0.46812427f * cr;
	float b = yf + 1.8556f * cb;
	rgb[0] = (u8)clampf(floorf(r + 0.5f), 0.0f, 255.0f);
	rgb[1] = (u8)clampf(floorf(g + 0.5f), 0.0f, 255.0f);
	rgb[2] = (u8)clampf(floorf(b + 0.5f), 0.0f, 255.0f);
}

// putRGB writes a 2×2 block as packed RGB, each pixel with its own luma and
// the block's chroma.
__device__ __forceinline__ void putRGB(u8* frame, int w, int bx, int by, const u8 y[4], u8 u, u8 v) {
	for (int i = 0; i < 4; i++) {
		int x = 2 * bx + (i & 1), yy = 2 * by + (i >> 1);
		yuv_to_rgb(y[i], u, v, frame + 3 * (yy * w + x));
	}
}

// ---------------------------------------------------------------------------
// Camera motion: the CPU engine's renderer (inference/warp.go), every frame
// of a clip in one launch.

// One level of one plane inside the pyramid buffer.
struct Level {
	int off, w, h, pad;
};

// Per-frame parameters (104 bytes, all 4-byte fields).
struct CamFrame {
	float hy[9];       // luma output pixel (content-relative, centre +0.5) → level-0 coordinates
	float hc[9];       // the same for chroma
	int k;             // lower pyramid level
	float t;           // weight of level k+1
	float mix;         // weight of the end frame
	float gain;        // 1 normal, 0 black
	int rx, ry, rw, rh; // content rect in luma pixels (even); outside is black
};

// bilinear samples level lv of a plane at level-0 coordinates (u0, v0)
// scaled by s = 2^-k: half-pixel centres, edges clamped (GridSample with
// align_corners=0 and border padding).
__device__ __forceinline__ float bilinear(const u8* pyr, Level lv, float u0, float v0, float s) {
	float u = clampf(u0 * s - 0.5f, 0.0f, (float)(lv.w - 1));
	float v = clampf(v0 * s - 0.5f, 0.0f, (float)(lv.h - 1));
	int x0 = (int)u, y0 = (int)v;
	float wx = u - (float)x0, wy = v - (float)y0;
	int x1 = min(x0 + 1, lv.w - 1), y1 = min(y0 + 1, lv.h - 1);
	const u8* p = pyr + lv.off;
	float a = (float)p[y0 * lv.w + x0], b = (float)p[y0 * lv.w + x1];
	float c = (float)p[y1 * lv.w + x0], d = (float)p[y1 * lv.w + x1];
	float top = a + (b - a) * wx;
	float bot = c + (d - c) * wx;
	return top + (bot - top) * wy;
}

// camSample is one output value of a plane: levels k and k+1 blended by t,
// the end frame's plane blended in by mix, the gain applied towards black,
// rounded to 8 bits. plane indexes the level table: 0..2 picture Y, U, V,
// 3..5 end frame.
__device__ __forceinline__ u8 camSample(const u8* pyr, const Level* levels, int nlevels, int plane, const float* hm,
                                       const CamFrame& f, float x, float y, float black) {
	float px = x + 0.5f, py = y + 0.5f;
	float X = hm[0] * px + hm[1] * py + hm[2];
	float Y = hm[3] * px + hm[4] * py + hm[5];
	float Z = hm[6] * px + hm[7] * py + hm[8];
	float u0 = X / Z, v0 = Y / Z;
	int k1 = min(f.k + 1, nlevels - 1);
	float s0 = 1.0f / (float)(1 << f.k), s1 = 1.0f / (float)(1 << k1);
	const Level* a = levels + plane * nlevels;
	float v = bilinear(pyr, a[f.k], u0, v0, s0);
	if (f.t > 0.0f) v = v + (bilinear(pyr, a[k1], u0, v0, s1) - v) * f.t;
	if (f.mix > 0.0f) {
		const Level* b = levels + (plane + 3) * nlevels;
		float w = bilinear(pyr, b[f.k], u0, v0, s0);
		if (f.t > 0.0f) w = w + (bilinear(pyr, b[k1], u0, v0, s1) - w) * f.t;
		v = v + (w - v) * f.mix;
	}
	v = black + (v - black) * f.gain;
	return (u8)clampf(floorf(v + 0.5f), 0.0f, 255.0f);
}

// pm_camera renders frames [first, first+gridDim.z) of a clip. Thread
// (bx, by) of block z writes the 2×2 luma block at (2bx, 2by) of frame
// first+z and its chroma sample. levels has 6·nlevels entries (picture Y,
// U, V, then the end frame's; the end frame's may repeat the picture's when
// there is none, its weight is then 0). out holds frames of frameBytes
// bytes each, the first at out.
extern "C" __global__ void pm_camera(const u8* __restrict__ pyr, const Level* __restrict__ levels, int nlevels,
                                     const CamFrame* __restrict__ frames, int first, u8* __restrict__ out,
                                     long long frameBytes, int w, int h, int fmt) {
	int bx = blockIdx.x * blockDim.x + threadIdx.x;
	int by = blockIdx.y * blockDim.y + threadIdx.y;
	if (bx >= w / 2 || by >= h / 2) return;
	int fi = first + (int)blockIdx.z;
	const CamFrame& f = frames[fi];
	u8* frame = out + (long long)blockIdx.z * frameBytes;
	u8 ys[4];
	for (int i = 0; i < 4; i++) {
		int x = 2 * bx + (i & 1), y = 2 * by + (i >> 1);
		int cx = x - f.rx, cy = y - f.ry;
		if (cx < 0 || cy < 0 || cx >= f.rw || cy >= f.rh) {
			ys[i] = 16;
		} else {
			ys[i] = camSample(pyr, levels, nlevels, 0, f.hy, f, (float)cx, (float)cy, 16.0f);
		}
	}
	u8 u = 128, v = 128;
	int ccx = bx - f.rx / 2, ccy = by - f.ry / 2;
	if (ccx >= 0 && ccy >= 0 && ccx < f.rw / 2 && ccy < f.rh / 2) {
		u = camSample(pyr, levels, nlevels, 1, f.hc, f, (float)ccx, (float)ccy, 128.0f);
		v = camSample(pyr, levels, nlevels, 2, f.hc, f, (float)ccx, (float)ccy, 128.0f);
	}
	if (fmt == FMT_RGB8) {
		putRGB(frame, w, bx, by, ys, u, v);
	} else {
		put420(frame, w, h, fmt, bx, by, ys, u, v);
	}
}

// ---------------------------------------------------------------------------
// Picture preparation: the CPU engine's toPlanes and mip pyramid
// (inference/prep.go, inference/warp.go), bit for bit.

// pm_rgb_planes converts packed 8-bit RGB(A) (bpp bytes per pixel, rows
// pitch bytes apart) of size w×h to BT.709 planes: Y at w×h and U, V at
// ceil(w/2)×ceil(h/2) from 2×2 averages (edges repeat). One thread per
// chroma sample, writing its 2×2 luma block.
extern "C" __global__ void pm_rgb_planes(const u8* __restrict__ rgb, int pitch, int bpp, int w, int h, YUVMatrix mat,
                                         u8* __restrict__ py, u8* __restrict__ pu, u8* __restrict__ pv) {
	int cx = blockIdx.x * blockDim.x + threadIdx.x;
	int cy = blockIdx.y * blockDim.y + threadIdx.y;
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	if (cx >= cw || cy >= ch) return;
	const float* m = mat.m;
	for (int i = 0; i < 4; i++) {
		int x = 2 * cx + (i & 1), y = 2 * cy + (i >> 1);
		if (x >= w || y >= h) continue;
		const u8* p = rgb + (long long)y * pitch + x * bpp;
		py[y * w + x] = (u8)(m[0] * (float)p[0] + m[1] * (float)p[1] + m[2] * (float)p[2] + mat.off[0]);
	}
	int xa = 2 * cx, xb = min(2 * cx + 1, w - 1);
	int ya = 2 * cy, yb = min(2 * cy + 1, h - 1);
	const u8* ra = rgb + (long long)ya * pitch;
	const u8* rb = rgb + (long long)yb * pitch;
	float s[3];
	for (int c = 0; c < 3; c++) {
		s[c] = ((float)ra[xa * bpp + c] + (float)ra[xb * bpp + c] + (float)rb[xa * bpp + c] + (float)rb[xb * bpp + c]) / 4.0f;
	}
	pu[cy * cw + cx] = (u8)(m[3] * s[0] + m[4] * s[1] + m[5] * s[2] + mat.off[1]);
	pv[cy * cw + cx] = (u8)(m[6] * s[0] + m[7] * s[1] + m[8] * s[2] + mat.off[2]);
}

// Filter taps for one axis of a resize: output i reads source samples
// first[i] .. first[i]+n-1 (clamped to the edge) with weights w[i*n ..].
// Unused taps have weight 0.
struct Taps {
	const int* first;
	const float* w;
	int n;
};

// resample is output (x, y) of a triangle-filter resize of one 8-bit plane
// (src, sw×sh, row stride sstride, element stride step), before rounding:
// each vertical tap's horizontal sum, accumulated in the CPU's order.
__device__ __forceinline__ float resample(const u8* src, int sw, int sh, long long sstride, int step, const int* fx,
                                          const float* wx, int nx, const int* fy, const float* wy, int ny, int x, int y) {
	float acc = 0.0f;
	int x0 = fx[x], y0 = fy[y];
	for (int j = 0; j < ny; j++) {
		int sy = clampi(y0 + j, 0, sh - 1);
		const u8* row = src + (long long)sy * sstride;
		float s = 0.0f;
		for (int i = 0; i < nx; i++) {
			int sx = clampi(x0 + i, 0, sw - 1);
			s += wx[x * nx + i] * (float)row[sx * step];
		}
		acc += wy[y * ny + j] * s;
	}
	return acc;
}

// pm_resize_u8 resamples an 8-bit plane sw×sh to dw×dh with the triangle
// filter (inference.resize): one thread per output pixel.
extern "C" __global__ void pm_resize_u8(const u8* __restrict__ src, int sw, int sh, u8* __restrict__ dst, int dw, int dh,
                                        const int* __restrict__ fx, const float* __restrict__ wx, int nx,
                                        const int* __restrict__ fy, const float* __restrict__ wy, int ny) {
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (x >= dw || y >= dh) return;
	float v = resample(src, sw, sh, sw, 1, fx, wx, nx, fy, wy, ny, x, y);
	dst[y * dw + x] = (u8)fminf(255.0f, fmaxf(0.0f, v + 0.5f));
}

// pm_halve is one mip level down (inference.halve): the binomial [1 3 3 1]
// filter on each axis, every second sample, edges repeated, in integers.
extern "C" __global__ void pm_halve(const u8* __restrict__ src, int sw, int sh, u8* __restrict__ dst) {
	int w = (sw + 1) / 2, h = (sh + 1) / 2;
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	int i = blockIdx.y * blockDim.y + threadIdx.y;
	if (j >= w || i >= h) return;
	int x = 2 * j, y = 2 * i;
	int xs[4] = {max(x - 1, 0), x, min(x + 1, sw - 1), min(x + 2, sw - 1)};
	int ys[4] = {max(y - 1, 0), y, min(y + 1, sh - 1), min(y + 2, sh - 1)};
	const int k[4] = {1, 3, 3, 1};
	u32 sum = 0;
	for (int r = 0; r < 4; r++) {
		const u8* row = src + ys[r] * sw;
		u32 hs = (u32)row[xs[0]] + 3u * (u32)row[xs[1]] + 3u * (u32)row[xs[2]] + (u32)row[xs[3]];
		sum += (u32)k[r] * hs;
	}
	dst[i * w + j] = (u8)((sum + 32u) >> 6);
}

// ---------------------------------------------------------------------------
// Learned engine input: 8-bit RGB(A) → resized, normalised NCHW.

// pm_preprocess resamples the crop (cx, cy, cw×ch) of packed 8-bit RGB(A)
// (bpp bytes per pixel, rows pitch bytes apart) to dw×dh per channel with
// the triangle filter, rounds to 8 bits as the CPU does, and writes
// v/div[c] + bias[c] as [3, dh, dw] float32 (half = 0) or float16
// (half = 1) at dst. One thread per output pixel, all three channels.
extern "C" __global__ void pm_preprocess(const u8* __restrict__ rgb, int pitch, int bpp, int cx, int cy, int cw, int ch,
                                         void* __restrict__ dst, int dw, int dh, int half,
                                         float div0, float div1, float div2, float bias0, float bias1, float bias2,
                                         const int* __restrict__ fx, const float* __restrict__ wx, int nx,
                                         const int* __restrict__ fy, const float* __restrict__ wy, int ny) {
	int x = blockIdx.x * blockDim.x + threadIdx.x;
	int y = blockIdx.y * blockDim.y + threadIdx.y;
	if (x >= dw || y >= dh) return;
	const float div[3] = {div0, div1, div2};
	const float bias[3] = {bias0, bias1, bias2};
	const u8* origin = rgb + (long long)cy * pitch + (long long)cx * bpp;
	long long n = (long long)dw * dh;
	for (int c = 0; c < 3; c++) {
		float v;
		if (cw == dw && ch == dh) {
			v = (float)origin[(long long)y * pitch + (long long)x * bpp + c];
		} else {
			v = resample(origin + c, cw, ch, pitch, bpp, fx, wx, nx, fy, wy, ny, x, y);
			v = (float)(u8)fminf(255.0f, fmaxf(0.0f, v + 0.5f));
		}
		float o = v / div[c] + bias[c];
		long long i = c * n + (long long)y * dw + x;
		if (half) {
			((u16*)dst)[i] = f32_to_f16(o);
		} else {
			((float*)dst)[i] = o;
		}
	}
}

// ---------------------------------------------------------------------------
// Learned engine output: decoded frames in [-1, 1] → 8-bit frames.

// toByteRange maps [-1, 1] to [0, 255] as inference.toYUV420 does (NaN → 0).
__device__ __forceinline__ float toByteRange(float v) {
	v = (v + 1.0f) * 127.5f;
	if (!(v >= 0.0f)) return 0.0f;
	return fminf(v, 255.0f);
}

__device__ __forceinline__ float loadValue(const void* src, long long i, int half) {
	return half ? f16_to_f32(((const u16*)src)[i]) : ((const float*)src)[i];
}

// pm_postprocess converts frames [first, first+gridDim.z) of a decoded clip
// [3, frames, h, w] (float32, or float16 when half = 1) to fmt at out, one
// frame every frameBytes bytes: BT.709 limited range with chroma from 2×2
// averages, exactly inference.toYUV420, or rounded RGB.
extern "C" __global__ void pm_postprocess(const void* __restrict__ src, int half, int frames, int first, int w, int h,
                                          YUVMatrix mat, u8* __restrict__ out, long long frameBytes, int fmt) {
	int bx = blockIdx.x * blockDim.x + threadIdx.x;
	int by = blockIdx.y * blockDim.y + threadIdx.y;
	if (bx >= w / 2 || by >= h / 2) return;
	int f = first + (int)blockIdx.z;
	long long n = (long long)w * h;
	long long base = (long long)f * n;
	long long plane = (long long)frames * n;
	u8* frame = out + (long long)blockIdx.z * frameBytes;
	const float* m = mat.m;
	float rgb[4][3];
	for (int i = 0; i < 4; i++) {
		int x = 2 * bx + (i & 1), y = 2 * by + (i >> 1);
		for (int c = 0; c < 3; c++) {
			rgb[i][c] = toByteRange(loadValue(src, c * plane + base + (long long)y * w + x, half));
		}
	}
	if (fmt == FMT_RGB8) {
		for (int i = 0; i < 4; i++) {
			int x = 2 * bx + (i & 1), y = 2 * by + (i >> 1);
			for (int c = 0; c < 3; c++) frame[3 * (y * w + x) + c] = (u8)floorf(rgb[i][c] + 0.5f);
		}
		return;
	}
	u8 ys[4];
	for (int i = 0; i < 4; i++) {
		ys[i] = (u8)(m[0] * rgb[i][0] + m[1] * rgb[i][1] + m[2] * rgb[i][2] + mat.off[0]);
	}
	float s[3];
	for (int c = 0; c < 3; c++) s[c] = (rgb[0][c] + rgb[1][c] + rgb[2][c] + rgb[3][c]) / 4.0f;
	u8 u = (u8)(m[3] * s[0] + m[4] * s[1] + m[5] * s[2] + mat.off[1]);
	u8 v = (u8)(m[6] * s[0] + m[7] * s[1] + m[8] * s[2] + mat.off[2]);
	put420(frame, w, h, fmt, bx, by, ys, u, v);
}

// pm_copy copies n 16-byte words: the bandwidth yardstick beside the
// driver's device-to-device copy.
extern "C" __global__ void pm_copy(const uint4* __restrict__ src, uint4* __restrict__ dst, long long n) {
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long stride = (long long)gridDim.x * blockDim.x;
	for (; i < n; i += stride) dst[i] = src[i];
}
