package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Format is a frame layout the kernels write.
type Format int32

// Frame layouts (paimeng.cu's FMT_*).
const (
	I420 Format = 0 // yuv420p: Y, then U, then V at half size
	NV12 Format = 1 // Y, then U,V interleaved at half size
	RGB8 Format = 2 // packed R,G,B
)

// FrameBytes is the size of one w×h frame in f.
func (f Format) FrameBytes(w, h int) int {
	if f == RGB8 {
		return 3 * w * h
	}
	return w*h + 2*(w/2)*(h/2)
}

// Level is one pyramid level of one plane inside a pyramid buffer.
type Level struct {
	Off, W, H int32
}

// LevelBytes encodes a level table (paimeng.cu's Level, 16 bytes each).
func LevelBytes(ls []Level) []byte {
	b := make([]byte, 0, 16*len(ls))
	for _, l := range ls {
		b = binary.LittleEndian.AppendUint32(b, uint32(l.Off))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.W))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.H))
		b = binary.LittleEndian.AppendUint32(b, 0)
	}
	return b
}

// CamFrame is one frame's parameters for Camera (paimeng.cu's CamFrame).
type CamFrame struct {
	HY, HC         [9]float32 // output pixel → level-0 coordinates, luma and chroma
	K              int32      // lower level
	T, Mix, Gain   float32    // weight of level K+1, of the end frame; brightness
	RX, RY, RW, RH int32      // content rect (even, luma pixels)
}

// CamFrameSize is the encoded size of a CamFrame.
const CamFrameSize = 104

// CamFrameBytes encodes frames for Camera.
func CamFrameBytes(fs []CamFrame) []byte {
	b := make([]byte, 0, CamFrameSize*len(fs))
	f32 := func(v float32) { b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v)) }
	i32 := func(v int32) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	for _, f := range fs {
		for _, v := range f.HY {
			f32(v)
		}
		for _, v := range f.HC {
			f32(v)
		}
		i32(f.K)
		f32(f.T)
		f32(f.Mix)
		f32(f.Gain)
		i32(f.RX)
		i32(f.RY)
		i32(f.RW)
		i32(f.RH)
	}
	return b
}

// Block sizes: 2-D kernels run 32×8 threads per block.
const blockX, blockY = 32, 8

// Camera renders frames first … first+count-1 of a clip into out, one
// every f.FrameBytes(w, h) bytes: all of them in one launch. pyr holds the
// pyramid's planes, levels its level table (6·nlevels entries: picture Y,
// U, V, then the end frame's), frames every frame's CamFrame.
func (g *GPU) Camera(pyr, levels Mem, nlevels int, frames Mem, first, count int, out Mem, w, h int, f Format) error {
	fb := f.FrameBytes(w, h)
	if w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("kernels: camera frame %dx%d is not even", w, h)
	}
	if err := g.check(out, 0, count*fb, "camera output"); err != nil {
		return err
	}
	if err := g.check(frames, 0, (first+count)*CamFrameSize, "camera frames"); err != nil {
		return err
	}
	if err := g.check(levels, 0, 6*nlevels*16, "level table"); err != nil {
		return err
	}
	grid, block := Grid2D(w/2, h/2, count, blockX, blockY)
	return g.Launch("pm_camera", grid, block, pyr, levels, int32(nlevels), frames, int32(first), out, int64(fb), int32(w), int32(h), int32(f))
}

// RGBPlanes converts packed 8-bit RGB(A) (bpp bytes per pixel, rows pitch
// apart) of size w×h to BT.709 planes: Y w×h, U and V ⌈w/2⌉×⌈h/2⌉.
func (g *GPU) RGBPlanes(rgb Mem, pitch, bpp, w, h int, m YUVMatrix, y, u, v Mem) error {
	cw, ch := (w+1)/2, (h+1)/2
	if err := g.check(rgb, 0, (h-1)*pitch+w*bpp, "picture"); err != nil {
		return err
	}
	if err := g.check(y, 0, w*h, "Y plane"); err != nil {
		return err
	}
	if err := g.check(u, 0, cw*ch, "U plane"); err != nil {
		return err
	}
	if err := g.check(v, 0, cw*ch, "V plane"); err != nil {
		return err
	}
	grid, block := Grid2D(cw, ch, 1, blockX, blockY)
	return g.Launch("pm_rgb_planes", grid, block, rgb, int32(pitch), int32(bpp), int32(w), int32(h), m, y, u, v)
}

// Taps are one axis of a resize on the device: output i reads source
// samples First[i] … First[i]+N-1 (clamped) with weights W[i·N …].
type Taps struct {
	First, W Mem
	N        int
}

// Resize resamples an 8-bit plane sw×sh to dw×dh with the taps tx, ty.
func (g *GPU) Resize(src Mem, sw, sh int, dst Mem, dw, dh int, tx, ty Taps) error {
	if err := g.check(src, 0, sw*sh, "resize source"); err != nil {
		return err
	}
	if err := g.check(dst, 0, dw*dh, "resize target"); err != nil {
		return err
	}
	grid, block := Grid2D(dw, dh, 1, blockX, blockY)
	return g.Launch("pm_resize_u8", grid, block, src, int32(sw), int32(sh), dst, int32(dw), int32(dh),
		tx.First, tx.W, int32(tx.N), ty.First, ty.W, int32(ty.N))
}

// Halve writes the next mip level of an 8-bit plane sw×sh (⌈sw/2⌉×⌈sh/2⌉).
func (g *GPU) Halve(src Mem, sw, sh int, dst Mem) error {
	w, h := (sw+1)/2, (sh+1)/2
	if err := g.check(src, 0, sw*sh, "halve source"); err != nil {
		return err
	}
	if err := g.check(dst, 0, w*h, "halve target"); err != nil {
		return err
	}
	grid, block := Grid2D(w, h, 1, blockX, blockY)
	return g.Launch("pm_halve", grid, block, src, int32(sw), int32(sh), dst)
}

// Norm is a per-channel normalisation of 8-bit values: v/Div[c] + Bias[c]
// (for [-1, 1]: Div 127.5, Bias -1).
type Norm struct {
	Div, Bias [3]float32
}

// Preprocess resamples the crop (cx, cy, cw×ch) of packed 8-bit RGB(A) to
// dw×dh per channel, rounds to 8 bits, normalises and writes [3, dh, dw]
// float32, or float16 when half, at dst.
func (g *GPU) Preprocess(rgb Mem, pitch, bpp, cx, cy, cw, ch int, dst Mem, dw, dh int, half bool, n Norm, tx, ty Taps) error {
	el := 4
	h32 := int32(0)
	if half {
		el, h32 = 2, 1
	}
	if err := g.check(rgb, cy*pitch+cx*bpp, (ch-1)*pitch+cw*bpp, "picture crop"); err != nil {
		return err
	}
	if err := g.check(dst, 0, 3*dw*dh*el, "tensor"); err != nil {
		return err
	}
	grid, block := Grid2D(dw, dh, 1, blockX, blockY)
	return g.Launch("pm_preprocess", grid, block, rgb, int32(pitch), int32(bpp), int32(cx), int32(cy), int32(cw), int32(ch),
		dst, int32(dw), int32(dh), h32, n.Div[0], n.Div[1], n.Div[2], n.Bias[0], n.Bias[1], n.Bias[2],
		tx.First, tx.W, int32(tx.N), ty.First, ty.W, int32(ty.N))
}

// Postprocess converts frames first … first+count-1 of a decoded clip
// [3, frames, h, w] in [-1, 1] (float32, or float16 when half) to f at
// out, one frame every f.FrameBytes(w, h) bytes.
func (g *GPU) Postprocess(src Mem, half bool, frames, first, count, w, h int, m YUVMatrix, out Mem, f Format) error {
	el := 4
	h32 := int32(0)
	if half {
		el, h32 = 2, 1
	}
	if w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("kernels: frame %dx%d is not even", w, h)
	}
	if first < 0 || first+count > frames {
		return fmt.Errorf("kernels: frames %d..%d of %d", first, first+count-1, frames)
	}
	if err := g.check(src, 0, 3*frames*w*h*el, "decoded clip"); err != nil {
		return err
	}
	fb := f.FrameBytes(w, h)
	if err := g.check(out, 0, count*fb, "frames"); err != nil {
		return err
	}
	grid, block := Grid2D(w/2, h/2, count, blockX, blockY)
	return g.Launch("pm_postprocess", grid, block, src, h32, int32(frames), int32(first), int32(w), int32(h), m, out, int64(fb), int32(f))
}

// CopyKernel copies n bytes (a multiple of 16) from src to dst with a
// grid-stride kernel, sized for the device: the yardstick for the other
// kernels' bandwidth.
func (g *GPU) CopyKernel(dst, src Mem, n int) error {
	if n%16 != 0 {
		return fmt.Errorf("kernels: copy of %d bytes is not a multiple of 16", n)
	}
	if err := g.check(dst, 0, n, "copy"); err != nil {
		return err
	}
	if err := g.check(src, 0, n, "copy"); err != nil {
		return err
	}
	words := n / 16
	blocks := min((words+255)/256, max(1, g.Device.SMs)*32)
	return g.Launch("pm_copy", Dim{uint32(max(blocks, 1)), 1, 1}, Dim{256, 1, 1}, src, dst, int64(words))
}
