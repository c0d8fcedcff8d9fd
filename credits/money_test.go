package credits_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

var (
	bobDC    = paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: "2002"}
	carolWeb = paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "carol"}
	daveTG   = paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "4004"}
)

func payer(i int) paimeng.Identity {
	return paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: fmt.Sprint("m", i)}
}

func mustGrant(t *testing.T, s *credits.Store, id paimeng.Identity, amount int64) *paimeng.Account {
	t.Helper()
	a, err := s.Grant(context.Background(), id, amount, "test", "admin:root")
	if err != nil {
		t.Fatalf("grant %s %d: %v", id, amount, err)
	}
	return a
}

func mustLinkCode(t *testing.T, s *credits.Store, id paimeng.Identity) string {
	t.Helper()
	lc, err := s.NewLinkCode(context.Background(), id)
	if err != nil {
		t.Fatalf("link code for %s: %v", id, err)
	}
	return lc.Code
}

func ledger(t *testing.T, s *credits.Store, accountID int64) []credits.Entry {
	t.Helper()
	e, err := s.Ledger(context.Background(), accountID, 10000)
	if err != nil {
		t.Fatalf("ledger %d: %v", accountID, err)
	}
	return e
}

func entriesOf(entries []credits.Entry, kind string) []credits.Entry {
	var out []credits.Entry
	for _, e := range entries {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func identities(t *testing.T, s *credits.Store, accountID int64) []paimeng.Identity {
	t.Helper()
	ids, err := s.Identities(context.Background(), accountID)
	if err != nil {
		t.Fatalf("identities of %d: %v", accountID, err)
	}
	return ids
}

func TestDaily(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{DailyCredits: 7}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		before := time.Now()
		c, err := s.Daily(ctx, alice)
		if err != nil || c.Amount != 7 || c.Balance != 7 {
			t.Fatalf("daily: %+v %v", c, err)
		}
		after := time.Now()
		_, err = s.Daily(ctx, alice)
		wantCode(t, err, paimeng.EAlreadyClaimed)
		a := mustAccount(t, s, alice)
		if a.Balance != 7 {
			t.Fatalf("balance after refused claim = %d", a.Balance)
		}
		daily := entriesOf(ledger(t, s, a.ID), credits.KindDaily)
		if len(daily) != 1 || daily[0].Amount != 7 || daily[0].Actor != alice.String() {
			t.Fatalf("daily entries = %+v", daily)
		}
		// The calendar day is the community's (Asia/Shanghai by default).
		sh, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			sh = time.FixedZone("CST", 8*3600)
		}
		keys := map[string]bool{}
		for _, tm := range []time.Time{before, after} {
			keys[fmt.Sprintf("daily:%d:%s", a.ID, tm.In(sh).Format("2006-01-02"))] = true
		}
		if !keys[daily[0].IdempotencyKey] {
			t.Fatalf("daily key = %q, want one of %v", daily[0].IdempotencyKey, keys)
		}

		// A linked identity shares the account and its check-in.
		if _, err := s.Link(ctx, bobDC, mustLinkCode(t, s, alice)); err != nil {
			t.Fatal(err)
		}
		_, err = s.Daily(ctx, bobDC)
		wantCode(t, err, paimeng.EAlreadyClaimed)

		// Concurrent first claims of a new member: one pays.
		const n = 20
		var paid, refused atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				c, err := s.Daily(ctx, carolWeb)
				switch {
				case err == nil && c.Amount == 7:
					paid.Add(1)
				case paimeng.ErrorCode(err) == paimeng.EAlreadyClaimed:
					refused.Add(1)
				default:
					errs <- fmt.Errorf("daily: %+v %v", c, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if paid.Load() != 1 || refused.Load() != n-1 {
			t.Fatalf("paid %d, refused %d", paid.Load(), refused.Load())
		}
		if a := mustAccount(t, s, carolWeb); a.Balance != 7 {
			t.Fatalf("carolWeb balance = %d", a.Balance)
		}

		// Moving identities between accounts never pays twice on one day:
		// carolWeb checked in, joins daveTG (who has not), then leaves again.
		if _, err := s.Link(ctx, carolWeb, mustLinkCode(t, s, daveTG)); err != nil {
			t.Fatal(err)
		}
		_, err = s.Daily(ctx, daveTG)
		wantCode(t, err, paimeng.EAlreadyClaimed)
		if _, err := s.Unlink(ctx, carolWeb); err != nil {
			t.Fatal(err)
		}
		_, err = s.Daily(ctx, carolWeb)
		wantCode(t, err, paimeng.EAlreadyClaimed)
		if a := mustAccount(t, s, daveTG); a.Balance != 7 {
			t.Fatalf("daveTG balance = %d, want carolWeb's 7", a.Balance)
		}
		_, err = s.Daily(ctx, paimeng.Identity{Platform: "web"})
		wantCode(t, err, paimeng.EINVALID)
		mustAudit(t, s)
	})
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		_, err := s.Daily(context.Background(), alice)
		wantCode(t, err, paimeng.EINVALID)
	})
}

var redeemCodeRE = regexp.MustCompile(`^PM-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`)

func TestRedeemCodes(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 5}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		codes, err := s.CreateCodes(ctx, 25, 3, nil, "launch", "admin:root")
		if err != nil || len(codes) != 3 {
			t.Fatalf("create codes: %v %v", codes, err)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if !redeemCodeRE.MatchString(c) || seen[c] {
				t.Fatalf("bad or repeated code %q in %v", c, codes)
			}
			seen[c] = true
		}

		// Typed loosely: lower case, no dashes, spaces around.
		loose := "  " + strings.ToLower(strings.ReplaceAll(codes[0], "-", "")) + " "
		c, err := s.Redeem(ctx, alice, loose)
		if err != nil || c.Amount != 25 || c.Balance != 30 {
			t.Fatalf("redeem: %+v %v", c, err)
		}
		_, err = s.Redeem(ctx, alice, codes[0])
		wantCode(t, err, paimeng.ECodeUsed)
		_, err = s.Redeem(ctx, bobDC, codes[0])
		wantCode(t, err, paimeng.ECodeUsed)
		// Without the prefix, with spaces instead of dashes.
		if c, err := s.Redeem(ctx, bobDC, strings.ReplaceAll(strings.TrimPrefix(codes[1], "PM-"), "-", " ")); err != nil || c.Balance != 30 {
			t.Fatalf("redeem without prefix: %+v %v", c, err)
		}
		for _, bad := range []string{"", "hello", "PM-AAAA-AAA", "PM-AAAA-AAA0", "XX-AAAA-AAAA"} {
			_, err = s.Redeem(ctx, alice, bad)
			wantCode(t, err, paimeng.ECodeInvalid)
		}
		_, err = s.Redeem(ctx, alice, "PM-2222-2222") // well formed, never issued
		wantCode(t, err, paimeng.ECodeInvalid)

		a := mustAccount(t, s, alice)
		red := entriesOf(ledger(t, s, a.ID), credits.KindRedeem)
		if len(red) != 1 || red[0].Amount != 25 || red[0].Reason != "code "+codes[0] ||
			red[0].Actor != alice.String() || red[0].IdempotencyKey != "redeem:"+codes[0] {
			t.Fatalf("redeem entries = %+v", red)
		}

		past := time.Now().Add(-time.Minute)
		old, err := s.CreateCodes(ctx, 10, 1, &past, "old", "admin:root")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Redeem(ctx, alice, old[0])
		wantCode(t, err, paimeng.ECodeExpired)
		future := time.Now().Add(time.Hour).In(time.FixedZone("X", -5*3600))
		fresh, err := s.CreateCodes(ctx, 10, 1, &future, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if c, err := s.Redeem(ctx, alice, fresh[0]); err != nil || c.Balance != 40 {
			t.Fatalf("redeem before expiry: %+v %v", c, err)
		}

		for _, bad := range []struct {
			credits int64
			count   int
		}{{0, 1}, {-5, 1}, {10, 0}, {10, 10001}} {
			_, err := s.CreateCodes(ctx, bad.credits, bad.count, nil, "", "")
			wantCode(t, err, paimeng.EINVALID)
		}
		many, err := s.CreateCodes(ctx, 1, 1200, nil, "bulk", "admin:root") // several insert batches
		if err != nil || len(many) != 1200 {
			t.Fatalf("1200 codes: %d %v", len(many), err)
		}
		for _, c := range many {
			if seen[c] || !redeemCodeRE.MatchString(c) {
				t.Fatalf("bad or repeated code %q", c)
			}
			seen[c] = true
		}
		if c, err := s.Redeem(ctx, carolWeb, many[1199]); err != nil || c.Amount != 1 {
			t.Fatalf("redeem bulk code: %+v %v", c, err)
		}
		mustAudit(t, s)
	})
}

func TestRedeemOneCodeFiftyMembers(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		codes, err := s.CreateCodes(ctx, 100, 1, nil, "race", "admin:root")
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		for i := range n / 2 { // half known already, half first seen by Redeem
			mustAccount(t, s, payer(i))
		}
		var won, used atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				c, err := s.Redeem(ctx, payer(i), codes[0])
				switch {
				case err == nil && c.Amount == 100 && c.Balance == 100:
					won.Add(1)
				case paimeng.ErrorCode(err) == paimeng.ECodeUsed:
					used.Add(1)
				default:
					errs <- fmt.Errorf("member %d: %+v %v", i, c, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if won.Load() != 1 || used.Load() != n-1 {
			t.Fatalf("won %d, used %d; want 1 and %d", won.Load(), used.Load(), n-1)
		}
		var rows, total int64
		for i := range n {
			a := mustAccount(t, s, payer(i))
			total += a.Balance
			rows += int64(len(entriesOf(ledger(t, s, a.ID), credits.KindRedeem)))
		}
		if rows != 1 || total != 100 {
			t.Fatalf("%d redeem entries, %d credits in all; want 1 and 100", rows, total)
		}
		mustAudit(t, s)
	})
}

func TestLinkMergesBalances(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 0}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		ta := mustGrant(t, s, alice, 30)
		sb := mustGrant(t, s, bobDC, 50)
		code := mustLinkCode(t, s, alice)
		if !regexp.MustCompile(`^[2-9A-HJKMNP-Z]{6}$`).MatchString(code) {
			t.Fatalf("link code %q", code)
		}
		// Typed in lower case with a space.
		got, err := s.Link(ctx, bobDC, " "+strings.ToLower(code[:3])+" "+strings.ToLower(code[3:]))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != ta.ID || got.Balance != 80 {
			t.Fatalf("linked account = %+v, want id %d balance 80", got, ta.ID)
		}
		for _, id := range []paimeng.Identity{alice, bobDC} {
			if a := mustAccount(t, s, id); a.ID != ta.ID || a.Balance != 80 {
				t.Fatalf("account of %s = %+v", id, a)
			}
		}
		if ids := identities(t, s, ta.ID); len(ids) != 2 || ids[0] != alice || ids[1] != bobDC {
			t.Fatalf("identities = %v", ids)
		}
		if ids := identities(t, s, sb.ID); len(ids) != 0 {
			t.Fatalf("identities left on the merged account: %v", ids)
		}
		in := entriesOf(ledger(t, s, ta.ID), credits.KindLink)
		if len(in) != 1 || in[0].Amount != 50 || in[0].BalanceAfter != 80 || in[0].Actor != bobDC.String() ||
			in[0].Reason != fmt.Sprintf("linked from account %d", sb.ID) ||
			in[0].IdempotencyKey != fmt.Sprintf("link:%d:in:%d", sb.ID, ta.ID) {
			t.Fatalf("target link entries = %+v", in)
		}
		out := ledger(t, s, sb.ID)
		if out[0].Kind != credits.KindLink || out[0].Amount != -50 || out[0].BalanceAfter != 0 ||
			out[0].Reason != fmt.Sprintf("linked into account %d", ta.ID) ||
			out[0].IdempotencyKey != fmt.Sprintf("link:%d:out", sb.ID) {
			t.Fatalf("source ledger = %+v", out)
		}
		var sum int64
		for _, e := range out {
			sum += e.Amount
		}
		if sum != 0 {
			t.Fatalf("source ledger sums to %d", sum)
		}
		_, err = s.Link(ctx, bobDC, code)
		wantCode(t, err, paimeng.ECodeUsed)
		// Either identity's new code now joins the shared account.
		_, err = s.Link(ctx, alice, mustLinkCode(t, s, bobDC))
		wantCode(t, err, paimeng.EAlreadyLinked)
		mustAudit(t, s)
	})
}

func TestLinkNewIdentityGetsNoSignupGrant(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		a := mustAccount(t, s, alice)
		got, err := s.Link(ctx, bobDC, mustLinkCode(t, s, alice))
		if err != nil || got.ID != a.ID || got.Balance != 100 {
			t.Fatalf("link: %+v %v", got, err)
		}
		if b := mustAccount(t, s, bobDC); b.ID != a.ID || b.Balance != 100 {
			t.Fatalf("bob = %+v", b)
		}
		if k := kinds(t, s, a.ID); k[credits.KindSignup] != 1 || len(k) != 1 {
			t.Fatalf("ledger kinds = %v, want one signup", k)
		}
		if ids := identities(t, s, a.ID); len(ids) != 2 {
			t.Fatalf("identities = %v", ids)
		}
		mustAudit(t, s)
	})
}

func TestLinkCodeErrors(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{LinkCodeTTL: 50 * time.Millisecond}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		lc, err := s.NewLinkCode(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(lc.ExpiresAt); d <= 0 || d > time.Second {
			t.Fatalf("expires in %v", d)
		}
		time.Sleep(100 * time.Millisecond)
		_, err = s.Link(ctx, bobDC, lc.Code)
		wantCode(t, err, paimeng.ECodeExpired)

		for _, bad := range []string{"", "abc", "2345678", "ABCDE0", "ZZZZZZ"} {
			_, err = s.Link(ctx, bobDC, bad)
			wantCode(t, err, paimeng.ECodeInvalid)
		}
		if _, err := s.Account(ctx, bobDC); err != nil {
			t.Fatal(err)
		}
	})
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		// A newer code supersedes an older one.
		old := mustLinkCode(t, s, alice)
		code := mustLinkCode(t, s, alice)
		_, err := s.Link(ctx, bobDC, old)
		wantCode(t, err, paimeng.ECodeUsed)
		// One's own code: already linked, and the code stays usable.
		_, err = s.Link(ctx, alice, code)
		wantCode(t, err, paimeng.EAlreadyLinked)
		if _, err := s.Link(ctx, bobDC, code); err != nil {
			t.Fatal(err)
		}
		_, err = s.Link(ctx, carolWeb, code)
		wantCode(t, err, paimeng.ECodeUsed)

		// Banned accounts neither join nor are joined.
		if err := s.Ban(ctx, carolWeb, "spam", "admin:root"); err != nil {
			t.Fatal(err)
		}
		banned := mustLinkCode(t, s, carolWeb)
		_, err = s.Link(ctx, daveTG, banned)
		wantCode(t, err, paimeng.EBanned)
		_, err = s.Link(ctx, carolWeb, mustLinkCode(t, s, daveTG))
		wantCode(t, err, paimeng.EBanned)
		fresh := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "fresh"}
		_, err = s.Link(ctx, fresh, banned)
		wantCode(t, err, paimeng.EBanned)
		if ids := identities(t, s, mustAccount(t, s, carolWeb).ID); len(ids) != 1 {
			t.Fatalf("banned account identities = %v", ids)
		}
		_, err = s.NewLinkCode(ctx, paimeng.Identity{})
		wantCode(t, err, paimeng.EINVALID)
		mustAudit(t, s)
	})
}

func TestLinkMovesJobsHoldsAndLikes(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{MaxQueued: 10}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		target := mustGrant(t, s, alice, 10)
		source := mustGrant(t, s, bobDC, 50)
		mustGrant(t, s, carolWeb, 20)
		open, _, err := s.CreateJob(ctx, newJob(bobDC, 20), "bobDC-open")
		if err != nil {
			t.Fatal(err)
		}
		// Two finished videos by carolWeb; alice and bobDC both like the first,
		// bobDC likes the second; carolWeb likes a video of bobDC's.
		var videos []string
		for i, who := range []paimeng.Identity{carolWeb, carolWeb, bobDC} {
			j, _, err := s.CreateJob(ctx, newJob(who, 1), fmt.Sprint("video", i))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: true, VideoKey: "v"}); err != nil {
				t.Fatal(err)
			}
			videos = append(videos, j.ID)
		}
		for _, l := range []struct {
			who paimeng.Identity
			job string
		}{{alice, videos[0]}, {bobDC, videos[0]}, {bobDC, videos[1]}, {alice, videos[2]}, {carolWeb, videos[2]}} {
			if _, _, err := s.Like(ctx, l.who, l.job); err != nil {
				t.Fatalf("like: %v", err)
			}
		}

		got, err := s.Link(ctx, bobDC, mustLinkCode(t, s, alice))
		if err != nil {
			t.Fatal(err)
		}
		// 10 + (50 - 20 held - 1 captured)
		if got.ID != target.ID || got.Balance != 39 {
			t.Fatalf("linked = %+v", got)
		}
		if j, _ := s.Job(ctx, open.ID); j.AccountID != target.ID {
			t.Fatalf("open job account = %d, want %d", j.AccountID, target.ID)
		}
		if jobs, err := s.RecentJobs(ctx, alice, 10); err != nil || len(jobs) != 2 {
			t.Fatalf("jobs of the joined account = %v %v", jobs, err)
		}
		// The open hold resolves into the joined account.
		if _, ok, err := s.FailJob(ctx, open.ID, paimeng.EEngineFailed, "boom"); err != nil || !ok {
			t.Fatalf("fail: %v %v", ok, err)
		}
		if a := mustAccount(t, s, bobDC); a.ID != target.ID || a.Balance != 59 {
			t.Fatalf("after release = %+v", a)
		}
		rel := entriesOf(ledger(t, s, target.ID), credits.KindRelease)
		if len(rel) != 1 || rel[0].Amount != 20 || rel[0].JobID != open.ID {
			t.Fatalf("release entries = %+v", rel)
		}
		if src := ledger(t, s, source.ID); src[0].Kind != credits.KindLink || src[0].BalanceAfter != 0 {
			t.Fatalf("source ledger = %+v", src)
		}

		// Likes: one per member per video; the self-like on bobDC's video
		// (now the member's own) is gone.
		wantLikes := map[string]int64{videos[0]: 1, videos[1]: 1, videos[2]: 1}
		for job, want := range wantLikes {
			added, n, err := s.Like(ctx, daveTG, job)
			if err != nil || !added || n != want+1 {
				t.Fatalf("likes of %s = %d (added %v, %v), want %d before daveTG's", job, n, added, err, want)
			}
		}
		_, _, err = s.Like(ctx, alice, videos[2])
		wantCode(t, err, paimeng.EForbidden)
		if added, _, err := s.Like(ctx, bobDC, videos[0]); err != nil || added {
			t.Fatalf("like again after merge: added %v %v", added, err)
		}
		mustAudit(t, s)
	})
}

func TestUnlink(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 10}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		_, err := s.Unlink(ctx, alice)
		wantCode(t, err, paimeng.ENotLinked)
		a := mustAccount(t, s, alice)
		_, err = s.Unlink(ctx, alice)
		wantCode(t, err, paimeng.ENotLinked)
		if _, err := s.Link(ctx, bobDC, mustLinkCode(t, s, alice)); err != nil {
			t.Fatal(err)
		}
		j, _, err := s.CreateJob(ctx, newJob(bobDC, 4), "bobDC-before")
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := s.Unlink(ctx, bobDC)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ID == a.ID || fresh.Balance != 0 || fresh.Banned {
			t.Fatalf("unlinked account = %+v", fresh)
		}
		if b := mustAccount(t, s, bobDC); b.ID != fresh.ID || b.Balance != 0 {
			t.Fatalf("bob = %+v", b)
		}
		if a2 := mustAccount(t, s, alice); a2.ID != a.ID || a2.Balance != 6 {
			t.Fatalf("alice = %+v", a2)
		}
		if ids := identities(t, s, a.ID); len(ids) != 1 || ids[0] != alice {
			t.Fatalf("identities left = %v", ids)
		}
		if got, _ := s.Job(ctx, j.ID); got.AccountID != a.ID {
			t.Fatalf("past job moved to %d", got.AccountID)
		}
		if n := len(ledger(t, s, fresh.ID)); n != 0 {
			t.Fatalf("%d ledger entries on the new account", n)
		}
		_, err = s.Unlink(ctx, bobDC)
		wantCode(t, err, paimeng.ENotLinked)

		// A ban follows the identity out.
		if _, err := s.Link(ctx, carolWeb, mustLinkCode(t, s, alice)); err != nil {
			t.Fatal(err)
		}
		if err := s.Ban(ctx, alice, "spam", "admin:root"); err != nil {
			t.Fatal(err)
		}
		c, err := s.Unlink(ctx, carolWeb)
		if err != nil || !c.Banned || c.BanReason != "spam" {
			t.Fatalf("unlinked from a banned account: %+v %v", c, err)
		}
		mustAudit(t, s)
	})
}

func TestBanStopsSubmits(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 50}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		if err := s.Ban(ctx, alice, "spam", "admin:root"); err != nil {
			t.Fatal(err)
		}
		a := mustAccount(t, s, alice)
		if !a.Banned || a.BanReason != "spam" || a.Balance != 50 {
			t.Fatalf("banned account = %+v", a)
		}
		_, _, err := s.CreateJob(ctx, newJob(alice, 10), "banned")
		wantCode(t, err, paimeng.EBanned)
		if _, err := s.JobByIdempotencyKey(ctx, "banned"); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
			t.Fatalf("job written for a banned member: %v", err)
		}
		// Linked identities share the ban.
		if _, err := s.Link(ctx, bobDC, mustLinkCode(t, s, alice)); err == nil {
			t.Fatal("link into a banned account")
		}
		if err := s.Ban(ctx, alice, "spam again", "admin:root"); err != nil {
			t.Fatal(err)
		}
		if err := s.Unban(ctx, alice, "admin:root"); err != nil {
			t.Fatal(err)
		}
		if a := mustAccount(t, s, alice); a.Banned || a.BanReason != "" {
			t.Fatalf("unbanned account = %+v", a)
		}
		if _, created, err := s.CreateJob(ctx, newJob(alice, 10), "banned"); err != nil || !created {
			t.Fatalf("submit after unban: %v %v", created, err)
		}
		if k := kinds(t, s, a.ID); k[credits.KindHold] != 1 {
			t.Fatalf("ledger kinds = %v", k)
		}
		// First sight by a ban.
		if err := s.Ban(ctx, daveTG, "", "admin:root"); err != nil {
			t.Fatal(err)
		}
		if d := mustAccount(t, s, daveTG); !d.Banned {
			t.Fatalf("dave = %+v", d)
		}
		mustAudit(t, s)
	})
}

func TestSubmitLimits(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100, MaxQueued: 2}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		j1, _, err := s.CreateJob(ctx, newJob(alice, 10), "q1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateJob(ctx, newJob(alice, 10), "q2"); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateJob(ctx, newJob(alice, 10), "q3")
		wantCode(t, err, paimeng.ETooManyJobs)
		if a := mustAccount(t, s, alice); a.Balance != 80 {
			t.Fatalf("balance after refusal = %d, want 80", a.Balance)
		}
		// A repeated submit still gets its job back.
		if got, created, err := s.CreateJob(ctx, newJob(alice, 10), "q1"); err != nil || created || got.ID != j1.ID {
			t.Fatalf("repeat at the limit: %v %v %v", got, created, err)
		}
		// Running jobs count; finished ones do not. Other members are free.
		if _, err := s.MarkRunning(ctx, j1.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateJob(ctx, newJob(alice, 10), "q3")
		wantCode(t, err, paimeng.ETooManyJobs)
		if _, _, err := s.CreateJob(ctx, newJob(bobDC, 10), "b1"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j1.ID, OK: true}); err != nil {
			t.Fatal(err)
		}
		if _, created, err := s.CreateJob(ctx, newJob(alice, 10), "q3"); err != nil || !created {
			t.Fatalf("after finishing one: %v %v", created, err)
		}
		mustAudit(t, s)
	})
	opt := credits.Options{SignupCredits: 100, MaxQueued: 100, RateLimit: 3, RateWindow: 300 * time.Millisecond}
	credittest.ForEachDB(t, opt, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		for i := range 3 {
			if _, _, err := s.CreateJob(ctx, newJob(alice, 1), fmt.Sprint("r", i)); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := s.CreateJob(ctx, newJob(alice, 1), "r3")
		wantCode(t, err, paimeng.ERateLimited)
		if a := mustAccount(t, s, alice); a.Balance != 97 {
			t.Fatalf("balance = %d", a.Balance)
		}
		time.Sleep(400 * time.Millisecond)
		if _, created, err := s.CreateJob(ctx, newJob(alice, 1), "r3"); err != nil || !created {
			t.Fatalf("after the window: %v %v", created, err)
		}
		mustAudit(t, s)
	})
}

func TestCreateJobStoresDisplayName(t *testing.T) {
	ctx := context.Background()
	for _, d := range []string{"sqlite3", "postgres"} {
		t.Run(d, func(t *testing.T) {
			dsn := credittest.DSN(t, d)
			s := credittest.Open(t, dsn, credits.Options{SignupCredits: 100})
			raw := rawDB(t, d, dsn)
			name := func() string {
				t.Helper()
				var n []string
				if err := raw.Raw("SELECT display_name FROM identities WHERE platform = ? AND user_id = ?",
					string(alice.Platform), alice.UserID).Scan(&n).Error; err != nil || len(n) != 1 {
					t.Fatalf("display name: %v %v", n, err)
				}
				return n[0]
			}
			for i, step := range []struct{ give, want string }{
				{"Alice", "Alice"}, {"", "Alice"}, {"爱丽丝", "爱丽丝"}, {"爱丽丝", "爱丽丝"},
			} {
				j := newJob(alice, 1)
				j.DisplayName = step.give
				if _, _, err := s.CreateJob(ctx, j, fmt.Sprint("n", i)); err != nil {
					t.Fatal(err)
				}
				if got := name(); got != step.want {
					t.Fatalf("step %d: display name %q, want %q", i, got, step.want)
				}
				if _, _, err := s.FailJob(ctx, j.ID, paimeng.EEngineFailed, ""); err != nil {
					t.Fatal(err)
				}
			}
			mustAudit(t, s)
		})
	}
}

// TestConcurrentSubmitsAndFinishes: many members submit at once with more
// jobs than they can pay for, then every job ends while duplicate outcomes
// race. No balance goes negative, each member gets exactly what it can
// afford, every hold ends exactly once and the ledger always adds up.
func TestConcurrentSubmitsAndFinishes(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{MaxQueued: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		const (
			members = 40
			tries   = 6
			price   = 10
		)
		funds := func(i int) int64 { return 10 * int64(i%5) }
		acct := make([]int64, members)
		for i := range members {
			if funds(i) > 0 {
				acct[i] = mustGrant(t, s, payer(i), funds(i)).ID
			} else {
				acct[i] = mustAccount(t, s, payer(i)).ID
			}
		}

		accepted := make([][]*paimeng.Job, members)
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make(chan error, members*tries)
		start := make(chan struct{})
		for i := range members {
			for k := range tries {
				wg.Go(func() {
					<-start
					j, created, err := s.CreateJob(ctx, newJob(payer(i), price), fmt.Sprintf("m%d:%d", i, k))
					switch {
					case err == nil && created:
						mu.Lock()
						accepted[i] = append(accepted[i], j)
						mu.Unlock()
					case paimeng.ErrorCode(err) == paimeng.EInsufficient:
					default:
						errs <- fmt.Errorf("member %d try %d: created=%v %v", i, k, created, err)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mustAudit(t, s)
		var all []*paimeng.Job
		for i := range members {
			if got, want := int64(len(accepted[i])), funds(i)/price; got != want {
				t.Fatalf("member %d: %d jobs accepted, can afford %d", i, got, want)
			}
			if a := mustAccount(t, s, payer(i)); a.Balance != 0 {
				t.Fatalf("member %d balance %d after holds", i, a.Balance)
			}
			k := kinds(t, s, acct[i]) // also fails on any negative balance_after
			if k[credits.KindHold] != len(accepted[i]) || k[credits.KindCapture]+k[credits.KindRelease] != 0 {
				t.Fatalf("member %d ledger kinds %v: every hold should be open", i, k)
			}
			all = append(all, accepted[i]...)
		}

		// Every job ends: even ones succeed (two FinishJob calls race),
		// odd ones fail (FailJob races a failed outcome).
		changed := make([]atomic.Int32, len(all))
		errs = make(chan error, 2*len(all))
		start = make(chan struct{})
		for n, j := range all {
			calls := []func() (bool, error){
				func() (bool, error) {
					_, c, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: true, VideoKey: "v"})
					return c, err
				},
				func() (bool, error) {
					_, c, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: true, VideoKey: "v"})
					return c, err
				},
			}
			if n%2 == 1 {
				calls = []func() (bool, error){
					func() (bool, error) {
						_, c, err := s.FailJob(ctx, j.ID, paimeng.EJobTimeout, "late")
						return c, err
					},
					func() (bool, error) {
						_, c, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, ErrorDetail: "boom"})
						return c, err
					},
				}
			}
			for _, call := range calls {
				wg.Go(func() {
					<-start
					c, err := call()
					if err != nil {
						errs <- fmt.Errorf("job %s: %v", j.ID, err)
					}
					if c {
						changed[n].Add(1)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for n := range all {
			if c := changed[n].Load(); c != 1 {
				t.Fatalf("job %d changed %d times", n, c)
			}
		}

		refunds := map[int64]int64{}
		for n, j := range all {
			if n%2 == 1 {
				refunds[j.AccountID] += price
			}
		}
		for i := range members {
			entries := ledger(t, s, acct[i])
			resolved := map[int64]int{}
			holds := map[int64]bool{}
			for _, e := range entries {
				switch e.Kind {
				case credits.KindHold:
					holds[e.HoldID] = true
				case credits.KindCapture, credits.KindRelease:
					resolved[e.HoldID]++
				}
			}
			if len(holds) != len(accepted[i]) || len(resolved) != len(holds) {
				t.Fatalf("member %d: %d holds, %d resolved", i, len(holds), len(resolved))
			}
			for h := range holds {
				if resolved[h] != 1 {
					t.Fatalf("member %d hold %d resolved %d times", i, h, resolved[h])
				}
			}
			if a := mustAccount(t, s, payer(i)); a.Balance != refunds[acct[i]] {
				t.Fatalf("member %d balance %d, want %d refunded", i, a.Balance, refunds[acct[i]])
			}
		}
		mustAudit(t, s)
	})
}

func TestSameKeyTwentyGoroutines(t *testing.T) {
	// Balance for exactly one job and a limit of one unfinished job: the
	// repeats must still get the one job back, not a refusal.
	credittest.ForEachDB(t, credits.Options{MaxQueued: 1}, func(t *testing.T, s *credits.Store) {
		for round := range 3 {
			who := payer(100 + round)
			a := mustGrant(t, s, who, 30)
			submitSameKey(t, s, who, fmt.Sprint("same-key-", round), 20)
			if k := kinds(t, s, a.ID); k[credits.KindHold] != 1 {
				t.Fatalf("ledger kinds = %v, want one hold", k)
			}
			if b := mustAccount(t, s, who); b.Balance != 0 {
				t.Fatalf("balance = %d", b.Balance)
			}
		}
		mustAudit(t, s)
	})
}

// TestLinkWhileJobsFinish links pairs of members while their jobs finish
// and new ones are submitted: no credit is lost or made, every hold ends
// once, and the ledger adds up.
func TestLinkWhileJobsFinish(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{MaxQueued: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		const pairs, jobsEach, price = 8, 4, 5
		var jobs []*paimeng.Job
		var accts []int64
		for i := range 2 * pairs {
			accts = append(accts, mustGrant(t, s, payer(i), 100).ID)
			for k := range jobsEach {
				j, _, err := s.CreateJob(ctx, newJob(payer(i), price), fmt.Sprintf("w%d:%d", i, k))
				if err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
			}
		}
		codes := make([]string, pairs)
		for p := range pairs {
			codes[p] = mustLinkCode(t, s, payer(2*p))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4*len(jobs))
		start := make(chan struct{})
		var captured atomic.Int64
		for p := range pairs {
			wg.Go(func() {
				<-start
				if _, err := s.Link(ctx, payer(2*p+1), codes[p]); err != nil {
					errs <- fmt.Errorf("link pair %d: %v", p, err)
				}
			})
		}
		for n, j := range jobs {
			wg.Go(func() {
				<-start
				_, c, err := s.FinishJob(ctx, paimeng.Outcome{JobID: j.ID, OK: n%2 == 0, ErrorDetail: "x"})
				if err != nil {
					errs <- fmt.Errorf("finish %s: %v", j.ID, err)
				}
				if c && n%2 == 0 {
					captured.Add(price)
				}
			})
		}
		for i := range 2 * pairs {
			wg.Go(func() {
				<-start
				j, _, err := s.CreateJob(ctx, newJob(payer(i), price), fmt.Sprintf("late%d", i))
				if err != nil {
					errs <- fmt.Errorf("late submit %d: %v", i, err)
					return
				}
				if _, _, err := s.FailJob(ctx, j.ID, paimeng.EEngineFailed, ""); err != nil {
					errs <- fmt.Errorf("late fail %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var total int64
		for p := range pairs {
			a, b := mustAccount(t, s, payer(2*p)), mustAccount(t, s, payer(2*p+1))
			if a.ID != b.ID {
				t.Fatalf("pair %d not linked: %d %d", p, a.ID, b.ID)
			}
			total += a.Balance
		}
		// Holds resolve on whichever account held them at the time.
		holds, resolved := map[int64]bool{}, map[int64]int{}
		for _, id := range accts {
			for _, e := range ledger(t, s, id) {
				switch e.Kind {
				case credits.KindHold:
					holds[e.HoldID] = true
				case credits.KindCapture, credits.KindRelease:
					resolved[e.HoldID]++
				}
			}
		}
		if len(holds) != len(jobs)+2*pairs || len(resolved) != len(holds) {
			t.Fatalf("%d holds, %d resolved; want %d", len(holds), len(resolved), len(jobs)+2*pairs)
		}
		for h, n := range resolved {
			if n != 1 {
				t.Fatalf("hold %d resolved %d times", h, n)
			}
		}
		if want := int64(2*pairs*100) - captured.Load(); total != want {
			t.Fatalf("credits in all = %d, want %d", total, want)
		}
		mustAudit(t, s)
	})
}

func TestRefundJobOnce(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 50}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		ok, _, err := s.CreateJob(ctx, newJob(alice, 20), "refund-ok")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FinishJob(ctx, paimeng.Outcome{JobID: ok.ID, OK: true, VideoKey: "v"}); err != nil {
			t.Fatal(err)
		}
		failed, _, err := s.CreateJob(ctx, newJob(alice, 10), "refund-failed")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FailJob(ctx, failed.ID, paimeng.EEngineFailed, "oom"); err != nil {
			t.Fatal(err)
		}
		if a := mustAccount(t, s, alice); a.Balance != 30 {
			t.Fatalf("balance before refund %d", a.Balance)
		}
		// A failed job was never charged.
		_, err = s.RefundJob(ctx, failed.ID, "", "admin:root")
		wantCode(t, err, paimeng.EINVALID)

		// Ten admins clicking at once refund once.
		var wg sync.WaitGroup
		var wins atomic.Int32
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RefundJob(ctx, ok.ID, "blurry", "admin:root"); err == nil {
					wins.Add(1)
				} else if paimeng.ErrorCode(err) != paimeng.ECONFLICT {
					t.Errorf("refund: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d refunds succeeded", wins.Load())
		}
		a := mustAccount(t, s, alice)
		if a.Balance != 50 {
			t.Fatalf("balance after refund %d, want 50", a.Balance)
		}
		if k := kinds(t, s, a.ID); k[credits.KindRefund] != 1 {
			t.Fatalf("ledger kinds %v", k)
		}
		mustAudit(t, s)
	})
}

// A code redeemed while the member's account is being merged away pays
// the account that survives, never the empty one left behind.
func TestRedeemRacingLink(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		const rounds = 25
		for i := range rounds {
			x, y := payer(2000+2*i), payer(2001+2*i)
			mustGrant(t, s, x, 10)
			mustGrant(t, s, y, 10)
			codes, err := s.CreateCodes(ctx, 100, 1, nil, "race", "admin:root")
			if err != nil {
				t.Fatal(err)
			}
			link := mustLinkCode(t, s, y)
			var wg sync.WaitGroup
			wg.Go(func() {
				if _, err := s.Redeem(ctx, x, codes[0]); err != nil {
					t.Errorf("redeem: %v", err)
				}
			})
			wg.Go(func() {
				if _, err := s.Link(ctx, x, link); err != nil {
					t.Errorf("link: %v", err)
				}
			})
			wg.Wait()
			if a := mustAccount(t, s, x); a.Balance != 120 {
				t.Fatalf("round %d: joined balance %d, want 10 + 10 + 100", i, a.Balance)
			}
		}
		mustAudit(t, s)
	})
}

// A submit racing a ban either lands before it (and the ban's sweep sees
// the job) or is refused: never a job from a banned member left waiting.
func TestSubmitRacingBan(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		for i := range 25 {
			who := payer(3000 + i)
			mustGrant(t, s, who, 50)
			var (
				wg      sync.WaitGroup
				created bool
				jobErr  error
				swept   []paimeng.QueuedJob
			)
			wg.Go(func() { _, created, jobErr = s.CreateJob(ctx, newJob(who, 10), fmt.Sprint("ban-race-", i)) })
			wg.Go(func() {
				if err := s.Ban(ctx, who, "spam", "admin:root"); err != nil {
					t.Errorf("ban: %v", err)
					return
				}
				// What the ban's sweep sees right after the ban returns.
				var err error
				if swept, err = s.ActiveJobs(ctx, who); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			if jobErr != nil && paimeng.ErrorCode(jobErr) != paimeng.EBanned {
				t.Fatalf("round %d: submit: %v", i, jobErr)
			}
			if created && len(swept) != 1 {
				t.Fatalf("round %d: a job was created that the ban's sweep did not see", i)
			}
		}
		mustAudit(t, s)
	})
}
