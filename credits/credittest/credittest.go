// Package credittest gives tests real databases: a SQLite file in the
// test's temporary directory and a fresh PostgreSQL database created on the
// server named by PAIMENG_TEST_POSTGRES_URL and dropped afterwards.
package credittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/migrations"
)

// EnvPostgres holds a PostgreSQL superuser URL used to create test databases.
const EnvPostgres = "PAIMENG_TEST_POSTGRES_URL"

// Dialects in the order tests run them.
var dialects = []string{migrations.DialectSQLite, migrations.DialectPostgres}

// ForEachDB runs fn as one subtest per dialect ("sqlite3", "postgres"), each
// with a fresh, migrated store opened with opt.
func ForEachDB(t *testing.T, opt credits.Options, fn func(t *testing.T, s *credits.Store)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, DSN(t, d), opt))
		})
	}
}

// Stores returns a fresh, migrated store per dialect.
func Stores(t testing.TB, opt credits.Options) map[string]*credits.Store {
	t.Helper()
	out := make(map[string]*credits.Store, len(dialects))
	for _, d := range dialects {
		out[d] = Open(t, DSN(t, d), opt)
	}
	return out
}

// DSN returns the DSN of a fresh, empty database of dialect.
func DSN(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case migrations.DialectSQLite:
		return filepath.Join(t.TempDir(), "db", "paimeng.db")
	case migrations.DialectPostgres:
		return PostgresDSN(t)
	}
	t.Fatalf("credittest: unknown dialect %q", dialect)
	return ""
}

// Open opens dsn, migrates it and closes it when the test ends.
func Open(t testing.TB, dsn string, opt credits.Options) *credits.Store {
	t.Helper()
	ctx := context.Background()
	s, err := credits.Open(ctx, dsn, opt)
	if err != nil {
		t.Fatalf("credittest: open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("credittest: close: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("credittest: migrate: %v", err)
	}
	return s
}

// PostgresDSN creates a database pm_<random> on the test server and returns
// its URL; the database is dropped when the test ends. It fails the test
// when PAIMENG_TEST_POSTGRES_URL is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		t.Fatal(EnvPostgres + " not set: run make test")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("credittest: %s: %v", EnvPostgres, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "pm_" + hex.EncodeToString(b[:])

	db, err := gorm.Open(postgres.Open(admin), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("credittest: connect to %s: %v", EnvPostgres, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE DATABASE " + name).Error; err != nil {
		_ = sqlDB.Close()
		t.Fatalf("credittest: create database: %v", err)
	}
	t.Cleanup(func() {
		defer sqlDB.Close()
		if err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("credittest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
