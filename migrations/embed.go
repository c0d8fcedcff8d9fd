// Package migrations holds the database schema as goose SQL migrations, one
// folder per dialect, embedded in the binary.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialects understood by this package (goose's names).
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite3"
)

// FS holds the migrations: postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS

// Provider returns a goose provider for dialect over db. On PostgreSQL,
// concurrent runs are serialized with an advisory lock.
func Provider(db *sql.DB, dialect string) (*goose.Provider, error) {
	var (
		dir  string
		opts = []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	)
	switch dialect {
	case DialectPostgres:
		dir = "postgres"
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		dir = "sqlite"
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	sub, err := fs.Sub(FS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.Dialect(dialect), db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Up applies every pending migration.
func Up(ctx context.Context, db *sql.DB, dialect string) error {
	p, err := Provider(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Down rolls back the most recent migration.
func Down(ctx context.Context, db *sql.DB, dialect string) error {
	p, err := Provider(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.Down(ctx); err != nil {
		return fmt.Errorf("migrations: down: %w", err)
	}
	return nil
}

// DownTo rolls back every migration newer than version (0: all of them).
func DownTo(ctx context.Context, db *sql.DB, dialect string, version int64) error {
	p, err := Provider(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrations: down to %d: %w", version, err)
	}
	return nil
}

// Status writes one line per migration to w: its state, when it was
// applied, and its file.
func Status(ctx context.Context, db *sql.DB, dialect string, w io.Writer) error {
	p, err := Provider(db, dialect)
	if err != nil {
		return err
	}
	list, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migrations: status: %w", err)
	}
	for _, m := range list {
		applied := "-"
		if !m.AppliedAt.IsZero() {
			applied = m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		if _, err := fmt.Fprintf(w, "%-9s %-20s %s\n", m.State, applied, m.Source.Path); err != nil {
			return fmt.Errorf("migrations: status: %w", err)
		}
	}
	return nil
}
