package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"PAIMENG_HTTP_ADDR": "0.0.0.0:9999", "PAIMENG_SIGNUP_CREDITS": "50", "PAIMENG_TASK_TIMEOUT": "2m"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg, err := loadConfig(fs, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--signup-credits", "70"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.finish(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "0.0.0.0:9999" || cfg.SignupCredits != 70 || cfg.TaskTimeout != 2*time.Minute || cfg.PricePerClip != 10 {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.PublicURL != "http://0.0.0.0:9999" || !strings.HasSuffix(cfg.BlobDir, "blobs") {
		t.Fatalf("derived %q %q", cfg.PublicURL, cfg.BlobDir)
	}

	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := loadConfig(fs, func(k string) string {
		if k == "PAIMENG_PRICE_PER_CLIP" {
			return "ten"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "PAIMENG_PRICE_PER_CLIP") {
		t.Fatalf("bad value accepted: %v", err)
	}
}

// Every setting appears in the README's table, and nothing else does.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var c Config
	known := map[string]bool{}
	for _, s := range c.settings() {
		known[s.env] = true
		if !strings.Contains(readme, "| `"+s.env+"` |") {
			t.Errorf("README settings table lacks %s", s.env)
		}
	}
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `PAIMENG_") {
			name := strings.Trim(strings.Fields(line)[1], "`")
			if !known[name] {
				t.Errorf("README lists unknown setting %s", name)
			}
		}
	}
}

func TestConfigEngines(t *testing.T) {
	load := func(spec string) (*Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg, err := loadConfig(fs, func(k string) string {
			if k == "PAIMENG_ENGINES" {
				return spec
			}
			return ""
		})
		if err != nil {
			return nil, err
		}
		return cfg, cfg.finish()
	}
	for _, c := range []struct{ spec, want, err string }{
		{"", "camera", ""},
		{"camera", "camera", ""},
		{" Camera ", "camera", ""},
		{"camera, wan2.1-i2v", "camera,wan2.1-i2v", ""},
		{"svd/1", "", `PAIMENG_ENGINES: engine "svd/1" is not camera or a model package name`},
		{"camera,camera", "", "listed twice"},
		{",", "", "no engine listed"},
	} {
		cfg, err := load(c.spec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil || strings.Join(cfg.Engines, ",") != c.want {
			t.Errorf("%q: engines %v (%v), want %s", c.spec, cfg, err, c.want)
		}
	}
}

func TestConfigEngineConcurrency(t *testing.T) {
	load := func(v string) (*Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, err := loadConfig(fs, func(k string) string {
			if k == "PAIMENG_ENGINE_CONCURRENCY" {
				return v
			}
			return ""
		})
		if err != nil {
			return nil, err
		}
		return c, c.finish()
	}
	if c, err := load(""); err != nil || c.EngineConcurrency != 0 {
		t.Errorf("default: %v, %v", c, err)
	}
	if c, err := load("2"); err != nil || c.EngineConcurrency != 2 {
		t.Errorf("2: %v, %v", c, err)
	}
	if _, err := load("-1"); err == nil || !strings.Contains(err.Error(), "PAIMENG_ENGINE_CONCURRENCY") {
		t.Errorf("-1 accepted: %v", err)
	}
}
