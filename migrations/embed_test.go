package migrations_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/migrations"
)

func TestDialectsHaveSameMigrations(t *testing.T) {
	pg, err := fs.Glob(migrations.FS, "postgres/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	lite, err := fs.Glob(migrations.FS, "sqlite/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 || len(pg) != len(lite) {
		t.Fatalf("postgres %v, sqlite %v", pg, lite)
	}
	for i := range pg {
		if strings.TrimPrefix(pg[i], "postgres/") != strings.TrimPrefix(lite[i], "sqlite/") {
			t.Fatalf("%s has no twin (%s)", pg[i], lite[i])
		}
	}
	if _, err := migrations.Provider(nil, "mysql"); err == nil {
		t.Fatal("unknown dialect accepted")
	}
}

func TestUpDownUp(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{migrations.DialectSQLite, migrations.DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			driver, dsn := "pgx", credittest.DSN(t, d)
			if d == migrations.DialectSQLite {
				if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
					t.Fatal(err)
				}
				driver, dsn = "sqlite", dsn+"?_pragma=foreign_keys(1)"
			}
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			count := func() int {
				var n int
				q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('accounts','identities','holds','jobs','ledger_entries','api_tokens','redeem_codes','link_codes','likes')"
				if d == migrations.DialectSQLite {
					q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('accounts','identities','holds','jobs','ledger_entries','api_tokens','redeem_codes','link_codes','likes')"
				}
				if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			for i := range 2 {
				if err := migrations.Up(ctx, db, d); err != nil {
					t.Fatalf("up %d: %v", i, err)
				}
				if n := count(); n != 9 {
					t.Fatalf("after up: %d tables", n)
				}
				var buf bytes.Buffer
				if err := migrations.Status(ctx, db, d, &buf); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(buf.String(), "applied") || !strings.Contains(buf.String(), "00001_init.sql") {
					t.Fatalf("status:\n%s", buf.String())
				}
				if !hasColumns(t, db, "jobs", cameraColumns...) {
					t.Fatal("after up: jobs lacks the camera columns")
				}
				if err := migrations.Down(ctx, db, d); err != nil {
					t.Fatalf("down %d: %v", i, err)
				}
				if n := count(); n != 9 {
					t.Fatalf("after one down: %d tables", n)
				}
				if hasColumns(t, db, "jobs", cameraColumns[:1]...) {
					t.Fatal("after one down: jobs still has shot")
				}
				if err := migrations.DownTo(ctx, db, d, 1); err != nil {
					t.Fatalf("down to 1 %d: %v", i, err)
				}
				if n := count(); n != 6 {
					t.Fatalf("after down to 1: %d tables", n)
				}
				if err := migrations.DownTo(ctx, db, d, 0); err != nil {
					t.Fatalf("down to 0 %d: %v", i, err)
				}
				if n := count(); n != 0 {
					t.Fatalf("after down: %d tables", n)
				}
			}
			if err := migrations.Up(ctx, db, d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// cameraColumns are the jobs columns added by 00003_camera.sql.
var cameraColumns = []string{"shot", "tail_key", "fps", "resolution", "aspect"}

// hasColumns reports whether table has every one of cols, read from a
// query that selects them.
func hasColumns(t *testing.T, db *sql.DB, table string, cols ...string) bool {
	t.Helper()
	rows, err := db.Query("SELECT " + strings.Join(cols, ", ") + " FROM " + table + " WHERE 1 = 0")
	if err != nil {
		return false
	}
	rows.Close()
	return true
}
