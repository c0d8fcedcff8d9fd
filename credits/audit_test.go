package credits_test

import (
	"context"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

// rawDB opens a second, plain connection to the store's database.
func rawDB(t *testing.T, dialect, dsn string) *gorm.DB {
	t.Helper()
	dial := postgres.Open(dsn)
	if dialect == "sqlite3" {
		dial = sqlite.Open(dsn + "?_pragma=busy_timeout(10000)")
	}
	db, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

func TestAuditFindsDriftAndLedgerIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{"sqlite3", "postgres"} {
		t.Run(d, func(t *testing.T) {
			dsn := credittest.DSN(t, d)
			s := credittest.Open(t, dsn, credits.Options{SignupCredits: 10})
			a := mustAccount(t, s, alice)
			if _, _, err := s.CreateJob(ctx, newJob(alice, 4), "k"); err != nil {
				t.Fatal(err)
			}
			mustAudit(t, s)

			raw := rawDB(t, d, dsn)
			if err := raw.Exec("UPDATE ledger_entries SET amount = amount + 1").Error; err == nil {
				t.Fatal("ledger update allowed")
			}
			if err := raw.Exec("DELETE FROM ledger_entries").Error; err == nil {
				t.Fatal("ledger delete allowed")
			}
			if err := raw.Exec("UPDATE accounts SET balance = -1 WHERE id = ?", a.ID).Error; err == nil {
				t.Fatal("negative balance allowed")
			}
			if err := raw.Exec("UPDATE accounts SET balance = balance + 3 WHERE id = ?", a.ID).Error; err != nil {
				t.Fatal(err)
			}
			drift, err := s.Audit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := credits.Drift{AccountID: a.ID, Balance: 9, LedgerSum: 6, LastAfter: 6}
			if len(drift) != 1 || drift[0] != want {
				t.Fatalf("drift = %+v, want %+v", drift, want)
			}
			_, err = s.Ledger(ctx, a.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Account(ctx, paimeng.Identity{Platform: "web", UserID: "x"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
