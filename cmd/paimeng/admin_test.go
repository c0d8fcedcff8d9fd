package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
)

// The admin subcommands against a real SQLite file, as an operator runs
// them: codes, grants, bans, refunds, the ledger and the audit.
func TestAdminCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"PAIMENG_DATA_DIR": dir, "PAIMENG_SIGNUP_CREDITS": "20"}
	getenv := func(k string) string { return env[k] }
	admin := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"admin"}, args...), getenv, &out, &errOut)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := admin(args...)
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
		return out
	}

	out := must("codes", "create", "--credits", "25", "--count", "3", "--expires", "72h", "--batch", "launch")
	codes := regexp.MustCompile(`(?m)^PM-[A-Z2-9]{4}-[A-Z2-9]{4}$`).FindAllString(out, -1)
	if len(codes) != 3 {
		t.Fatalf("codes output %q", out)
	}
	if out := must("grant", "--user", "telegram:7", "--credits", "30", "--reason", "contest winner"); !strings.Contains(out, "balance 50") {
		t.Fatalf("grant output %q", out)
	}
	if _, err := admin("grant", "--user", "telegram:7", "--credits", "-500"); paimeng.ErrorCode(err) != paimeng.EInsufficient {
		t.Fatalf("taking more than the balance: %v", err)
	}
	if _, err := admin("codes", "create", "--credits", "5", "--expires", "someday"); err == nil {
		t.Fatal("bad expiry accepted")
	}

	// A member with a waiting job is banned: the job is canceled and refunded.
	s, err := credits.Open(ctx, dir+"/paimeng.db", credits.Options{SignupCredits: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	member := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "7"}
	job, _, err := s.CreateJob(ctx, &paimeng.Job{Identity: member, Price: 10, Prompt: "推近"}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	out = must("ban", "--user", "telegram:7", "--reason", "spam")
	if !strings.Contains(out, "banned: spam") || !strings.Contains(out, job.ID+" canceled") {
		t.Fatalf("ban output %q", out)
	}
	if out := must("balance", "--user", "telegram:7"); !strings.Contains(out, "balance 50") || !strings.Contains(out, "banned: spam") {
		t.Fatalf("balance output %q", out)
	}
	must("unban", "--user", "telegram:7")

	// A succeeded job is refunded once.
	job, _, err = s.CreateJob(ctx, &paimeng.Job{Identity: member, Price: 10, Prompt: "后拉"}, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: job.ID, OK: true, VideoKey: "v"}); err != nil {
		t.Fatal(err)
	}
	if out := must("refund", "--job", job.ID, "--reason", "blurry"); !strings.Contains(out, "balance 50") {
		t.Fatalf("refund output %q", out)
	}
	if _, err := admin("refund", "--job", job.ID); paimeng.ErrorCode(err) != paimeng.ECONFLICT {
		t.Fatalf("second refund: %v", err)
	}

	out = must("ledger", "--user", "telegram:7")
	for _, kind := range []string{"signup", "grant", "hold", "release", "capture", "refund"} {
		if !strings.Contains(out, kind) {
			t.Errorf("ledger lacks %s:\n%s", kind, out)
		}
	}
	if out := must("audit"); !strings.Contains(out, "drift 0") {
		t.Fatalf("audit output %q", out)
	}
}

func TestParseExpiry(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-12-31":           time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), // end of that day in +08:00
		"2027-01-02T03:04:05Z": time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		"72h":                  now.Add(72 * time.Hour),
	} {
		got, err := parseExpiry(in, loc, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseExpiry("", loc, now); got != nil || err != nil {
		t.Errorf("empty expiry = %v, %v", got, err)
	}
	for _, bad := range []string{"tomorrow", "-1h", "2026-13-01"} {
		if _, err := parseExpiry(bad, loc, now); err == nil {
			t.Errorf("parseExpiry(%q) accepted", bad)
		}
	}
}
