package inference

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
)

const tHalf = int32(pb.TensorProto_FLOAT16)

// affineModel computes y = 2·x + 1 over float32 x of shape [1, n] with n
// symbolic.
func affineModel(t testing.TB) []byte {
	t.Helper()
	g := newGraph("affine")
	x := g.input("x", tFloat, 1, "n")
	m := g.node("Mul", []string{x, g.constF(nil, 2)}, nil)
	g.node("Add", []string{m, g.constF(nil, 1)}, nil, "y")
	g.output("y", tFloat, 1, "n")
	b, err := g.model(17)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// halfModel casts float32 x to float16 (output c) and adds float16 h to it
// (output z), all of fixed shape [n].
func halfModel(t testing.TB, n int) []byte {
	t.Helper()
	g := newGraph("half")
	x := g.input("x", tFloat, n)
	h := g.input("h", tHalf, n)
	c := g.node("Cast", []string{x}, attrs{"to": int(pb.TensorProto_FLOAT16)}, "c")
	g.node("Add", []string{c, h}, nil, "z")
	g.output("c", tHalf, n)
	g.output("z", tHalf, n)
	b, err := g.model(17)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// quiet is a logger that drops everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func cpuConfig(name string) SessionConfig {
	return SessionConfig{Name: name, Providers: []Provider{{Name: ProviderCPU}}, IntraOpThreads: 1, Logger: quiet}
}

func newTestSession(t testing.TB, model []byte, cfg SessionConfig) *Session {
	t.Helper()
	needORT(t)
	s, err := NewSession(model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSessionInfoAndRun(t *testing.T) {
	s := newTestSession(t, affineModel(t), cpuConfig("affine"))
	if got, want := s.Inputs(), []TensorInfo{{"x", Float32, []int64{1, -1}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inputs %v, want %v", got, want)
	}
	if got, want := s.Outputs(), []TensorInfo{{"y", Float32, []int64{1, -1}}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	if got := providerList(s.Providers()); got != "cpu" {
		t.Fatalf("providers %s", got)
	}
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(); err == nil || !strings.Contains(err.Error(), "unbound inputs or outputs: x, y") {
		t.Fatalf("run with nothing bound: %v", err)
	}
	if _, err := b.Alloc("x"); err == nil || !strings.Contains(err.Error(), "dynamic shape") {
		t.Fatalf("alloc of a dynamic input without shape: %v", err)
	}
	// Two jobs of different widths on the same session and binding.
	for _, n := range []int64{5, 1000} {
		x, err := b.Alloc("x", 1, n)
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.Alloc("y", 1, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Float32() {
			x.Float32()[i] = float32(i)
		}
		for step := 0; step < 3; step++ {
			if err := b.Run(); err != nil {
				t.Fatal(err)
			}
			for i, v := range y.Float32() {
				if v != 2*float32(i)+1 {
					t.Fatalf("n=%d y[%d] = %v", n, i, v)
				}
			}
			copy(x.Float32(), y.Float32()) // next step reads the last output
			for i := range x.Float32() {
				x.Float32()[i] = float32(i)
			}
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(); !errors.Is(err, ErrClosed) {
		t.Fatalf("run after close: %v", err)
	}
}

func TestSessionBindChecks(t *testing.T) {
	s := newTestSession(t, affineModel(t), cpuConfig("affine"))
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	f16, _ := NewBuffer(Float16, 1, 4)
	defer f16.Close()
	if err := b.Bind("x", f16); err == nil || !strings.Contains(err.Error(), "x is float32, buffer is float16") {
		t.Fatalf("dtype mismatch: %v", err)
	}
	flat, _ := NewBuffer(Float32, 4)
	defer flat.Close()
	if err := b.Bind("x", flat); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("rank mismatch: %v", err)
	}
	two, _ := NewBuffer(Float32, 2, 4)
	defer two.Close()
	if err := b.Bind("x", two); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("fixed dimension mismatch: %v", err)
	}
	if err := b.Bind("nope", two); err == nil || !strings.Contains(err.Error(), `no input or output "nope"`) {
		t.Fatalf("unknown name: %v", err)
	}
	// A bound output of the wrong width is ONNX Runtime's error, reported.
	x, _ := b.Alloc("x", 1, 4)
	b.Alloc("y", 1, 5)
	if err := b.Run(); err == nil {
		t.Fatal("run with a mismatched output shape succeeded")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "float16 view of a float32 buffer") {
				t.Fatalf("wrong-type view: %v", r)
			}
		}()
		_ = x.Float16()
	}()
	if _, err := NewBuffer(Float32, 1, 0); err == nil {
		t.Fatal("zero dimension accepted")
	}
	if _, err := NewBuffer(DType(8), 1); err == nil {
		t.Fatal("string buffer accepted")
	}
}

func TestSessionFromFile(t *testing.T) {
	needORT(t)
	path := filepath.Join(t.TempDir(), "affine.onnx")
	if err := os.WriteFile(path, affineModel(t), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewSessionFromFile(path, SessionConfig{Providers: []Provider{{Name: ProviderCPU}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != path || len(s.Inputs()) != 1 {
		t.Fatalf("name %q inputs %v", s.Name(), s.Inputs())
	}
	if _, err := NewSessionFromFile(path+".missing", cpuConfig("x")); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := NewSession([]byte("not a model"), cpuConfig("junk")); err == nil {
		t.Fatal("junk model accepted")
	}
}

// TestSessionProviderFallback asks for CUDA on a machine without it (the
// runtime here is a CPU-only build): the session must log which provider
// failed and why, say it runs on CPU only, and work.
func TestSessionProviderFallback(t *testing.T) {
	needORT(t)
	ps, err := ParseProviders("cuda:0{gpu_mem_limit=1GiB},cpu")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := SessionConfig{Name: "affine", Providers: ps, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	s, err := NewSession(affineModel(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("log:\n%s", logs.String())
	if got := providerList(s.Providers()); got != "cpu" {
		if strings.HasPrefix(got, "cuda") {
			t.Skip("CUDA is available here; fallback not exercised")
		}
		t.Fatalf("providers %s", got)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var fell, cpuOnly bool
	for _, l := range lines {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "execution provider unavailable") &&
			strings.Contains(l, `provider="cuda:0{gpu_mem_limit=1073741824}"`) && strings.Contains(l, "err=") && strings.Contains(l, "next=cpu") {
			fell = true
		}
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "session runs on CPU only") {
			cpuOnly = true
		}
	}
	if !fell || !cpuOnly {
		t.Fatalf("missing fallback lines (provider=%v cpu-only=%v):\n%s", fell, cpuOnly, logs.String())
	}
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc("x", 1, 3)
	y, _ := b.Alloc("y", 1, 3)
	copy(x.Float32(), []float32{1, 2, 3})
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	if got := y.Float32(); got[0] != 3 || got[1] != 5 || got[2] != 7 {
		t.Fatalf("y = %v", got)
	}
}

func TestSessionRunAllocatesNothing(t *testing.T) {
	s := newTestSession(t, affineModel(t), cpuConfig("affine"))
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc("x", 1, 256)
	y, _ := b.Alloc("y", 1, 256)
	xs, ys := x.Float32(), y.Float32()
	allocs := testing.AllocsPerRun(200, func() {
		xs[0]++
		if err := b.Run(); err != nil {
			panic(err)
		}
		if ys[0] != 2*xs[0]+1 {
			panic("wrong output")
		}
	})
	if allocs != 0 {
		t.Fatalf("steady-state Run allocates %v times", allocs)
	}
}

func TestHalfConversion(t *testing.T) {
	for _, c := range []struct {
		f float32
		h Half
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800},
		{65504, 0x7bff}, {65519, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0.1, 0x2e66}, {1.0 / 3, 0x3555}, {6.1035156e-05, 0x0400}, {5.9604645e-08, 0x0001},
		{2.9802322e-08, 0}, {2.9802326e-08, 0x0001}, {1e-9, 0}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02},
	} {
		if got := HalfFromFloat32(c.f); got != c.h {
			t.Errorf("HalfFromFloat32(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if h := HalfFromFloat32(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN → %#04x", h)
	}
	for i := 0; i < 1<<16; i++ {
		h := Half(i)
		f := h.Float32()
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x widened to %v", i, f)
			}
			continue
		}
		if back := HalfFromFloat32(f); back != h {
			t.Fatalf("%#04x → %v → %#04x", i, f, back)
		}
	}
	for _, f := range []float32{0, 1, -3.5, 1e30, 0.1} {
		if got := BHalfFromFloat32(f).Float32(); math.Abs(float64(got-f)) > math.Abs(float64(f))/128 {
			t.Errorf("bfloat16 %v → %v", f, got)
		}
	}
}

// TestSessionFloat16 runs a float16 model end to end on Float16 buffers: the
// cast output matches the Go rounding bit for bit (random values across the
// normal and subnormal range), and the float16 sum is exact.
func TestSessionFloat16(t *testing.T) {
	const n = 4096
	s := newTestSession(t, halfModel(t, n), cpuConfig("half"))
	want := []TensorInfo{{"x", Float32, []int64{n}}, {"h", Float16, []int64{n}}}
	if got := s.Inputs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("inputs %v, want %v", got, want)
	}
	if got := s.Outputs(); got[0].DType != Float16 || got[1].DType != Float16 {
		t.Fatalf("outputs %v", got)
	}
	b, err := s.NewBinding()
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Alloc("x")
	h, err := b.Alloc("h")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := b.Alloc("c")
	z, _ := b.Alloc("z")
	if h.DType() != Float16 || z.DType() != Float16 || len(z.Bytes()) != 2*n {
		t.Fatalf("buffers %s %s %d bytes", h.DType(), z.DType(), len(z.Bytes()))
	}
	rng := rand.New(rand.NewSource(1))
	xs, hs := x.Float32(), h.Float16()
	for i := range xs {
		switch i % 3 {
		case 0:
			xs[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.Intn(40)-25)))
		case 1: // multiples of 2^-10 in [-4, 4): the sum is exact
			xs[i] = float32(rng.Intn(8192)-4096) / 1024
		default:
			xs[i] = float32(rng.NormFloat64() * 1e5)
		}
		hs[i] = HalfFromFloat32(float32(rng.Intn(8192)-4096) / 1024)
	}
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	cs, zs := c.Float16(), z.Float16()
	for i := range xs {
		if want := HalfFromFloat32(xs[i]); cs[i] != want {
			t.Fatalf("cast x[%d]=%g: onnxruntime %#04x, Go %#04x", i, xs[i], cs[i], want)
		}
		if i%3 == 1 {
			if want := HalfFromFloat32(xs[i] + hs[i].Float32()); zs[i] != want {
				t.Fatalf("z[%d] = %v, want %v", i, zs[i].Float32(), want.Float32())
			}
		}
	}
}

// TestSessionConcurrentBindings runs one session from several goroutines,
// each with its own binding.
func TestSessionConcurrentBindings(t *testing.T) {
	s := newTestSession(t, affineModel(t), cpuConfig("affine"))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			b, err := s.NewBinding()
			if err != nil {
				errs <- err
				return
			}
			defer b.Close()
			n := int64(64 + g)
			x, _ := b.Alloc("x", 1, n)
			y, _ := b.Alloc("y", 1, n)
			for r := 0; r < 50; r++ {
				for i := range x.Float32() {
					x.Float32()[i] = float32(g*1000 + r + i)
				}
				if err := b.Run(); err != nil {
					errs <- err
					return
				}
				for i, v := range y.Float32() {
					if v != 2*float32(g*1000+r+i)+1 {
						errs <- errors.New("crossed outputs")
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSessionCloseReleasesAll checks the count of live runtime objects.
func TestSessionCloseReleasesAll(t *testing.T) {
	needORT(t)
	before := liveORT.Load()
	s, err := NewSession(affineModel(t), cpuConfig("affine"))
	if err != nil {
		t.Fatal(err)
	}
	var bs []*Binding
	for i := 0; i < 3; i++ {
		b, err := s.NewBinding()
		if err != nil {
			t.Fatal(err)
		}
		b.Alloc("x", 1, 8)
		b.Alloc("y", 1, 8)
		b.Alloc("y", 1, 8) // replaces and closes the first y
		bs = append(bs, b)
	}
	bs[0].Close()
	// The session, two open bindings and their x and y buffers.
	if got := liveORT.Load() - before; got != 1+2+2*2 {
		t.Fatalf("live objects %d, want 7", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := liveORT.Load() - before; got != 0 {
		t.Fatalf("%d runtime objects left after Close", got)
	}
	if _, err := s.NewBinding(); !errors.Is(err, ErrClosed) {
		t.Fatalf("binding after close: %v", err)
	}
	if err := bs[1].Run(); !errors.Is(err, ErrClosed) {
		t.Fatalf("run after session close: %v", err)
	}
	s.Close()
}
