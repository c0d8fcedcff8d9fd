package sample

import (
	"math"
	"testing"
)

// Known-answer vectors of Philox4x32-10 from the Random123 distribution
// (kat_vectors).
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

// The golden values pin the exact algorithm documented in noise.go: a change
// to any part of it changes every seed's video.
func TestNoiseGolden(t *testing.T) {
	want := []float32{
		0.8864975, 0.43935606, -0.15660962, -0.013718679,
		-0.4941005, -0.37216687, -0.67989165, -0.41020364,
	}
	got := Noise(42, 8)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("Noise(42, 8) = %#v, want %#v", got, want)
		}
	}
}

func TestNoiseChunkIndependence(t *testing.T) {
	const n = 1001
	whole := Noise(7, n)
	// Pieces of every length 1..9 starting at even and odd offsets.
	for piece := 1; piece <= 9; piece++ {
		got := make([]float32, n)
		src := NoiseSource{Seed: 7}
		for off := 0; off < n; off += piece {
			end := min(off+piece, n)
			src.Fill(got[off:end], uint64(off))
		}
		for i := range whole {
			if math.Float32bits(got[i]) != math.Float32bits(whole[i]) {
				t.Fatalf("piece %d: index %d = %v, whole = %v", piece, i, got[i], whole[i])
			}
		}
	}
	// A window far into the stream agrees with the pair function directly.
	buf := make([]float32, 3)
	FillNoise(buf, 7, 1<<40+1)
	_, a := normalPair(7, 1<<39)
	b, c := normalPair(7, 1<<39+1)
	if buf[0] != a || buf[1] != b || buf[2] != c {
		t.Fatalf("FillNoise at 2^40+1 = %v, want %v", buf, []float32{a, b, c})
	}
	FillNoise(nil, 7, 3) // empty buffer is fine
}

func TestNoiseMoments(t *testing.T) {
	const n = 1_000_000
	z := Noise(12345, n)
	var sum, sum2, sum4 float64
	for _, v := range z {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite sample %v", v)
		}
		x := float64(v)
		sum += x
		sum2 += x * x
		sum4 += x * x * x * x
	}
	mean := sum / n
	variance := sum2/n - mean*mean
	kurt := sum4 / n
	// Standard errors for N(0,1): mean 1/√n, variance √(2/n), E[z⁴] √(96/n).
	// Five of them: a false failure has probability below 1e-6.
	if se := 1 / math.Sqrt(n); math.Abs(mean) > 5*se {
		t.Errorf("mean %v exceeds 5σ = %v", mean, 5*se)
	}
	if se := math.Sqrt(2.0 / n); math.Abs(variance-1) > 5*se {
		t.Errorf("variance %v differs from 1 by more than 5σ = %v", variance, 5*se)
	}
	if se := math.Sqrt(96.0 / n); math.Abs(kurt-3) > 5*se {
		t.Errorf("fourth moment %v differs from 3 by more than 5σ = %v", kurt, 5*se)
	}
	// Pairs from one Box-Muller block are uncorrelated.
	var cross float64
	for i := 0; i+1 < n; i += 2 {
		cross += float64(z[i]) * float64(z[i+1])
	}
	if se := 1 / math.Sqrt(n/2); math.Abs(cross/(n/2)) > 5*se {
		t.Errorf("pair correlation %v exceeds 5σ = %v", cross/(n/2), 5*se)
	}
}

func TestNoiseSeedsDiffer(t *testing.T) {
	a := Noise(1, 64)
	for _, seed := range []uint64{2, 1 << 32, 1<<32 + 1, math.MaxUint64} {
		b := Noise(seed, 64)
		same := 0
		for i := range a {
			if a[i] == b[i] {
				same++
			}
		}
		if same > 0 {
			t.Errorf("seed %d shares %d of 64 values with seed 1", seed, same)
		}
	}
	c := Noise(1, 64)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(c[i]) {
			t.Fatalf("seed 1 gave different values on a second call at %d", i)
		}
	}
}

// detLog and detSinCos2Pi agree with package math to a few ulps.
func TestDeterministicElementaryFunctions(t *testing.T) {
	ulps := func(a, b float64) float64 {
		if a == b {
			return 0
		}
		return math.Abs(a-b) / (math.Nextafter(math.Abs(b), math.Inf(1)) - math.Abs(b))
	}
	for i := uint64(0); i < 200000; i++ {
		w := philox4x32([4]uint32{uint32(i), 0, 0, 0}, [2]uint32{9, 9})
		a := (uint64(w[0])<<32 | uint64(w[1])) >> 11
		b := (uint64(w[2])<<32 | uint64(w[3])) >> 11
		if i < 64 { // endpoints of the ranges
			a, b = i, i<<47
		}
		u := float64(a+1) * 0x1p-53
		if d := ulps(detLog(u), math.Log(u)); d > 2 {
			t.Fatalf("detLog(%v) = %v, math.Log = %v (%v ulps)", u, detLog(u), math.Log(u), d)
		}
		// θ rounded to float64 is off by up to half an ulp of 2π (4.4e-16),
		// which bounds how well math.Sin(θ) can serve as the reference.
		theta := 2 * math.Pi * float64(b) * 0x1p-53
		s, c := detSinCos2Pi(b)
		if math.Abs(s-math.Sin(theta)) > 1e-15 || math.Abs(c-math.Cos(theta)) > 1e-15 {
			t.Fatalf("detSinCos2Pi(%d) = %v, %v; math: %v, %v", b, s, c, math.Sin(theta), math.Cos(theta))
		}
		// The kernel on [0, π/4], where the argument is exact.
		x := float64(b>>3) * 0x1p-50 * (math.Pi / 4)
		ks, kc := sinCosSmall(x)
		if d := ulps(ks, math.Sin(x)); d > 2 && x > 0 {
			t.Fatalf("sin(%v) = %v, math.Sin = %v (%v ulps)", x, ks, math.Sin(x), d)
		}
		if d := ulps(kc, math.Cos(x)); d > 2 {
			t.Fatalf("cos(%v) = %v, math.Cos = %v (%v ulps)", x, kc, math.Cos(x), d)
		}
	}
	if detLog(1) != 0 {
		t.Fatalf("detLog(1) = %v", detLog(1))
	}
}
