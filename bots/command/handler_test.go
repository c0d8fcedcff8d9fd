package command

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
)

// fakeCommunity stands in for the community service, which needs Redis and
// a database: it records each call and answers with canned values, or with
// err when set.
type fakeCommunity struct {
	mu    sync.Mutex
	calls []string
	err   error

	account  paimeng.Account
	claim    paimeng.Claim
	linkCode paimeng.LinkCode
	jobs     []paimeng.QueuedJob
	canceled paimeng.Job
	added    bool
	likes    int64
	rows     []paimeng.LeaderRow
}

var _ paimeng.Community = (*fakeCommunity)(nil)

func (f *fakeCommunity) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeCommunity) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeCommunity) Account(_ context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	if err := f.record("Account %s", id); err != nil {
		return nil, err
	}
	a := f.account
	return &a, nil
}

func (f *fakeCommunity) Daily(_ context.Context, id paimeng.Identity) (*paimeng.Claim, error) {
	if err := f.record("Daily %s", id); err != nil {
		return nil, err
	}
	c := f.claim
	return &c, nil
}

func (f *fakeCommunity) Redeem(_ context.Context, id paimeng.Identity, code string) (*paimeng.Claim, error) {
	if err := f.record("Redeem %s %s", id, code); err != nil {
		return nil, err
	}
	c := f.claim
	return &c, nil
}

func (f *fakeCommunity) NewLinkCode(_ context.Context, id paimeng.Identity) (*paimeng.LinkCode, error) {
	if err := f.record("NewLinkCode %s", id); err != nil {
		return nil, err
	}
	c := f.linkCode
	return &c, nil
}

func (f *fakeCommunity) Link(_ context.Context, id paimeng.Identity, code string) (*paimeng.Account, error) {
	if err := f.record("Link %s %s", id, code); err != nil {
		return nil, err
	}
	a := f.account
	return &a, nil
}

func (f *fakeCommunity) Unlink(_ context.Context, id paimeng.Identity) (*paimeng.Account, error) {
	if err := f.record("Unlink %s", id); err != nil {
		return nil, err
	}
	a := f.account
	return &a, nil
}

func (f *fakeCommunity) MemberJobs(_ context.Context, id paimeng.Identity) ([]paimeng.QueuedJob, error) {
	if err := f.record("MemberJobs %s", id); err != nil {
		return nil, err
	}
	return f.jobs, nil
}

func (f *fakeCommunity) Cancel(_ context.Context, id paimeng.Identity, jobID string) (*paimeng.Job, error) {
	if err := f.record("Cancel %s %s", id, jobID); err != nil {
		return nil, err
	}
	j := f.canceled
	return &j, nil
}

func (f *fakeCommunity) SetPrivate(_ context.Context, id paimeng.Identity, jobID string, private bool) error {
	return f.record("SetPrivate %s %s %v", id, jobID, private)
}

func (f *fakeCommunity) Like(_ context.Context, id paimeng.Identity, jobID string) (bool, int64, error) {
	if err := f.record("Like %s %s", id, jobID); err != nil {
		return false, 0, err
	}
	return f.added, f.likes, nil
}

func (f *fakeCommunity) Leaderboard(_ context.Context, board paimeng.Board, period paimeng.Period, limit int) ([]paimeng.LeaderRow, error) {
	if err := f.record("Leaderboard %s %s %d", board, period, limit); err != nil {
		return nil, err
	}
	return f.rows, nil
}

func (f *fakeCommunity) Grant(_ context.Context, actor, target paimeng.Identity, amount int64, reason string) (*paimeng.Account, error) {
	if err := f.record("Grant %s %s %d %q", actor, target, amount, reason); err != nil {
		return nil, err
	}
	a := f.account
	return &a, nil
}

func (f *fakeCommunity) Ban(_ context.Context, actor, target paimeng.Identity, reason string) error {
	return f.record("Ban %s %s %q", actor, target, reason)
}

func (f *fakeCommunity) Unban(_ context.Context, actor, target paimeng.Identity) error {
	return f.record("Unban %s %s", actor, target)
}

var (
	member = paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: "42"}
	admin  = paimeng.Identity{Platform: paimeng.PlatformDiscord, UserID: "7"}
)

func newTestHandler(t *testing.T, f *fakeCommunity, prices *paimeng.Prices, engines ...string) (*Handler, *bytes.Buffer) {
	t.Helper()
	if prices == nil {
		prices = paimeng.NewPrices(10)
	}
	var logs bytes.Buffer
	h := NewHandler(Env{
		Community: f,
		Prices:    prices,
		Engines:   engines,
		Admins:    []paimeng.Identity{admin},
		PublicURL: "https://paimeng.example/",
		Location:  time.FixedZone("CST", 8*3600),
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	h.now = func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }
	return h, &logs
}

// handle parses text as a member would send it and runs it.
func handle(t *testing.T, h *Handler, id paimeng.Identity, lang paimeng.Lang, text string) string {
	t.Helper()
	cmd, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	got, ok := h.Handle(context.Background(), id, lang, cmd)
	if !ok {
		t.Fatalf("Handle(%q) not handled", text)
	}
	if got == "" || strings.Contains(got, "%!") {
		t.Fatalf("Handle(%q) = %q", text, got)
	}
	return got
}

func TestHandleNotOurs(t *testing.T) {
	f := &fakeCommunity{}
	h, _ := newTestHandler(t, f, nil)
	for _, text := range []string{"/gen push in", "/other x", "/gallery"} {
		cmd, _ := Parse(text)
		if got, ok := h.Handle(context.Background(), member, paimeng.LangZH, cmd); ok || got != "" {
			t.Errorf("Handle(%q) = %q, %v; want not handled", text, got, ok)
		}
	}
	for _, text := range []string{"/help", "/start", "/help@MyBot x"} {
		if got := handle(t, h, member, paimeng.LangEN, text); got != Message(paimeng.LangEN, KeyHelp) {
			t.Errorf("%s = %q", text, got)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("service called: %q", calls)
	}
}

func TestHandle(t *testing.T) {
	linkExpiry := time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC) // 18:10 in UTC+8
	fresh := func() *fakeCommunity {
		return &fakeCommunity{
			account:  paimeng.Account{ID: 1, Balance: 90},
			claim:    paimeng.Claim{Amount: 5, Balance: 95},
			linkCode: paimeng.LinkCode{Code: "K7P2QX", ExpiresAt: linkExpiry},
			canceled: paimeng.Job{ID: "abc234", Price: 20, Status: paimeng.JobCanceled},
			added:    true,
			likes:    3,
		}
	}
	tests := []struct {
		text  string
		lang  paimeng.Lang
		setup func(f *fakeCommunity)
		call  string   // the one service call expected
		want  []string // the reply contains each
	}{
		{"/balance", paimeng.LangEN, nil, "Account telegram:42", []string{"Your credit balance: 90"}},
		{"/balance", paimeng.LangZH, func(f *fakeCommunity) { f.account.Banned, f.account.BanReason = true, "刷屏" }, "Account telegram:42", []string{"90", "已被封禁：刷屏"}},
		{"/balance", paimeng.LangEN, func(f *fakeCommunity) { f.account.Banned, f.account.BanReason = true, "spam" }, "Account telegram:42", []string{"Your credit balance: 90 (banned: spam)"}},
		{"/balance", paimeng.LangEN, func(f *fakeCommunity) { f.account.Banned = true }, "Account telegram:42", []string{"(banned)"}},
		{"/daily", paimeng.LangZH, nil, "Daily telegram:42", []string{"签到成功", "5 积分", "余额 95"}},
		{"/daily", paimeng.LangEN, nil, "Daily telegram:42", []string{"+5 credits", "balance: 95"}},
		{"/redeem SPRING-2026", paimeng.LangEN, nil, "Redeem telegram:42 SPRING-2026", []string{"+5 credits", "95"}},
		{"/link", paimeng.LangZH, nil, "NewLinkCode telegram:42", []string{"K7P2QX", "在另一个平台发送 /link K7P2QX，10 分钟内有效", "18:10 UTC+8"}},
		{"/link", paimeng.LangEN, nil, "NewLinkCode telegram:42", []string{"send /link K7P2QX within 10 minutes", "18:10 UTC+8"}},
		{"/link K7P2QX", paimeng.LangEN, nil, "Link telegram:42 K7P2QX", []string{"Linked", "90"}},
		{"/unlink", paimeng.LangZH, nil, "Unlink telegram:42", []string{"解除关联", "90"}},
		{"/queue", paimeng.LangZH, nil, "MemberJobs telegram:42", []string{"没有排队"}},
		{"/queue", paimeng.LangZH, func(f *fakeCommunity) {
			f.jobs = []paimeng.QueuedJob{
				{Job: &paimeng.Job{ID: "run111", Status: paimeng.JobRunning, Seconds: 5}},
				{Job: &paimeng.Job{ID: "wait22", Status: paimeng.JobQueued, Seconds: 10, Mode: paimeng.ModePro, Lane: paimeng.LaneRelax}, Position: 2},
			}
		}, "MemberJobs telegram:42", []string{"#run111 生成中", "#wait22 排队中，第 2 位 · 专业 10 秒 · 慢速", "/cancel"}},
		{"/queue", paimeng.LangEN, func(f *fakeCommunity) {
			f.jobs = []paimeng.QueuedJob{{Job: &paimeng.Job{ID: "wait22", Status: paimeng.JobQueued}, Position: 2}}
		}, "MemberJobs telegram:42", []string{"#wait22 queued, position 2 · std 5 s · fast"}},
		{"/cancel abc234", paimeng.LangZH, nil, "Cancel telegram:42 abc234", []string{"#abc234 已取消", "20 积分已退回"}},
		{"/cancel #ABC234", paimeng.LangEN, nil, "Cancel telegram:42 abc234", []string{"#abc234 is canceled", "20 credits were refunded"}},
		{"/cancel abc234", paimeng.LangEN, func(f *fakeCommunity) { f.canceled.Price = 0 }, "Cancel telegram:42 abc234", []string{"#abc234 is canceled"}},
		{"/private abc234", paimeng.LangZH, nil, "SetPrivate telegram:42 abc234 true", []string{"#abc234", "私密"}},
		{"/public abc234", paimeng.LangEN, nil, "SetPrivate telegram:42 abc234 false", []string{"#abc234 is public"}},
		{"/like abc234", paimeng.LangZH, nil, "Like telegram:42 abc234", []string{"已点赞", "3 个赞"}},
		{"/like abc234", paimeng.LangEN, func(f *fakeCommunity) { f.added = false }, "Like telegram:42 abc234", []string{"already liked", "3 likes"}},
		{"/top", paimeng.LangZH, nil, "Leaderboard generations week 10", []string{"🏆 本周作品榜", "还没有人", "paimeng.example"}},
		{"/top 赞 月", paimeng.LangZH, nil, "Leaderboard likes month 10", []string{"🏆 本月点赞榜"}},
		{"/top month likes", paimeng.LangEN, nil, "Leaderboard likes month 10", []string{"🏆 Most likes · this month"}},
		{"/top 总榜 积分", paimeng.LangZH, nil, "Leaderboard spent all 10", []string{"🏆 总积分榜"}},
		{"/top spent", paimeng.LangEN, nil, "Leaderboard spent week 10", []string{"Most credits spent"}},
		{"/top gen all", paimeng.LangEN, func(f *fakeCommunity) {
			f.rows = []paimeng.LeaderRow{
				{Rank: 1, Name: "Alice", Score: 12, Platforms: []paimeng.Platform{paimeng.PlatformTelegram, paimeng.PlatformWeChat}},
				{Rank: 2, Name: "Bob", Score: 9, Platforms: []paimeng.Platform{paimeng.PlatformDiscord}},
				{Rank: 3, Name: "Carol", Score: 4},
				{Rank: 4, Name: "member #8", Score: 1, Platforms: []paimeng.Platform{paimeng.PlatformWeb}},
			}
		}, "Leaderboard generations all 10", []string{
			"🥇 Alice · 12 videos (Telegram, WeChat)", "🥈 Bob · 9 videos (Discord)", "🥉 Carol · 4 videos\n", "4. member #8 · 1 videos (Web)",
			"/top gen|spent|likes week|month|all\nGallery: https://paimeng.example",
		}},
		{"/top 作品 周", paimeng.LangZH, func(f *fakeCommunity) {
			f.rows = []paimeng.LeaderRow{{Rank: 1, Name: "小明", Score: 7, Platforms: []paimeng.Platform{paimeng.PlatformWeChat, paimeng.PlatformWeb}}}
		}, "Leaderboard generations week 10", []string{"🥇 小明 · 7 个作品（微信、网页）"}},
		// Admins.
		{"/ban telegram:99 spam links", paimeng.LangEN, nil, `Ban discord:7 telegram:99 "spam links"`, []string{"telegram:99 is banned (reason: spam links)"}},
		{"/ban Telegram:99", paimeng.LangZH, nil, `Ban discord:7 telegram:99 ""`, []string{"已封禁 telegram:99"}},
		{"/unban telegram:99", paimeng.LangEN, nil, "Unban discord:7 telegram:99", []string{"telegram:99 is no longer banned"}},
		{"/grant telegram:99 50 contest prize", paimeng.LangEN, nil, `Grant discord:7 telegram:99 50 "contest prize"`, []string{"Granted 50 credits to telegram:99; their balance: 90"}},
		{"/grant web:alice -20", paimeng.LangZH, nil, `Grant discord:7 web:alice -20 "admin grant"`, []string{"web:alice", "-20", "余额 90"}},
	}
	for _, tt := range tests {
		fc := fresh()
		if tt.setup != nil {
			tt.setup(fc)
		}
		h, _ := newTestHandler(t, fc, nil)
		id := member
		if strings.HasPrefix(tt.text, "/ban") || strings.HasPrefix(tt.text, "/unban") || strings.HasPrefix(tt.text, "/grant") {
			id = admin
		}
		got := handle(t, h, id, tt.lang, tt.text)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s (%s) = %q; lacks %q", tt.text, tt.lang, got, w)
			}
		}
		if tt.lang == paimeng.LangEN && hasHan(got) && !strings.Contains(tt.text, "小明") {
			t.Errorf("%s (en) has Chinese: %q", tt.text, got)
		}
		if calls := fc.Calls(); len(calls) != 1 || calls[0] != tt.call {
			t.Errorf("%s calls = %q, want [%q]", tt.text, calls, tt.call)
		}
	}
}

// TestHandleUsage: missing or bad arguments get the command's usage and never
// reach the service.
func TestHandleUsage(t *testing.T) {
	tests := []struct {
		text, usageOf string
	}{
		{"/redeem", Redeem},
		{"/redeem A B", Redeem},
		{"/link A B", Link},
		{"/cancel", Cancel},
		{"/cancel a b", Cancel},
		{"/cancel 任务", Cancel},
		{"/cancel #", Cancel},
		{"/private", Private},
		{"/public", Public},
		{"/like", Like},
		{"/like x/y", Like},
		{"/top weekly monthly", Top},
		{"/top best", Top},
		{"/top likes likes", Top},
		{"/price --seconds 7", Price},
		{"/price --mode ultra", Price},
		{"/price --turbo", Price},
		{"/price cheap", Price},
		{"/ban", Ban},
		{"/ban telegram", Ban},
		{"/ban :1", Ban},
		{"/unban", Unban},
		{"/unban telegram:1 extra", Unban},
		{"/grant", Grant},
		{"/grant telegram:1", Grant},
		{"/grant telegram:1 lots", Grant},
		{"/grant telegram:1 0", Grant},
		{"/grant 50 telegram:1", Grant},
	}
	for _, lang := range []paimeng.Lang{paimeng.LangZH, paimeng.LangEN} {
		for _, tt := range tests {
			f := &fakeCommunity{}
			h, _ := newTestHandler(t, f, nil)
			got := handle(t, h, admin, lang, tt.text)
			if want := usage(lang, tt.usageOf); got != want {
				t.Errorf("%s (%s) = %q, want usage %q", tt.text, lang, got, want)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("%s called the service: %q", tt.text, calls)
			}
		}
	}
	if got := usage(paimeng.LangZH, Cancel); !strings.Contains(got, "/cancel 任务ID") {
		t.Errorf("cancel usage = %q", got)
	}
}

func TestHandleAdminOnly(t *testing.T) {
	sameUserOtherPlatform := paimeng.Identity{Platform: paimeng.PlatformTelegram, UserID: admin.UserID}
	for _, id := range []paimeng.Identity{member, sameUserOtherPlatform, {}} {
		for _, text := range []string{"/ban telegram:1 x", "/unban telegram:1", "/grant telegram:1 100", "/grant", "/ban"} {
			for _, lang := range []paimeng.Lang{paimeng.LangZH, paimeng.LangEN} {
				f := &fakeCommunity{}
				h, logs := newTestHandler(t, f, nil)
				got := handle(t, h, id, lang, text)
				if got != CodeText(lang, paimeng.EForbidden) {
					t.Errorf("%s by %s = %q, want forbidden text", text, id, got)
				}
				if calls := f.Calls(); len(calls) != 0 {
					t.Errorf("%s by %s called the service: %q", text, id, calls)
				}
				if !strings.Contains(logs.String(), "admin command refused") {
					t.Errorf("refusal not logged: %q", logs.String())
				}
			}
		}
	}
	h, _ := newTestHandler(t, &fakeCommunity{}, nil)
	if !h.IsAdmin(admin) || h.IsAdmin(member) || h.IsAdmin(paimeng.Identity{}) {
		t.Error("IsAdmin wrong")
	}
}

func TestHandleErrors(t *testing.T) {
	tests := []struct {
		text string
		err  error
		want func(lang paimeng.Lang) string
	}{
		{"/daily", paimeng.Errorf(paimeng.EAlreadyClaimed, "claimed 2026-03-02"), codeText(paimeng.EAlreadyClaimed)},
		{"/redeem X", paimeng.Errorf(paimeng.ECodeInvalid, "no code X"), codeText(paimeng.ECodeInvalid)},
		{"/redeem X", paimeng.Errorf(paimeng.ECodeUsed, "used"), codeText(paimeng.ECodeUsed)},
		{"/link X", paimeng.Errorf(paimeng.ECodeExpired, "expired"), codeText(paimeng.ECodeExpired)},
		{"/link X", paimeng.Errorf(paimeng.EAlreadyLinked, "same account"), codeText(paimeng.EAlreadyLinked)},
		{"/unlink", paimeng.Errorf(paimeng.ENotLinked, "alone"), codeText(paimeng.ENotLinked)},
		{"/cancel abc", paimeng.Errorf(paimeng.ENotCancelable, "running"), codeText(paimeng.ENotCancelable)},
		{"/daily", fmt.Errorf("credits: daily: %w", paimeng.Errorf(paimeng.EBanned, "banned")), codeText(paimeng.EBanned)},
		{"/private abc", paimeng.Errorf(paimeng.EForbidden, "not the owner"), codeText(paimeng.EForbidden)},
		{"/like abc", paimeng.Errorf(paimeng.EForbidden, "own video"), message(KeyLikeOwn)},
		{"/cancel abc", paimeng.Errorf(paimeng.ENOTFOUND, "no job abc"), message(KeyNoSuchJob, "abc")},
		{"/like abc", paimeng.Errorf(paimeng.ENOTFOUND, "no job abc"), message(KeyNoSuchJob, "abc")},
		{"/redeem X", paimeng.Errorf(paimeng.EINVALID, "bad code format"), func(lang paimeng.Lang) string { return usage(lang, Redeem) }},
		{"/balance", fmt.Errorf("credits: account: %w", fmt.Errorf("dial tcp: secret refused")), message(KeyTryLater)},
		{"/top", paimeng.Errorf(paimeng.EINTERNAL, "secret"), message(KeyTryLater)},
		{"/queue", paimeng.Errorf(paimeng.ENOTFOUND, "secret"), message(KeyTryLater)},
	}
	for _, tt := range tests {
		for _, lang := range []paimeng.Lang{paimeng.LangZH, paimeng.LangEN} {
			f := &fakeCommunity{err: tt.err}
			h, logs := newTestHandler(t, f, nil)
			got := handle(t, h, member, lang, tt.text)
			if want := tt.want(lang); got != want {
				t.Errorf("%s with %v (%s) = %q, want %q", tt.text, tt.err, lang, got, want)
			}
			if strings.Contains(got, "secret") || strings.Contains(got, "paimeng error") {
				t.Errorf("%s: raw error leaked: %q", tt.text, got)
			}
			if len(f.Calls()) != 1 {
				t.Errorf("%s calls = %q", tt.text, f.Calls())
			}
			level := "level=INFO"
			if c := paimeng.ErrorCode(tt.err); c == paimeng.EINTERNAL || tt.text == "/queue" {
				level = "level=ERROR"
			}
			if !strings.Contains(logs.String(), level) {
				t.Errorf("%s: log lacks %s: %q", tt.text, level, logs.String())
			}
		}
	}
	// Admin failures name the member.
	f := &fakeCommunity{err: paimeng.Errorf(paimeng.ENOTFOUND, "no identity")}
	h, _ := newTestHandler(t, f, nil)
	if got := handle(t, h, admin, paimeng.LangEN, "/unban web:bob"); got != Message(paimeng.LangEN, KeyNoSuchMember, "web:bob") {
		t.Errorf("unban unknown = %q", got)
	}
}

func codeText(code string) func(paimeng.Lang) string {
	return func(lang paimeng.Lang) string { return CodeText(lang, code) }
}

func message(key string, args ...any) func(paimeng.Lang) string {
	return func(lang paimeng.Lang) string { return Message(lang, key, args...) }
}

func TestHandlePrice(t *testing.T) {
	f := &fakeCommunity{}
	h, _ := newTestHandler(t, f, paimeng.NewPrices(10), "camera")
	zh := handle(t, h, member, paimeng.LangZH, "/price")
	for _, w := range []string{"💰", "标准 5 秒：快速 10 · 慢速 5", "标准 10 秒：快速 20 · 慢速 10", "专业 5 秒：快速 18 · 慢速 9", "专业 10 秒：快速 35 · 慢速 18", "/price"} {
		if !strings.Contains(zh, w) {
			t.Errorf("zh table %q lacks %q", zh, w)
		}
	}
	if strings.Contains(zh, "camera") {
		t.Errorf("one engine needs no name: %q", zh)
	}
	en := handle(t, h, member, paimeng.LangEN, "/price")
	if !strings.Contains(en, "pro 10 s: fast 35 · relax 18") || hasHan(en) {
		t.Errorf("en table = %q", en)
	}
	single := []struct {
		text string
		lang paimeng.Lang
		want string
	}{
		{"/price --seconds 10 --mode pro --relax", paimeng.LangZH, "💰 专业 10 秒 · 慢速：18 积分"},
		{"/price --seconds 10 --mode pro", paimeng.LangZH, "💰 专业 10 秒 · 快速：35 积分"},
		{"/price 专业 10 慢速", paimeng.LangZH, "💰 专业 10 秒 · 慢速：18 积分"},
		{"/price pro 10s relax", paimeng.LangEN, "💰 pro 10 s · relax: 18 credits"},
		{"/price --relax", paimeng.LangEN, "💰 std 5 s · relax: 5 credits"},
		{"/price --pro", paimeng.LangEN, "💰 pro 5 s · fast: 18 credits"},
		{"/price 模式:pro 时长:10", paimeng.LangZH, "💰 专业 10 秒 · 快速：35 积分"},
	}
	for _, tt := range single {
		if got := handle(t, h, member, tt.lang, tt.text); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.text, got, tt.want)
		}
	}

	// Several engines, and a free relax lane.
	prices, err := paimeng.ParsePrices("camera=10 svd=30 relax=0", 10)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = newTestHandler(t, f, prices, "camera", "svd")
	table := handle(t, h, member, paimeng.LangEN, "/price")
	for _, w := range []string{"[camera]\nstd 5 s: fast 10 · relax free", "[svd]\nstd 5 s: fast 30 · relax free", "pro 10 s: fast 105"} {
		if !strings.Contains(table, w) {
			t.Errorf("table %q lacks %q", table, w)
		}
	}
	if got := handle(t, h, member, paimeng.LangEN, "/price svd"); strings.Contains(got, "camera") || !strings.Contains(got, "[svd]") {
		t.Errorf("/price svd = %q", got)
	}
	if got := handle(t, h, member, paimeng.LangEN, "/price SVD pro 10"); got != "💰 svd · pro 10 s · fast: 105 credits" {
		t.Errorf("/price SVD pro 10 = %q", got)
	}
	if got := handle(t, h, member, paimeng.LangZH, "/price --relax"); got != "💰 camera · 标准 5 秒 · 慢速：免费\n💰 svd · 标准 5 秒 · 慢速：免费" {
		t.Errorf("/price --relax = %q", got)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("price called the service: %q", calls)
	}

	// No engines configured: the default price.
	h, _ = newTestHandler(t, f, paimeng.NewPrices(8))
	if got := handle(t, h, member, paimeng.LangEN, "/price 10"); got != "💰 std 10 s · fast: 16 credits" {
		t.Errorf("default engine = %q", got)
	}
}

func TestHandleWithoutServices(t *testing.T) {
	h := NewHandler(Env{})
	for _, text := range []string{"/balance", "/price", "/top"} {
		cmd, _ := Parse(text)
		got, ok := h.Handle(context.Background(), member, paimeng.LangEN, cmd)
		if !ok || got != Message(paimeng.LangEN, KeyTryLater) {
			t.Errorf("%s = %q, %v", text, got, ok)
		}
	}
}

func TestHandleConcurrent(t *testing.T) {
	f := &fakeCommunity{account: paimeng.Account{Balance: 5}}
	h, _ := newTestHandler(t, f, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, text := range []string{"/balance", "/price", "/top likes", "/queue"} {
				cmd, _ := Parse(text)
				if _, ok := h.Handle(context.Background(), member, paimeng.LangZH, cmd); !ok {
					t.Errorf("%s not handled", text)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(f.Calls()); n != 8*3 {
		t.Errorf("calls = %d, want 24", n)
	}
}

func TestClockText(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	tests := []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "10:05 UTC+0"},
		{time.FixedZone("", 8*3600), "18:05 UTC+8"},
		{time.FixedZone("", -5*3600), "05:05 UTC-5"},
		{time.FixedZone("", 5*3600+1800), "15:35 UTC+5:30"},
	}
	for _, tt := range tests {
		if got := clockText(at.In(tt.loc)); got != tt.want {
			t.Errorf("clockText = %q, want %q", got, tt.want)
		}
	}
}
