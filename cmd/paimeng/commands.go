package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/inference"
	"github.com/paimeng/paimeng/media"
)

func runGen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var image, prompt, out string
	var seconds int
	var seed int64
	cfg, _, err := parseConfig("gen", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&image, "image", "", "input image (JPEG, PNG or WebP)")
		fs.StringVar(&prompt, "prompt", "", "what should happen, camera words included (推近, pull back, 左移…)")
		fs.IntVar(&seconds, "seconds", 5, "clip length: 5 or 10")
		fs.Int64Var(&seed, "seed", 1, "seed for the camera shake")
		fs.StringVar(&out, "out", "out.mp4", "output MP4; the poster is written beside it as .jpg")
	})
	if err != nil {
		return err
	}
	if image == "" {
		return errors.New("gen: --image is required")
	}
	if seconds != 5 && seconds != 10 {
		return errors.New("gen: --seconds must be 5 or 10")
	}
	data, err := os.ReadFile(image)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if err := inference.InitORT(cfg.ORTLibrary); err != nil {
		return fmt.Errorf("gen: onnx runtime (%s): %w; run make setup or set PAIMENG_ORT_LIBRARY", cfg.ORTLibrary, err)
	}
	cam, err := inference.NewCameraEngine(inference.CameraOptions{MaxSide: cfg.MaxSide})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer cam.Close()
	r := media.NewRenderer(map[string]paimeng.Engine{cam.Name(): cam}, cam.Name(), media.EncodeOptions{FFmpeg: cfg.FFmpeg, Preset: cfg.EncoderPreset})

	dir, err := os.MkdirTemp("", "paimeng-gen-")
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer os.RemoveAll(dir)
	bar := newProgressBar(stderr)
	start := time.Now()
	res, err := r.Render(ctx, &paimeng.RenderInput{Image: data, Prompt: prompt, Seconds: seconds, Seed: seed, OutDir: dir}, bar.update)
	bar.finish()
	if err != nil {
		return fmt.Errorf("gen: %s: %w", paimeng.ErrorCode(err), err)
	}
	if err := copyFile(res.VideoPath, out); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	poster := strings.TrimSuffix(out, filepath.Ext(out)) + ".jpg"
	if err := copyFile(res.PosterPath, poster); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	fmt.Fprintf(stdout, "%s  %dx%d  %d frames  %.1f s  %.1f MB  (took %.1f s)\n", out, res.Width, res.Height, res.Frames, res.Seconds, float64(res.Bytes)/1e6, time.Since(start).Seconds())
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

// progressBar draws a one-line bar on a terminal.
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	last string
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

func (b *progressBar) update(p paimeng.Progress) {
	const width = 30
	n := int(p.Fraction()*width + 0.5)
	line := fmt.Sprintf("\r%-7s [%s%s] %3.0f%%", p.Stage, strings.Repeat("█", n), strings.Repeat("░", width-n), p.Fraction()*100)
	b.mu.Lock()
	defer b.mu.Unlock()
	if line != b.last {
		fmt.Fprint(b.w, line)
		b.last = line
	}
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != "" {
		fmt.Fprintln(b.w)
	}
}

func openStore(ctx context.Context, cfg *Config) (*credits.Store, error) {
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "paimeng.db")
	}
	s, err := credits.Open(ctx, dsn, credits.Options{SignupCredits: cfg.SignupCredits})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return s, nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	verb := "up"
	if fs.NArg() > 0 {
		verb = fs.Arg(0)
	}
	s, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	switch verb {
	case "up":
		if err := s.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrated up ("+s.Dialect()+")")
		return nil
	case "down":
		if err := s.MigrateDown(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrated down one version ("+s.Dialect()+")")
		return nil
	case "status":
		return s.MigrateStatus(ctx, stdout)
	}
	return fmt.Errorf("migrate: unknown action %q (up, down, status)", verb)
}

func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const adminUsage = "admin: token create --user NAME | grant --user PLATFORM:ID --credits N [--reason TEXT] | balance --user PLATFORM:ID"
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	verb := args[0]
	args = args[1:]
	if verb == "token" {
		if len(args) == 0 || args[0] != "create" {
			return errors.New(adminUsage)
		}
		args = args[1:]
	}
	var user, reason string
	var amount int64
	cfg, _, err := parseConfig("admin "+verb, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "web user name, or PLATFORM:ID")
		fs.Int64Var(&amount, "credits", 0, "credits to grant")
		fs.StringVar(&reason, "reason", "admin grant", "reason written to the ledger")
	})
	if err != nil {
		return err
	}
	if user == "" {
		return errors.New("admin: --user is required")
	}
	id := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: user}
	if strings.Contains(user, ":") {
		if id, err = paimeng.ParseIdentity(user); err != nil {
			return err
		}
	}
	s, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	switch verb {
	case "token":
		tok, err := s.CreateToken(ctx, id, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		return nil
	case "grant":
		if amount <= 0 {
			return errors.New("admin grant: --credits must be positive")
		}
		acc, err := s.Grant(ctx, id, amount, reason, "admin:cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s balance %d\n", id, acc.Balance)
		return nil
	case "balance":
		acc, err := s.Account(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s balance %d\n", id, acc.Balance)
		return nil
	}
	return errors.New(adminUsage)
}
