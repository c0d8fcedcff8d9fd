package inference

// ONNX Runtime sessions.
//
// One environment per process: InitORT loads the runtime library and creates
// the single OrtEnv every session shares (its logging and global thread
// state). Call it once at start-up, create sessions after it, close every
// session before the last DestroyORT. Never tear the environment down and
// bring it back between jobs.
//
// Sessions are loaded once and reused across jobs: loading parses the model,
// optimises the graph and, on a GPU, uploads the weights, which costs seconds
// for a diffusion model, while a Run costs milliseconds to a few hundred.
// Keep one Session per model for the life of the process (SessionSet does
// this) and give each job its own Binding.
//
// Concurrency: ONNX Runtime allows concurrent Run calls on one session, and a
// Session here is safe for concurrent use. The bound input and output buffers
// are not: a Binding carries one set of buffers, so it belongs to one
// goroutine at a time. Concurrent users of one model each take a Binding from
// the same Session (weights are shared, buffers are not), or draw Bindings
// from a pool of their own.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	onnxmodel "github.com/paimeng/paimeng/inference/model"
)

// GraphOpt is the graph optimisation level applied when a session loads.
type GraphOpt int

// Graph optimisation levels; the zero value enables every optimisation.
const (
	GraphOptAll GraphOpt = iota
	GraphOptExtended
	GraphOptBasic
	GraphOptDisabled
)

func (g GraphOpt) ort() ort.GraphOptimizationLevel {
	switch g {
	case GraphOptExtended:
		return ort.GraphOptimizationLevelEnableExtended
	case GraphOptBasic:
		return ort.GraphOptimizationLevelEnableBasic
	case GraphOptDisabled:
		return ort.GraphOptimizationLevelDisableAll
	}
	return ort.GraphOptimizationLevelEnableAll
}

// SessionConfig configures session creation.
type SessionConfig struct {
	// Name labels the session in logs and errors (default "model").
	Name string
	// Providers are tried in order (see ParseProviders; the service reads
	// them from its configuration); nil means CPU only. A provider that
	// cannot be added (its library is absent, no device, bad options) is
	// logged and skipped; the CPU provider is always last.
	Providers []Provider
	// IntraOpThreads and InterOpThreads size ONNX Runtime's thread pools;
	// 0 keeps its defaults (one intra-op thread per core).
	IntraOpThreads int
	InterOpThreads int
	// GraphOpt is the graph optimisation level (default all).
	GraphOpt GraphOpt
	// Logger receives provider fallbacks and the ready line (default
	// slog.Default()).
	Logger *slog.Logger
	// OnFallback, when set, is also told of each requested provider the
	// session skipped, as it is logged.
	OnFallback func(ProviderFallback)
	// ExternalDataDir is the folder in which a model given as bytes
	// (NewSession) finds the external data files its graph names; empty,
	// such a model must hold all its weights. NewSessionFromFile looks
	// next to the file and ignores it.
	ExternalDataDir string
}

// ProviderFallback is a requested execution provider the session could not
// use, and ONNX Runtime's reason.
type ProviderFallback struct {
	Provider string // in spec form, with options
	Reason   string
}

// fellBack logs that p was skipped for err and tells cfg.OnFallback.
func fellBack(cfg SessionConfig, log *slog.Logger, msg string, p Provider, err error, next string) {
	log.Warn(msg, "session", cfg.Name, "provider", p.String(), "err", err, "next", next)
	if cfg.OnFallback != nil {
		cfg.OnFallback(ProviderFallback{Provider: p.String(), Reason: err.Error()})
	}
}

// TensorInfo describes one model input or output. Dimensions that the model
// leaves symbolic are -1.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
}

func (t TensorInfo) String() string { return fmt.Sprintf("%s %s%v", t.Name, t.DType, t.Shape) }

// Session is one loaded model. It is safe for concurrent use; see the file
// comment for how Bindings share it.
type Session struct {
	name      string
	providers []Provider
	inputs    []TensorInfo
	outputs   []TensorInfo
	index     map[string]int // name → position; outputs follow inputs

	mu       sync.RWMutex // Run holds it shared, Close exclusively
	sess     *ort.DynamicAdvancedSession
	bindings map[*Binding]struct{}
}

// ErrClosed is returned by Run on a closed Binding or Session.
var ErrClosed = errors.New("inference: session or binding is closed")

// NewSession loads a model from its serialized bytes.
func NewSession(model []byte, cfg SessionConfig) (*Session, error) {
	if len(model) == 0 {
		return nil, errors.New("inference: empty model")
	}
	info := func() ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
		return ort.GetInputOutputInfoWithONNXData(model)
	}
	if cfg.ExternalDataDir != "" {
		// ONNX Runtime's information session takes no options, so it
		// could not find the weights: read the graph's declarations.
		info = func() ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
			sig, err := onnxmodel.ParseSignature(model)
			if err != nil {
				return nil, nil, err
			}
			return declaredInfos(sig.Inputs), declaredInfos(sig.Outputs), nil
		}
	}
	return newSession(cfg, func(o *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		if cfg.ExternalDataDir != "" {
			if err := o.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", cfg.ExternalDataDir); err != nil {
				return nil, fmt.Errorf("external data folder: %w", err)
			}
		}
		return ort.NewDynamicAdvancedSessionWithONNXData(model, nil, nil, o)
	}, info)
}

// declaredInfos converts a graph's declared inputs or outputs; symbolic and
// unknown dimensions become -1, as ONNX Runtime reports them.
func declaredInfos(ts []onnxmodel.TensorInfo) []ort.InputOutputInfo {
	infos := make([]TensorInfo, len(ts))
	for i, t := range ts {
		dims := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			dims[j] = -1
			if d.Fixed() && d.Size > 0 {
				dims[j] = d.Size
			}
		}
		infos[i] = TensorInfo{Name: t.Name, DType: DType(t.DType), Shape: dims}
	}
	return ortInfos(infos)
}

// ortInfos converts tensor descriptions to ONNX Runtime's.
func ortInfos(ts []TensorInfo) []ort.InputOutputInfo {
	out := make([]ort.InputOutputInfo, len(ts))
	for i, t := range ts {
		out[i] = ort.InputOutputInfo{Name: t.Name, OrtValueType: ort.ONNXTypeTensor,
			Dimensions: ort.NewShape(t.Shape...), DataType: ort.TensorElementDataType(t.DType)}
	}
	return out
}

// NewSessionFromFile loads a model from an .onnx file (external weight files
// are looked up next to it).
func NewSessionFromFile(path string, cfg SessionConfig) (*Session, error) {
	if cfg.Name == "" {
		cfg.Name = path
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("inference: model %w", err)
	}
	return newSession(cfg, func(o *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		return ort.NewDynamicAdvancedSession(path, nil, nil, o)
	}, func() ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
		o, err := ort.NewSessionOptions()
		if err != nil {
			return nil, nil, err
		}
		defer o.Destroy()
		_ = o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll)
		_ = o.SetIntraOpNumThreads(1)
		return ort.GetInputOutputInfoWithOptions(path, o)
	})
}

func newSession(cfg SessionConfig,
	create func(*ort.SessionOptions) (*ort.DynamicAdvancedSession, error),
	info func() ([]ort.InputOutputInfo, []ort.InputOutputInfo, error),
) (*Session, error) {
	if !ort.IsInitialized() {
		return nil, ErrORTNotInitialized
	}
	if cfg.Name == "" {
		cfg.Name = "model"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	providers := cfg.Providers
	if len(providers) == 0 || providers[len(providers)-1].Name != ProviderCPU {
		providers = append(append([]Provider(nil), providers...), Provider{Name: ProviderCPU})
	}
	requested := providerList(providers)

	// Information first (a temporary CPU session): a model that does not load
	// fails here, before any provider is tried.
	ins, outs, err := info()
	if err != nil {
		return nil, fmt.Errorf("inference: %s: read inputs and outputs: %w", cfg.Name, err)
	}
	s := &Session{name: cfg.Name, index: map[string]int{}, bindings: map[*Binding]struct{}{}}
	for _, list := range []struct {
		src []ort.InputOutputInfo
		dst *[]TensorInfo
	}{{ins, &s.inputs}, {outs, &s.outputs}} {
		for _, io := range list.src {
			if io.OrtValueType != ort.ONNXTypeTensor {
				return nil, fmt.Errorf("inference: %s: %s is a %s, only tensors are supported", cfg.Name, io.Name, io.OrtValueType)
			}
			dt := DType(io.DataType)
			if dt.Size() == 0 {
				return nil, fmt.Errorf("inference: %s: %s has unsupported element type %s", cfg.Name, io.Name, io.DataType)
			}
			sh := append([]int64{}, io.Dimensions...)
			for i := range sh {
				if sh[i] < 1 {
					sh[i] = -1
				}
			}
			s.index[io.Name] = len(s.index)
			*list.dst = append(*list.dst, TensorInfo{Name: io.Name, DType: dt, Shape: sh})
		}
	}

	cands := providers
	for {
		opts, active, err := sessionOptions(cfg, cands, log)
		if err != nil {
			return nil, err
		}
		sess, err := create(opts)
		opts.Destroy()
		if err == nil {
			s.sess = sess
			s.providers = active
			break
		}
		if active[0].Name == ProviderCPU {
			return nil, fmt.Errorf("inference: %s: create session: %w", cfg.Name, err)
		}
		fellBack(cfg, log, "onnxruntime: session creation failed with execution provider, falling back", active[0], err, providerList(active[1:]))
		cands = active[1:]
	}
	liveORT.Add(1)
	if len(s.providers) == 1 && len(providers) > 1 {
		log.Warn("onnxruntime: no accelerator available, session runs on CPU only",
			"session", cfg.Name, "requested", requested)
	}
	log.Info("onnxruntime: session ready", "session", cfg.Name,
		"providers", providerList(s.providers), "inputs", fmt.Sprint(s.inputs), "outputs", fmt.Sprint(s.outputs))
	return s, nil
}

func providerList(ps []Provider) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.String()
	}
	return strings.Join(names, ",")
}

// sessionOptions builds ONNX Runtime session options with the first providers
// of ps that can be added; each one that cannot is logged and skipped. active
// lists the providers added, ending with cpu.
func sessionOptions(cfg SessionConfig, ps []Provider, log *slog.Logger) (*ort.SessionOptions, []Provider, error) {
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("inference: session options: %w", err)
	}
	fail := func(what string, err error) (*ort.SessionOptions, []Provider, error) {
		o.Destroy()
		return nil, nil, fmt.Errorf("inference: %s: %s: %w", cfg.Name, what, err)
	}
	if err := o.SetGraphOptimizationLevel(cfg.GraphOpt.ort()); err != nil {
		return fail("graph optimisation level", err)
	}
	if cfg.IntraOpThreads > 0 {
		if err := o.SetIntraOpNumThreads(cfg.IntraOpThreads); err != nil {
			return fail("intra-op threads", err)
		}
	}
	if cfg.InterOpThreads > 0 {
		if err := o.SetInterOpNumThreads(cfg.InterOpThreads); err != nil {
			return fail("inter-op threads", err)
		}
	}
	var active []Provider
	for i, p := range ps {
		if p.Name == ProviderCPU {
			active = append(active, p)
			break
		}
		if err := appendProvider(o, p); err != nil {
			fellBack(cfg, log, "onnxruntime: execution provider unavailable, falling back", p, err, providerList(ps[i+1:]))
			continue
		}
		active = append(active, p)
	}
	return o, active, nil
}

// appendProvider adds one GPU execution provider with its options.
func appendProvider(o *ort.SessionOptions, p Provider) error {
	switch p.Name {
	case ProviderCUDA:
		po, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return err
		}
		defer po.Destroy()
		if err := po.Update(p.providerOptions()); err != nil {
			return fmt.Errorf("configure provider: %w", err)
		}
		return o.AppendExecutionProviderCUDA(po)
	case ProviderTensorRT:
		po, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return err
		}
		defer po.Destroy()
		if err := po.Update(p.providerOptions()); err != nil {
			return fmt.Errorf("configure provider: %w", err)
		}
		return o.AppendExecutionProviderTensorRT(po)
	}
	return fmt.Errorf("unknown execution provider %q", p.Name)
}

// Name is the session's label.
func (s *Session) Name() string { return s.name }

// Providers lists the execution providers the session was created with, in
// priority order, after any fallback; the last is always cpu.
func (s *Session) Providers() []Provider { return append([]Provider(nil), s.providers...) }

// Inputs describes the model inputs in model order.
func (s *Session) Inputs() []TensorInfo { return cloneInfos(s.inputs) }

// Outputs describes the model outputs in model order.
func (s *Session) Outputs() []TensorInfo { return cloneInfos(s.outputs) }

func cloneInfos(in []TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, t := range in {
		out[i] = TensorInfo{Name: t.Name, DType: t.DType, Shape: append([]int64(nil), t.Shape...)}
	}
	return out
}

// info finds a named input or output.
func (s *Session) info(name string) (TensorInfo, bool, bool) {
	i, ok := s.index[name]
	if !ok {
		return TensorInfo{}, false, false
	}
	if i < len(s.inputs) {
		return s.inputs[i], true, true
	}
	return s.outputs[i-len(s.inputs)], false, true
}

// Close waits for running Runs, closes every Binding made from the session
// (and the buffers they own), then releases the session. It is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil
	}
	var errs []error
	for b := range s.bindings {
		errs = append(errs, b.closeLocked())
	}
	errs = append(errs, s.sess.Destroy())
	s.sess = nil
	liveORT.Add(-1)
	return errors.Join(errs...)
}

// Binding is one user's set of input and output buffers bound by name to a
// Session, reused for every Run. Bind buffers once (or whenever a job changes
// shapes), then loop: write inputs, Run, read outputs; a Run allocates
// nothing in Go. A Binding is not safe for concurrent use.
type Binding struct {
	s     *Session
	io    *ort.IoBinding
	bound map[string]*Buffer
	keep  map[string][]uint64 // memory ONNX Runtime still points at
	owned map[string]*Buffer
}

// NewBinding creates an empty binding on the session.
func (s *Session) NewBinding() (*Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil, ErrClosed
	}
	io, err := s.sess.CreateIoBinding()
	if err != nil {
		return nil, fmt.Errorf("inference: %s: IO binding: %w", s.name, err)
	}
	liveORT.Add(1)
	b := &Binding{s: s, io: io, bound: map[string]*Buffer{}, keep: map[string][]uint64{}, owned: map[string]*Buffer{}}
	s.bindings[b] = struct{}{}
	return b, nil
}

// Bind binds buf to the named input or output, replacing any earlier buffer
// for that name. The element type must equal the model's (no implicit
// casts: a float16 input takes a Float16 buffer); the rank and the model's
// fixed dimensions must match. The caller keeps ownership of buf.
func (b *Binding) Bind(name string, buf *Buffer) error {
	if buf == nil || buf.v == nil {
		return fmt.Errorf("inference: bind %s: buffer is nil or closed", name)
	}
	b.s.mu.RLock()
	defer b.s.mu.RUnlock()
	if b.io == nil {
		return ErrClosed
	}
	ti, isInput, ok := b.s.info(name)
	if !ok {
		return fmt.Errorf("inference: %s has no input or output %q", b.s.name, name)
	}
	if err := checkBuffer(b.s.name, ti, buf); err != nil {
		return err
	}
	var err error
	if isInput {
		err = b.io.BindInput(name, buf.v)
	} else {
		err = b.io.BindOutput(name, buf.v)
	}
	if err != nil {
		return fmt.Errorf("inference: %s: bind %s: %w", b.s.name, name, err)
	}
	b.bound[name] = buf
	b.keep[name] = buf.words
	if old := b.owned[name]; old != nil && old != buf {
		delete(b.owned, name)
		old.Close()
	}
	return nil
}

func checkBuffer(model string, ti TensorInfo, buf *Buffer) error {
	if buf.dtype != ti.DType {
		return fmt.Errorf("inference: %s: %s is %s, buffer is %s (convert explicitly; no implicit casts)", model, ti.Name, ti.DType, buf.dtype)
	}
	if len(ti.Shape) != len(buf.shape) {
		return fmt.Errorf("inference: %s: %s has shape %v, buffer has %v", model, ti.Name, ti.Shape, buf.shape)
	}
	for i, d := range ti.Shape {
		if d > 0 && buf.shape[i] != d {
			return fmt.Errorf("inference: %s: %s has shape %v, buffer has %v", model, ti.Name, ti.Shape, buf.shape)
		}
	}
	return nil
}

// Alloc creates a buffer of the model's element type for the named input or
// output and binds it; the binding owns it and closes it on Close or when the
// name is bound again. shape may be omitted when the model fixes every
// dimension.
func (b *Binding) Alloc(name string, shape ...int64) (*Buffer, error) {
	ti, _, ok := b.s.info(name)
	if !ok {
		return nil, fmt.Errorf("inference: %s has no input or output %q", b.s.name, name)
	}
	if len(shape) == 0 {
		shape = ti.Shape
		for _, d := range shape {
			if d < 1 {
				return nil, fmt.Errorf("inference: %s: %s has dynamic shape %v: give a shape", b.s.name, name, ti.Shape)
			}
		}
	}
	buf, err := NewBuffer(ti.DType, shape...)
	if err != nil {
		return nil, err
	}
	if err := b.Bind(name, buf); err != nil {
		buf.Close()
		return nil, err
	}
	b.owned[name] = buf
	return buf, nil
}

// Buffer returns the buffer bound to name, or nil.
func (b *Binding) Buffer(name string) *Buffer { return b.bound[name] }

// Run runs the model on the bound inputs, writing the bound outputs. Every
// input and output must be bound. It allocates nothing in Go on success.
func (b *Binding) Run() error {
	b.s.mu.RLock()
	defer b.s.mu.RUnlock()
	if b.io == nil || b.s.sess == nil {
		return ErrClosed
	}
	if len(b.bound) != len(b.s.index) {
		return b.missing()
	}
	if err := b.s.sess.RunWithBinding(b.io); err != nil {
		return fmt.Errorf("inference: %s: run: %w", b.s.name, err)
	}
	return nil
}

func (b *Binding) missing() error {
	var names []string
	for _, list := range [][]TensorInfo{b.s.inputs, b.s.outputs} {
		for _, t := range list {
			if b.bound[t.Name] == nil {
				names = append(names, t.Name)
			}
		}
	}
	return fmt.Errorf("inference: %s: unbound inputs or outputs: %s", b.s.name, strings.Join(names, ", "))
}

// Close releases the IO binding and the buffers Alloc made. Buffers passed
// to Bind stay with the caller. It is idempotent.
func (b *Binding) Close() error {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.closeLocked()
}

func (b *Binding) closeLocked() error {
	if b.io == nil {
		return nil
	}
	err := b.io.Destroy()
	b.io = nil
	liveORT.Add(-1)
	for _, buf := range b.owned {
		buf.Close()
	}
	b.owned, b.bound, b.keep = nil, nil, nil
	delete(b.s.bindings, b)
	return err
}
