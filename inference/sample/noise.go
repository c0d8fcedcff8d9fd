package sample

import "math"

// The initial noise of a generation is a function of (seed, index) only, so a
// seed names the same latent on every machine, whatever the architecture, Go
// version or chunking:
//
//   - Element pair p = index/2 takes one block of Philox4x32-10 (Salmon et al.,
//     "Parallel random numbers: as easy as 1, 2, 3", 2011) with counter
//     (uint32(p), uint32(p>>32), 0, 0) and key (uint32(seed), uint32(seed>>32)),
//     giving four 32-bit words w0..w3.
//   - a = (w0<<32 | w1) >> 11 and b = (w2<<32 | w3) >> 11 are 53-bit integers;
//     u1 = (a+1)·2⁻⁵³ lies in (0, 1] and u2 = b·2⁻⁵³ in [0, 1).
//   - Box-Muller in float64: r = sqrt(−2·ln u1), θ = 2π·u2; element 2p is
//     float32(r·cos θ) and element 2p+1 is float32(r·sin θ), each rounded to
//     nearest-even from the float64 product.
//
// ln, sin and cos are computed by this file rather than by package math:
// math may use assembly on some architectures, and the Go compiler may fuse
// a*b+c into one FMA instruction on others (arm64, ppc64, s390x, riscv64),
// either of which can move the last bit of a float64 and, rarely, of the
// float32 it rounds to. Here every product is rounded explicitly with a
// float64 conversion, which the language specification defines to prevent
// fusion, so only IEEE-754 +, −, ×, ÷ and sqrt (all correctly rounded) are
// involved. The angle is reduced to an octant with integer arithmetic on b,
// so no inexact range reduction happens. The functions agree with package
// math to within a few float64 ulps; the test compares them.

// Philox4x32-10 constants.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// philox4x32 returns the Philox4x32-10 block for counter c and key k.
func philox4x32(c [4]uint32, k [2]uint32) [4]uint32 {
	for round := 0; round < 10; round++ {
		if round > 0 {
			k[0] += philoxW0
			k[1] += philoxW1
		}
		p0 := uint64(philoxM0) * uint64(c[0])
		p1 := uint64(philoxM1) * uint64(c[2])
		c = [4]uint32{
			uint32(p1>>32) ^ c[1] ^ k[0], uint32(p1),
			uint32(p0>>32) ^ c[3] ^ k[1], uint32(p0),
		}
	}
	return c
}

// normalPair returns standard normal elements 2p and 2p+1 for seed.
func normalPair(seed, p uint64) (float32, float32) {
	w := philox4x32(
		[4]uint32{uint32(p), uint32(p >> 32), 0, 0},
		[2]uint32{uint32(seed), uint32(seed >> 32)},
	)
	a := (uint64(w[0])<<32 | uint64(w[1])) >> 11
	b := (uint64(w[2])<<32 | uint64(w[3])) >> 11
	u1 := float64(a+1) * 0x1p-53
	r := math.Sqrt(-2 * detLog(u1))
	s, c := detSinCos2Pi(b)
	return float32(r * c), float32(r * s)
}

// FillNoise writes standard normal samples for indices offset,
// offset+1, …, offset+len(dst)−1 of the stream named by seed into dst. It
// allocates nothing. Filling a tensor in any number of pieces gives the same
// values as filling it at once.
func FillNoise(dst []float32, seed, offset uint64) {
	i := 0
	idx := offset
	if idx&1 == 1 && i < len(dst) {
		_, z1 := normalPair(seed, idx>>1)
		dst[i] = z1
		i++
		idx++
	}
	for ; i+1 < len(dst); i, idx = i+2, idx+2 {
		dst[i], dst[i+1] = normalPair(seed, idx>>1)
	}
	if i < len(dst) {
		dst[i], _ = normalPair(seed, idx>>1)
	}
}

// Noise returns n standard normal samples, indices 0 to n−1 of the stream
// named by seed. See FillNoise for a version that writes into a buffer.
func Noise(seed uint64, n int) []float32 {
	dst := make([]float32, n)
	FillNoise(dst, seed, 0)
	return dst
}

// NoiseSource is the noise stream of one seed, for callers that fill a
// latent in pieces.
type NoiseSource struct {
	Seed uint64
}

// Fill writes the samples with indices offset … offset+len(dst)−1 into dst.
func (s NoiseSource) Fill(dst []float32, offset uint64) { FillNoise(dst, s.Seed, offset) }

// Coefficients of the FreeBSD / Go log kernel: a minimax polynomial for
// (log(1+f) − 2s)/s with s = f/(2+f).
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	logL1 = 6.666666666666735130e-01
	logL2 = 3.999999999940941908e-01
	logL3 = 2.857142874366239149e-01
	logL4 = 2.222219843214978396e-01
	logL5 = 1.818357216161805012e-01
	logL6 = 1.531383769920937332e-01
	logL7 = 1.479819860511658591e-01
)

// detLog is the natural logarithm of x for finite x > 0 (normal numbers;
// the noise only needs (0, 1]) with every product explicitly rounded.
func detLog(x float64) float64 {
	f1, ki := math.Frexp(x) // exact: x = f1·2^ki, f1 in [0.5, 1)
	if f1 < math.Sqrt2/2 {
		f1 *= 2 // exact
		ki--
	}
	f := f1 - 1 // exact (Sterbenz)
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (logL1 + float64(s4*(logL3+float64(s4*(logL5+float64(s4*logL7)))))))
	t2 := float64(s4 * (logL2 + float64(s4*(logL4+float64(s4*logL6)))))
	R := t1 + t2
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+R)) + float64(k*ln2Lo))) - f)
}

// detSinCos2Pi returns sin and cos of 2π·b·2⁻⁵³ for a 53-bit integer b. The
// top three bits of b pick the octant; the remaining 50 bits (mirrored in odd
// octants) give an angle a in [0, π/4], where Taylor series of degree 17
// (sine) and 18 (cosine) are accurate to well below a float64 ulp.
func detSinCos2Pi(b uint64) (sin, cos float64) {
	const fracBits = 50
	oct := b >> fracBits
	m := b & (1<<fracBits - 1)
	if oct&1 == 1 {
		m = 1<<fracBits - m // exact
	}
	a := float64(float64(m) * (math.Pi / 4 / (1 << fracBits)))
	s, c := sinCosSmall(a)
	switch oct {
	case 0:
		return s, c
	case 1:
		return c, s
	case 2:
		return c, -s
	case 3:
		return s, -c
	case 4:
		return -s, -c
	case 5:
		return -c, -s
	case 6:
		return -c, s
	default:
		return -s, c
	}
}

// sinCosSmall returns sin a and cos a for a in [0, π/4] by Horner evaluation
// of the Taylor series with explicitly rounded products.
func sinCosSmall(a float64) (float64, float64) {
	z := float64(a * a)
	// sin a = a·(1 − z/3! + z²/5! − … + z⁸/17!)
	ps := -1.0 / 355687428096000 // −1/17!
	ps = float64(ps*z) + 1.0/1307674368000
	ps = float64(ps*z) - 1.0/6227020800
	ps = float64(ps*z) + 1.0/39916800
	ps = float64(ps*z) - 1.0/362880
	ps = float64(ps*z) + 1.0/5040
	ps = float64(ps*z) - 1.0/120
	ps = float64(ps*z) + 1.0/6
	sin := a - float64(float64(a*z)*ps)
	// cos a = 1 − z/2! + z²/4! − … − z⁹/18!
	pc := -1.0 / 6402373705728000 // −1/18!
	pc = float64(pc*z) + 1.0/20922789888000
	pc = float64(pc*z) - 1.0/87178291200
	pc = float64(pc*z) + 1.0/479001600
	pc = float64(pc*z) - 1.0/3628800
	pc = float64(pc*z) + 1.0/40320
	pc = float64(pc*z) - 1.0/720
	pc = float64(pc*z) + 1.0/24
	pc = float64(pc*z) - 1.0/2
	cos := 1 + float64(z*pc)
	return sin, cos
}
