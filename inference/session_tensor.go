package inference

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// liveORT counts ONNX Runtime objects this file and session.go created and
// have not released yet (tensor values, IO bindings, sessions); tests use it
// to prove that Close releases everything.
var liveORT atomic.Int64

// DType is an ONNX tensor element type; the values are those of
// TensorProto.DataType.
type DType int32

// Element types a Buffer can hold.
const (
	Float32  DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	Bool     DType = 9
	Float16  DType = 10
	Float64  DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16
)

// Size is the element size in bytes, or 0 for types a Buffer cannot hold.
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Uint16:
		return "uint16"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	case Float16:
		return "float16"
	case Float64:
		return "float64"
	case Uint32:
		return "uint32"
	case Uint64:
		return "uint64"
	case BFloat16:
		return "bfloat16"
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Half is an IEEE 754 binary16 value held as its bit pattern, the element of
// Float16 buffers. Go has no half-precision arithmetic: convert explicitly
// with HalfFromFloat32 and Half.Float32.
type Half uint16

// HalfFromFloat32 rounds f to the nearest binary16 value (ties to even);
// values beyond ±65504 round to infinity, NaN stays NaN.
func HalfFromFloat32(f float32) Half {
	b := math.Float32bits(f)
	sign := uint32(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return Half(sign | 0x7e00 | man>>13)
		}
		return Half(sign | 0x7c00)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return Half(sign | 0x7c00)
	}
	if e <= 0 {
		if e < -10 {
			return Half(sign)
		}
		full := man | 0x800000
		s := uint32(14 - e)
		m := full >> s
		rem := full & (1<<s - 1)
		half := uint32(1) << (s - 1)
		if rem > half || rem == half && m&1 == 1 {
			m++
		}
		return Half(sign | m)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // a carry into the exponent is the correct rounding, up to infinity
	}
	return Half(sign | h)
}

// Float32 widens h exactly.
func (h Half) Float32() float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case 0:
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// BHalf is a bfloat16 value held as its bit pattern, the element of BFloat16
// buffers.
type BHalf uint16

// BHalfFromFloat32 rounds f to the nearest bfloat16 value (ties to even).
func BHalfFromFloat32(f float32) BHalf {
	b := math.Float32bits(f)
	if b&0x7f800000 == 0x7f800000 && b&0x7fffff != 0 {
		return BHalf(b>>16 | 0x40)
	}
	b += 0x7fff + (b>>16)&1
	return BHalf(b >> 16)
}

// Float32 widens h exactly.
func (h BHalf) Float32() float32 { return math.Float32frombits(uint32(h) << 16) }

// Buffer is a tensor whose elements live in Go memory and are shared with
// ONNX Runtime without copies: write inputs and read outputs through the
// typed views (Float32, Float16, ...), which return the same memory every
// time. A view of the wrong element type panics rather than converting, so a
// float16 model's tensors stay float16 end to end. Close releases the ONNX
// Runtime value; the Go memory is then left to the garbage collector.
type Buffer struct {
	dtype DType
	shape []int64
	n     int
	words []uint64 // backing store, 8-byte aligned for every element type
	bytes []byte
	v     *ort.CustomDataTensor
}

// NewBuffer allocates a zeroed tensor of the given element type and shape.
// Every dimension must be positive.
func NewBuffer(dt DType, shape ...int64) (*Buffer, error) {
	if !ort.IsInitialized() {
		return nil, ErrORTNotInitialized
	}
	size := dt.Size()
	if size == 0 {
		return nil, fmt.Errorf("inference: buffers cannot hold %s", dt)
	}
	if len(shape) == 0 {
		return nil, errors.New("inference: buffer shape is empty (scalars are shape [1])")
	}
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("inference: buffer shape %v has a non-positive dimension", shape)
		}
		if n > math.MaxInt32*int64(1<<16)/d {
			return nil, fmt.Errorf("inference: buffer shape %v is too large", shape)
		}
		n *= d
	}
	nbytes := n * int64(size)
	words := make([]uint64, (nbytes+7)/8)
	bytes := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), nbytes)
	sh := append([]int64(nil), shape...)
	v, err := ort.NewCustomDataTensor(ort.Shape(sh), bytes, ort.TensorElementDataType(dt))
	if err != nil {
		return nil, fmt.Errorf("inference: %s tensor %v: %w", dt, shape, err)
	}
	liveORT.Add(1)
	return &Buffer{dtype: dt, shape: sh, n: int(n), words: words, bytes: bytes, v: v}, nil
}

// DType is the element type.
func (b *Buffer) DType() DType { return b.dtype }

// Shape is the tensor shape; the slice is the buffer's own and must not be
// modified.
func (b *Buffer) Shape() []int64 { return b.shape }

// Len is the number of elements.
func (b *Buffer) Len() int { return b.n }

// Bytes is the raw element memory.
func (b *Buffer) Bytes() []byte { return b.bytes }

func (b *Buffer) view(want DType) unsafe.Pointer {
	if b.dtype != want {
		panic(fmt.Sprintf("inference: %s view of a %s buffer (no implicit conversions)", want, b.dtype))
	}
	if b.v == nil {
		panic("inference: view of a closed buffer")
	}
	return unsafe.Pointer(&b.words[0])
}

// Float32 views a Float32 buffer.
func (b *Buffer) Float32() []float32 { return unsafe.Slice((*float32)(b.view(Float32)), b.n) }

// Float16 views a Float16 buffer.
func (b *Buffer) Float16() []Half { return unsafe.Slice((*Half)(b.view(Float16)), b.n) }

// BFloat16 views a BFloat16 buffer.
func (b *Buffer) BFloat16() []BHalf { return unsafe.Slice((*BHalf)(b.view(BFloat16)), b.n) }

// Float64 views a Float64 buffer.
func (b *Buffer) Float64() []float64 { return unsafe.Slice((*float64)(b.view(Float64)), b.n) }

// Int64 views an Int64 buffer.
func (b *Buffer) Int64() []int64 { return unsafe.Slice((*int64)(b.view(Int64)), b.n) }

// Int32 views an Int32 buffer.
func (b *Buffer) Int32() []int32 { return unsafe.Slice((*int32)(b.view(Int32)), b.n) }

// Uint8 views a Uint8 buffer.
func (b *Buffer) Uint8() []uint8 { return unsafe.Slice((*uint8)(b.view(Uint8)), b.n) }

// Int8 views an Int8 buffer.
func (b *Buffer) Int8() []int8 { return unsafe.Slice((*int8)(b.view(Int8)), b.n) }

// Bool views a Bool buffer.
func (b *Buffer) Bool() []bool { return unsafe.Slice((*bool)(b.view(Bool)), b.n) }

// Close releases the ONNX Runtime value. It is idempotent. A binding that
// still has the buffer bound keeps its memory alive, so closing early is
// memory-safe, but rebind before the next Run to use live data.
func (b *Buffer) Close() error {
	if b == nil || b.v == nil {
		return nil
	}
	err := b.v.Destroy()
	b.v = nil
	liveORT.Add(-1)
	return err
}
