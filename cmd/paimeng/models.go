package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/inference/model"
)

// modelEngines builds learned engines for the model packages in dir whose
// manifest names are in names. Each subfolder holding a model.json is read
// (headers only) to learn its name; only the listed ones are loaded into
// ONNX Runtime. A listed package that is broken is an error; a listed name
// without a package is left out and logged, since another worker may have
// it.
func modelEngines(dir string, names []string, cfg *Config, log *slog.Logger) (map[string]paimeng.Engine, []func() error, error) {
	out := map[string]paimeng.Engine{}
	var closers []func() error
	want := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(builtinEngines, n) {
			want[n] = true
		}
	}
	if len(want) == 0 {
		return out, nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("models folder: %w", err)
	}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(path, "model.json")); err != nil {
			continue
		}
		pkg, err := model.Load(path)
		if err != nil {
			// Only a package we were asked for may stop the worker; an
			// unrelated broken folder is logged.
			if want[e.Name()] {
				closeAll()
				return nil, nil, err
			}
			log.Warn("model package skipped", "path", path, "err", err)
			continue
		}
		name := pkg.Manifest.Name
		if !want[name] {
			continue
		}
		if out[name] != nil {
			closeAll()
			return nil, nil, fmt.Errorf("models folder %s: two packages are named %q", dir, name)
		}
		eng, err := inference.NewLearnedEngine(pkg, inference.LearnedOptions{Providers: cfg.Providers, Logger: log})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("model %s (%s): %w", name, path, err)
		}
		out[name] = eng
		closers = append(closers, eng.Close)
		log.Info("model loaded", "engine", name, "path", path, "kind", pkg.Manifest.Kind, "providers", providersText(cfg.Providers))
	}
	var missing []string
	for n := range want {
		if out[n] == nil {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		log.Warn("engine listed in PAIMENG_ENGINES has no model package here; this worker does not serve it", "engine", n, "models_dir", dir)
	}
	return out, closers, nil
}

func providersText(ps []inference.Provider) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += p.String()
	}
	return s
}

// runModelTiny writes the tiny test model package: paimeng admin model tiny --out DIR.
func runModelTiny(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("admin model tiny", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder to write the package to (it is created; its name is the engine name to list in PAIMENG_ENGINES)")
	seed := fs.Uint64("seed", 1, "seed of the random weights")
	fp16 := fs.Bool("fp16", false, "float16 text encoder and denoiser")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("admin model tiny: --out is required")
	}
	if err := inference.WriteTinyModel(*out, inference.TinyOptions{Seed: *seed, Float16: *fp16}); err != nil {
		return fmt.Errorf("admin model tiny: %w", err)
	}
	pkg, err := model.Load(*out)
	if err != nil {
		return fmt.Errorf("admin model tiny: %w", err)
	}
	fmt.Fprintf(stdout, "%s  model %q (%s, %d×%d…, frames %v at %g fps): a tiny untrained model for trying the learned engine\n",
		*out, pkg.Manifest.Name, pkg.Manifest.Kind, pkg.Manifest.Resolutions[0].Width, pkg.Manifest.Resolutions[0].Height, pkg.Manifest.Frames, pkg.Manifest.FPS)
	return nil
}

// modelComponents lists a package's components in pipeline order.
var modelComponents = []string{model.CompTextEncoder, model.CompImageEncoder, model.CompVAEEncoder,
	model.CompDenoiser, model.CompDenoiserLowNoise, model.CompVAEDecoder}

// runModelCheck checks a model package as a worker would load it and
// prints what it holds: paimeng admin model check DIR. It fails with the
// first problem found: the manifest and files (model.Load), then ONNX
// Runtime sessions on PAIMENG_ORT_PROVIDERS with every declared tensor
// checked against them (inference.NewLearnedEngine).
func runModelCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var prompt string
	cfg, fs, err := parseConfig("admin model check", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&prompt, "prompt", "a cat walks by the river", "prompt whose token ids are shown")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("admin model check: give the package folder (after the flags): paimeng admin model check [--ort-providers SPEC] DIR")
	}
	dir := fs.Arg(0)
	pkg, err := model.Load(dir)
	if err != nil {
		return fmt.Errorf("admin model check: %w", err)
	}
	m := &pkg.Manifest
	fmt.Fprintf(stdout, "%-20s %s (version %s) in %s: list it in PAIMENG_ENGINES as %q\n", "model:", m.Name, m.Version, dir, m.Name)
	fmt.Fprintf(stdout, "%-20s %s, %s, %d steps, guidance %g, batched guidance %v\n", "sampling:", m.Kind, m.Scheduler.Type, m.Defaults.Steps, m.Defaults.Guidance, m.BatchedGuidance)
	res := make([]string, len(m.Resolutions))
	for i, r := range m.Resolutions {
		res[i] = fmt.Sprintf("%d×%d", r.Width, r.Height)
	}
	fmt.Fprintf(stdout, "%-20s %s; frames %v at %g fps; latent %d channels, /%d in space, /%d in time (%s)\n", "video:",
		strings.Join(res, " "), m.Frames, m.FPS, m.Latent.Channels, m.Latent.SpatialFactor, m.Latent.TemporalFactor, m.DenoiserLayout())
	if pkg.Tokenizer != nil {
		ids := pkg.Tokenizer.Encode(prompt)
		fmt.Fprintf(stdout, "%-20s %s (%s), %d ids, padded to %d; %q → %v\n", "tokenizer:", m.Text.File, m.Text.Tokenizer, pkg.Tokenizer.VocabSize(), m.Text.MaxLength, prompt, ids)
	}
	for _, c := range modelComponents {
		sig := pkg.Signatures[c]
		if sig == nil {
			continue
		}
		size := fileSize(pkg.Path(c))
		for _, d := range sig.ExternalData {
			size += fileSize(filepath.Join(filepath.Dir(pkg.Path(c)), d))
		}
		fmt.Fprintf(stdout, "%-20s %s, %s, opset %d\n", c+":", pkg.Component(c).File, byteSize(size), sig.Opsets[""])
	}

	if err := inference.InitORT(cfg.ORTLibrary); err != nil {
		return fmt.Errorf("admin model check: onnx runtime (%s): %w; run make setup or set PAIMENG_ORT_LIBRARY", cfg.ORTLibrary, err)
	}
	defer inference.DestroyORT()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := inference.NewLearnedEngine(pkg, inference.LearnedOptions{Providers: cfg.Providers, Logger: log})
	if err != nil {
		return fmt.Errorf("admin model check: %w", err)
	}
	defer eng.Close()
	fmt.Fprintf(stdout, "%-20s sessions created on %s (asked for %s); every declared tensor matches\n", "runtime:",
		strings.Join(eng.Devices(), ","), providersText(cfg.Providers))
	fmt.Fprintln(stdout, "ok")
	return nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}
