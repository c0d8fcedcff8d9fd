package credits_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// succeeded creates a job of id costing price, finishes it successfully
// and backdates its finish to at.
func succeeded(t testing.TB, s *credits.Store, id paimeng.Identity, price int64, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	if price > 0 {
		if _, err := s.Grant(ctx, id, price, "test", "admin:test"); err != nil {
			t.Fatal(err)
		}
	}
	j, _, err := s.CreateJob(ctx, newJob(id, price), fmt.Sprintf("key-%d", keySeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	finish(t, s, j.ID)
	if err := s.ExecTestSQL(ctx, "UPDATE jobs SET finished_at = ? WHERE id = ?", at.UTC(), j.ID); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

func like(t *testing.T, s *credits.Store, id paimeng.Identity, jobID string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	if added, _, err := s.Like(ctx, id, jobID); err != nil || !added {
		t.Fatalf("%s likes %s: %v %v", id, jobID, added, err)
	}
	acct := mustAccount(t, s, id)
	if err := s.ExecTestSQL(ctx, "UPDATE likes SET created_at = ? WHERE job_id = ? AND account_id = ?", at.UTC(), jobID, acct.ID); err != nil {
		t.Fatal(err)
	}
}

// addIdentity joins id to account with name, created at created.
func addIdentity(t testing.TB, s *credits.Store, id paimeng.Identity, account int64, name string, created time.Time) {
	t.Helper()
	err := s.ExecTestSQL(context.Background(),
		"INSERT INTO identities (platform, user_id, account_id, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
		string(id.Platform), id.UserID, account, name, created.UTC())
	if err != nil {
		t.Fatal(err)
	}
}

type boardRow struct {
	account int64
	score   int64
}

func wantBoard(t *testing.T, s *credits.Store, board paimeng.Board, period paimeng.Period, now time.Time, want ...boardRow) []paimeng.LeaderRow {
	t.Helper()
	rows, err := s.Leaderboard(context.Background(), board, period, 0, now)
	if err != nil {
		t.Fatalf("%s/%s: %v", board, period, err)
	}
	got := make([]boardRow, len(rows))
	for i, r := range rows {
		got[i] = boardRow{r.AccountID, r.Score}
		if r.Rank != i+1 {
			t.Errorf("%s/%s: row %d has rank %d", board, period, i, r.Rank)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s/%s at %s = %v, want %v", board, period, now, got, want)
	}
	return rows
}

func TestLeaderboard(t *testing.T) {
	loc := shanghai(t)
	cst := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	credittest.ForEachDB(t, credits.Options{Location: loc, MaxQueued: 1000}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		aliceDiscord := paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: "d-alice"}
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		carol := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "carol"}
		a, b, c := mustAccount(t, s, alice).ID, mustAccount(t, s, bob).ID, mustAccount(t, s, carol).ID
		// Alice is on two platforms; only her newer identity has a name.
		addIdentity(t, s, aliceDiscord, a, "Ali", time.Now().Add(time.Minute))
		if err := s.SetDisplayName(ctx, bob, "Bob"); err != nil {
			t.Fatal(err)
		}

		now := cst(2025, 6, 18, 12, 0)       // a Wednesday
		monday := cst(2025, 6, 16, 0, 0)     // start of that week
		thisWeek := cst(2025, 6, 16, 0, 30)  // Monday 00:30
		lastWeek := cst(2025, 6, 15, 23, 30) // Sunday before: this month only
		lastMonth := cst(2025, 5, 31, 20, 0) // 12:00 UTC on May 31st
		succeeded(t, s, alice, 5, thisWeek)
		succeeded(t, s, aliceDiscord, 7, monday) // on the boundary: this week
		succeeded(t, s, alice, 3, lastWeek)
		succeeded(t, s, alice, 2, lastMonth)
		b1 := succeeded(t, s, bob, 10, thisWeek)
		succeeded(t, s, bob, 10, lastMonth)
		succeeded(t, s, bob, 10, lastMonth)
		succeeded(t, s, carol, 0, thisWeek) // free: generations, not spent

		// A failed and a queued job count nowhere.
		if _, err := s.Grant(ctx, alice, 8, "test", "admin:test"); err != nil {
			t.Fatal(err)
		}
		failed, _, err := s.CreateJob(ctx, newJob(alice, 4), "failed")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FailJob(ctx, failed.ID, paimeng.EEngineFailed, "boom"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateJob(ctx, newJob(alice, 4), "queued"); err != nil {
			t.Fatal(err)
		}

		rows := wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodWeek, now, boardRow{a, 2}, boardRow{b, 1}, boardRow{c, 1})
		want := []paimeng.LeaderRow{
			{Rank: 1, AccountID: a, Name: "Ali", Platforms: []paimeng.Platform{paimeng.PlatformDiscord, paimeng.PlatformTelegram}, Score: 2},
			{Rank: 2, AccountID: b, Name: "Bob", Platforms: []paimeng.Platform{paimeng.PlatformWeb}, Score: 1},
			{Rank: 3, AccountID: c, Name: fmt.Sprintf("member #%d", c), Platforms: []paimeng.Platform{paimeng.PlatformWeb}, Score: 1},
		}
		for i := range want {
			if r := rows[i]; r.Name != want[i].Name || !slices.Equal(r.Platforms, want[i].Platforms) {
				t.Errorf("row %d = %+v, want %+v", i, r, want[i])
			}
		}
		wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodMonth, now, boardRow{a, 3}, boardRow{b, 1}, boardRow{c, 1})
		wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodAll, now, boardRow{a, 4}, boardRow{b, 3}, boardRow{c, 1})
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodWeek, now, boardRow{a, 12}, boardRow{b, 10})
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodMonth, now, boardRow{a, 15}, boardRow{b, 10})
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodAll, now, boardRow{b, 30}, boardRow{a, 17})

		// The week runs Monday 00:00 to Sunday 24:00 in the community's zone.
		wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodWeek, cst(2025, 6, 22, 23, 59), boardRow{a, 2}, boardRow{b, 1}, boardRow{c, 1})
		wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodWeek, monday, boardRow{a, 2}, boardRow{b, 1}, boardRow{c, 1})
		wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodWeek, monday.Add(-time.Minute).UTC(),
			boardRow{a, 3}, boardRow{b, 1}, boardRow{c, 1}) // Sunday 23:59: the week from June 9th on
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodMonth, cst(2025, 5, 31, 23, 0),
			boardRow{b, 30}, boardRow{a, 17}) // May: everything since May 1st
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodMonth, cst(2025, 6, 1, 0, 0),
			boardRow{a, 15}, boardRow{b, 10}) // June starts at 00:00 local time

		// Likes: one per account (both of Alice's identities are one member).
		a1 := succeeded(t, s, alice, 1, thisWeek.Add(time.Hour))
		like(t, s, bob, a1, thisWeek.Add(2*time.Hour))
		like(t, s, carol, a1, lastMonth)
		like(t, s, aliceDiscord, b1, thisWeek.Add(3*time.Hour))
		if added, n, err := s.Like(ctx, alice, b1); err != nil || added || n != 1 {
			t.Fatalf("second like of one account = %v %d %v", added, n, err)
		}
		wantBoard(t, s, paimeng.BoardLikes, paimeng.PeriodWeek, now, boardRow{a, 1}, boardRow{b, 1})
		wantBoard(t, s, paimeng.BoardLikes, paimeng.PeriodAll, now, boardRow{a, 2}, boardRow{b, 1})

		// Limits and bad names.
		if top, err := s.Leaderboard(ctx, paimeng.BoardGenerations, paimeng.PeriodAll, 1, now); err != nil || len(top) != 1 || top[0].AccountID != a {
			t.Fatalf("top 1 = %+v, %v", top, err)
		}
		if all, err := s.Leaderboard(ctx, paimeng.BoardGenerations, paimeng.PeriodAll, 1000, now); err != nil || len(all) != 3 {
			t.Fatalf("top 1000 = %+v, %v", all, err)
		}
		_, err = s.Leaderboard(ctx, "karma", paimeng.PeriodAll, 0, now)
		wantCode(t, err, paimeng.EINVALID)
		_, err = s.Leaderboard(ctx, paimeng.BoardLikes, "year", 0, now)
		wantCode(t, err, paimeng.EINVALID)
		if empty, err := s.Leaderboard(ctx, paimeng.BoardSpent, paimeng.PeriodWeek, 0, cst(2030, 1, 1, 0, 0)); err != nil || empty == nil || len(empty) != 0 {
			t.Fatalf("board of an empty week = %#v, %v", empty, err)
		}
	})
}

func TestLike(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		aliceDiscord := paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: "d-alice"}
		addIdentity(t, s, aliceDiscord, mustAccount(t, s, alice).ID, "", time.Now())
		video := succeeded(t, s, alice, 3, time.Now())

		if added, n, err := s.Like(ctx, bob, video); err != nil || !added || n != 1 {
			t.Fatalf("like = %v %d %v", added, n, err)
		}
		if added, n, err := s.Like(ctx, bob, video); err != nil || added || n != 1 {
			t.Fatalf("like again = %v %d %v", added, n, err)
		}
		_, _, err := s.Like(ctx, alice, video)
		wantCode(t, err, paimeng.EForbidden)
		_, _, err = s.Like(ctx, aliceDiscord, video) // same member, other platform
		wantCode(t, err, paimeng.EForbidden)
		_, _, err = s.Like(ctx, paimeng.Identity{}, video)
		wantCode(t, err, paimeng.EINVALID)

		// Only succeeded, visible videos can be liked.
		_, _, err = s.Like(ctx, bob, "missing")
		wantCode(t, err, paimeng.ENOTFOUND)
		queued := submit(t, s, alice, paimeng.LaneFast)
		_, _, err = s.Like(ctx, bob, queued.ID)
		wantCode(t, err, paimeng.ENOTFOUND)
		if _, _, err := s.FailJob(ctx, queued.ID, paimeng.EEngineFailed, ""); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Like(ctx, bob, queued.ID)
		wantCode(t, err, paimeng.ENOTFOUND)
		hidden := succeeded(t, s, alice, 3, time.Now())
		if err := s.SetPrivate(ctx, alice, hidden, true); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Like(ctx, bob, hidden)
		wantCode(t, err, paimeng.ENOTFOUND)
		_, _, err = s.Like(ctx, aliceDiscord, hidden) // her own: forbidden, not hidden
		wantCode(t, err, paimeng.EForbidden)

		// A double click from a new member: one like, one account.
		dave := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "dave"}
		var (
			wg    sync.WaitGroup
			added atomic.Int32
		)
		for range 20 {
			wg.Go(func() {
				ok, n, err := s.Like(ctx, dave, video)
				if err != nil || n != 2 {
					t.Errorf("concurrent like = %v %d %v", ok, n, err)
				}
				if ok {
					added.Add(1)
				}
			})
		}
		wg.Wait()
		if added.Load() != 1 {
			t.Fatalf("%d concurrent likes added, want 1", added.Load())
		}
		items, err := s.Gallery(ctx, 0, time.Time{})
		if err != nil || len(items) != 1 || items[0].Job.ID != video || items[0].Likes != 2 {
			t.Fatalf("gallery = %+v, %v", items, err)
		}
		mustAudit(t, s)
	})
}

func TestGalleryAndSetPrivate(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		carol := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "carol"}
		if err := s.SetDisplayName(ctx, alice, "Alice"); err != nil {
			t.Fatal(err)
		}
		base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		g1 := succeeded(t, s, alice, 2, base)
		g2 := succeeded(t, s, alice, 2, base.Add(time.Minute))
		g3 := succeeded(t, s, bob, 2, base.Add(2*time.Minute))
		if err := s.SetPrivate(ctx, alice, g2, true); err != nil {
			t.Fatal(err)
		}
		if j, _ := s.Job(ctx, g2); !j.Private {
			t.Fatalf("job after SetPrivate = %+v", j)
		}
		failed := submit(t, s, carol, paimeng.LaneFast)
		if _, _, err := s.FailJob(ctx, failed.ID, paimeng.EEngineFailed, ""); err != nil {
			t.Fatal(err)
		}
		submit(t, s, carol, paimeng.LaneFast) // queued
		like(t, s, bob, g1, base)
		like(t, s, carol, g1, base)

		ids := func(items []paimeng.GalleryItem) []string {
			out := make([]string, len(items))
			for i, it := range items {
				out[i] = it.Job.ID
			}
			return out
		}
		items, err := s.Gallery(ctx, 0, time.Time{})
		if err != nil || !slices.Equal(ids(items), []string{g3, g1}) {
			t.Fatalf("gallery = %v, %v", ids(items), err)
		}
		bobID := mustAccount(t, s, bob).ID
		if items[0].Name != fmt.Sprintf("member #%d", bobID) || items[0].Likes != 0 ||
			items[1].Name != "Alice" || items[1].Likes != 2 || items[1].Job.VideoKey != "out/"+g1 {
			t.Fatalf("gallery items = %+v / %+v", items[0], items[1])
		}
		if page, _ := s.Gallery(ctx, 1, time.Time{}); !slices.Equal(ids(page), []string{g3}) {
			t.Fatalf("first page = %v", ids(page))
		}
		if page, _ := s.Gallery(ctx, 10, base.Add(2*time.Minute)); !slices.Equal(ids(page), []string{g1}) {
			t.Fatalf("page before g3 = %v", ids(page))
		}

		// Only the owner may hide or show a video.
		wantCode(t, s.SetPrivate(ctx, bob, g1, true), paimeng.ENOTFOUND)
		wantCode(t, s.SetPrivate(ctx, carol, g1, true), paimeng.ENOTFOUND)
		wantCode(t, s.SetPrivate(ctx, paimeng.Identity{Platform: "web", UserID: "nobody"}, g1, true), paimeng.ENOTFOUND)
		wantCode(t, s.SetPrivate(ctx, alice, "missing", true), paimeng.ENOTFOUND)
		if err := s.SetPrivate(ctx, alice, g1, true); err != nil {
			t.Fatal(err)
		}
		if items, _ := s.Gallery(ctx, 0, time.Time{}); !slices.Equal(ids(items), []string{g3}) {
			t.Fatalf("gallery with g1 hidden = %v", ids(items))
		}
		if err := s.SetPrivate(ctx, alice, g2, false); err != nil {
			t.Fatal(err)
		}
		if items, _ := s.Gallery(ctx, 0, time.Time{}); !slices.Equal(ids(items), []string{g3, g2}) {
			t.Fatalf("gallery with g2 shown = %v", ids(items))
		}
		if none, err := s.Gallery(ctx, 0, base); err != nil || none == nil || len(none) != 0 {
			t.Fatalf("gallery before everything = %#v, %v", none, err)
		}
	})
}

// TestBoardsAfterLink joins two accounts of one member and finds one
// leaderboard row with the work and likes of both.
func TestBoardsAfterLink(t *testing.T) {
	credittest.ForEachDB(t, queueOpts, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		aliceDiscord := paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: "d-alice"}
		bob := paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: "bob"}
		succeeded(t, s, alice, 2, time.Now())
		succeeded(t, s, alice, 2, time.Now())
		onDiscord := succeeded(t, s, aliceDiscord, 3, time.Now())
		succeeded(t, s, bob, 1, time.Now())
		like(t, s, bob, onDiscord, time.Now())
		if err := s.SetDisplayName(ctx, aliceDiscord, "Ali"); err != nil {
			t.Fatal(err)
		}

		code, err := s.NewLinkCode(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		acct, err := s.Link(ctx, aliceDiscord, code.Code)
		if err != nil {
			t.Fatal(err)
		}
		if acct.ID != mustAccount(t, s, alice).ID {
			t.Fatalf("linked into %d, want alice's account", acct.ID)
		}
		bobID := mustAccount(t, s, bob).ID
		rows := wantBoard(t, s, paimeng.BoardGenerations, paimeng.PeriodAll, time.Now(), boardRow{acct.ID, 3}, boardRow{bobID, 1})
		if rows[0].Name != "Ali" || !slices.Equal(rows[0].Platforms, []paimeng.Platform{paimeng.PlatformDiscord, paimeng.PlatformTelegram}) {
			t.Fatalf("linked member row = %+v", rows[0])
		}
		wantBoard(t, s, paimeng.BoardSpent, paimeng.PeriodAll, time.Now(), boardRow{acct.ID, 7}, boardRow{bobID, 1})
		wantBoard(t, s, paimeng.BoardLikes, paimeng.PeriodAll, time.Now(), boardRow{acct.ID, 1})
		// The Discord video is now her own on every platform.
		_, _, err = s.Like(ctx, alice, onDiscord)
		wantCode(t, err, paimeng.EForbidden)
		mustAudit(t, s)
	})
}
