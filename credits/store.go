// Package credits keeps wallets, the credit ledger, holds, jobs and API
// tokens in PostgreSQL or SQLite through GORM.
//
// Money moves only through ledger entries written in the same transaction
// as the balance change; debits are conditional updates (balance >= price),
// so balances never go negative and no row lock is needed on SQLite.
package credits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/migrations"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// SignupCredits is granted once when an identity is first seen.
	SignupCredits int64
	// MaxConns caps PostgreSQL connections; 0 means 20. SQLite always uses
	// one connection.
	MaxConns int

	// DailyCredits is paid by the daily check-in; 0 turns it off.
	DailyCredits int64
	// Location is the community's time zone: calendar days for the daily
	// check-in and the start of leaderboard weeks and months. Default
	// Asia/Shanghai (UTC+8 when the zone database is missing).
	Location *time.Location
	// MaxQueued is how many unfinished jobs a member may have; default 3.
	MaxQueued int
	// RateLimit is how many jobs a member may submit per RateWindow; 0
	// means no limit. RateWindow defaults to one minute.
	RateLimit  int
	RateWindow time.Duration
	// LinkCodeTTL is how long a /link code stays valid; default 10 minutes.
	LinkCodeTTL time.Duration
}

func (o Options) withDefaults() Options {
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600)
		}
		o.Location = loc
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 3
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.LinkCodeTTL <= 0 {
		o.LinkCodeTTL = 10 * time.Minute
	}
	return o
}

// Store is the credit and job database.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string
	opt     Options
}

var (
	_ paimeng.JobService     = (*Store)(nil)
	_ paimeng.AccountService = (*Store)(nil)
)

// SQLite connection settings: WAL for concurrent readers in other processes,
// a busy timeout instead of immediate "database is locked", enforced foreign
// keys, and BEGIN IMMEDIATE so a transaction takes the write lock up front.
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Open connects to dsn: "postgres://…" or "postgresql://…" for PostgreSQL,
// anything else is a SQLite file path (its directory is created). Open does
// not migrate; call Migrate.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.SignupCredits < 0 {
		return nil, paimeng.Errorf(paimeng.EINVALID, "signup credits %d < 0", opt.SignupCredits)
	}
	if dsn == "" {
		return nil, paimeng.Errorf(paimeng.EINVALID, "empty database dsn")
	}
	var (
		dial    gorm.Dialector
		dialect string
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dial, dialect = postgres.Open(dsn), migrations.DialectPostgres
	} else {
		path, query, _ := strings.Cut(dsn, "?")
		if path != ":memory:" && !strings.HasPrefix(path, "file:") {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, fmt.Errorf("credits: %w", err)
			}
		}
		full := path + "?" + sqliteParams
		if query != "" {
			full += "&" + query
		}
		dial, dialect = sqlite.Open(full), migrations.DialectSQLite
	}
	db, err := gorm.Open(dial, &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                now,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("credits: open %s: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("credits: %w", err)
	}
	if dialect == migrations.DialectSQLite {
		// One connection: SQLite has a single writer anyway, and this keeps
		// every transaction strictly serialized inside the process.
		sqlDB.SetMaxOpenConns(1)
	} else {
		n := opt.MaxConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("credits: ping %s: %w", dialect, err)
	}
	return &Store{db: db, sqlDB: sqlDB, dialect: dialect, opt: opt.withDefaults()}, nil
}

// Dialect returns the migration dialect: "postgres" or "sqlite3".
func (s *Store) Dialect() string { return s.dialect }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.sqlDB.Close(); err != nil {
		return fmt.Errorf("credits: close: %w", err)
	}
	return nil
}

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	if err := migrations.Up(ctx, s.sqlDB, s.dialect); err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	return nil
}

// MigrateDown rolls back the most recent migration.
func (s *Store) MigrateDown(ctx context.Context) error {
	if err := migrations.Down(ctx, s.sqlDB, s.dialect); err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	return nil
}

// MigrateDownTo rolls back every migration newer than version (0: all).
func (s *Store) MigrateDownTo(ctx context.Context, version int64) error {
	if err := migrations.DownTo(ctx, s.sqlDB, s.dialect, version); err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	return nil
}

// MigrateStatus writes the state of every migration to w.
func (s *Store) MigrateStatus(ctx context.Context, w io.Writer) error {
	if err := migrations.Status(ctx, s.sqlDB, s.dialect, w); err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	return nil
}

// now is the time written to the database: UTC, at the microsecond
// precision PostgreSQL keeps, so both dialects return what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// wrap prefixes internal errors; *paimeng.Error passes through unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *paimeng.Error
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("credits: %s: %w", op, err)
}

func notFound(what, key string) error {
	return paimeng.Errorf(paimeng.ENOTFOUND, "%s %q not found", what, key)
}

func validIdentity(id paimeng.Identity) error {
	if id.IsZero() {
		return paimeng.Errorf(paimeng.EINVALID, "identity %q is not platform:user", id.String())
	}
	return nil
}
