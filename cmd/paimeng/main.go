// Command paimeng is the whole service in one binary:
//
//	paimeng dev        everything in one process on embedded defaults
//	paimeng serve      front ends and finished-event handling
//	paimeng worker     engines only
//	paimeng gen        one-shot local generation
//	paimeng migrate    database migrations (up, down, status)
//	paimeng admin      tokens, grants, codes, bans and the ledger audit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // PAIMENG_TZ works on images without a zone database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "paimeng:", err)
		os.Exit(1)
	}
}

const usage = `paimeng — film a dream from a still image, from inside your chat apps

Usage: paimeng <command> [flags]

Commands:
  dev       everything in one process: SQLite, in-process Redis, worker, web, and the chat front ends whose tokens are set
  serve     front ends and finished events (needs PAIMENG_DATABASE_URL and PAIMENG_REDIS_URL)
  worker    render jobs (needs PAIMENG_REDIS_URL; no database, no chat tokens)
  gen       render one clip locally: --image in.jpg --prompt "镜头缓慢推近" --out out.mp4
  migrate   up | down | status
  admin     token create | grant | balance | ledger | codes create | ban | unban | refund | audit | wechat menu

Every flag also reads a PAIMENG_* variable; run "paimeng <command> -h" for them.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runService(ctx, "dev", rest, getenv, stderr, Roles{Frontend: true, Worker: true, Playground: true})
	case "serve":
		return runService(ctx, "serve", rest, getenv, stderr, Roles{Frontend: true})
	case "worker":
		return runService(ctx, "worker", rest, getenv, stderr, Roles{Worker: true})
	case "gen":
		return runGen(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "admin":
		return runAdmin(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// parseConfig reads settings from the environment and flags.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("paimeng "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(fs, getenv)
	if err != nil {
		return nil, nil, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := cfg.finish(); err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	if strings.EqualFold(cfg.LogFormat, "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}

func runService(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, roles Roles) error {
	cfg, _, err := parseConfig(name, args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if name != "dev" {
		if cfg.RedisURL == "" {
			return errors.New("PAIMENG_REDIS_URL is required outside dev mode")
		}
		if roles.Frontend && cfg.DatabaseURL == "" {
			return errors.New("PAIMENG_DATABASE_URL is required for serve")
		}
	}
	log := newLogger(cfg, stderr).With("mode", name)
	app, err := NewApp(ctx, cfg, roles, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if roles.Frontend {
		fmt.Fprintf(stderr, "\n  paimeng %s is up: %s\n\n", name, cfg.PublicURL)
	}
	return app.Run(ctx)
}
