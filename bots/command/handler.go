package command

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paimeng/paimeng"
)

// TopLimit is how many members a leaderboard reply lists.
const TopLimit = 10

// Env is what Handler needs.
type Env struct {
	Community paimeng.Community
	Prices    *paimeng.Prices
	Engines   []string           // engines to list in /price; empty means one default engine
	Admins    []paimeng.Identity // may use /ban, /unban and /grant
	PublicURL string             // base URL of the web front end, shown with leaderboards; optional

	// Location is the time zone for times shown to members (link code
	// expiry). Nil means Asia/Shanghai.
	Location *time.Location
	// Logger receives failures of the community service. Nil discards.
	Logger *slog.Logger
}

// Handler runs every chat command except /gen for any front end and
// returns the reply text. It is safe for concurrent use.
type Handler struct {
	env Env
	log *slog.Logger
	loc *time.Location
	now func() time.Time
}

// NewHandler returns a handler over env.
func NewHandler(env Env) *Handler {
	h := &Handler{env: env, log: env.Logger, loc: env.Location, now: time.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.loc == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("UTC+8", 8*3600)
		}
		h.loc = loc
	}
	h.env.PublicURL = strings.TrimRight(env.PublicURL, "/")
	return h
}

// Handle runs cmd for the member id and returns the reply in lang. ok is
// false for /gen and for commands the handler does not know; the front end
// answers those itself. Bad arguments get the command's usage without
// calling the community service; refusals and failures get the text for
// their error code.
func (h *Handler) Handle(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, cmd Command) (text string, ok bool) {
	args := strings.Fields(cmd.Args)
	switch cmd.Name {
	case Help, Start:
		return Message(lang, KeyHelp), true
	case Price:
		return h.price(lang, args), true
	case Balance, Daily, Redeem, Link, Unlink, Queue, Cancel, Top, Private, Public, Like:
	case Ban, Unban, Grant:
		if !h.IsAdmin(id) {
			h.log.Info("admin command refused", "command", cmd.Name, "user", id.String())
			return CodeText(lang, paimeng.EForbidden), true
		}
	default:
		return "", false
	}
	if h.env.Community == nil {
		h.log.Error("command failed: no community service", "command", cmd.Name)
		return Message(lang, KeyTryLater), true
	}
	switch cmd.Name {
	case Balance:
		return h.balance(ctx, id, lang), true
	case Daily:
		return h.daily(ctx, id, lang), true
	case Redeem:
		return h.redeem(ctx, id, lang, args), true
	case Link:
		return h.link(ctx, id, lang, args), true
	case Unlink:
		return h.unlink(ctx, id, lang), true
	case Queue:
		return h.queue(ctx, id, lang), true
	case Cancel:
		return h.cancel(ctx, id, lang, args), true
	case Top:
		return h.top(ctx, id, lang, args), true
	case Private, Public:
		return h.setPrivate(ctx, id, lang, cmd.Name, args), true
	case Like:
		return h.like(ctx, id, lang, args), true
	case Ban:
		return h.ban(ctx, id, lang, args), true
	case Unban:
		return h.unban(ctx, id, lang, args), true
	default: // Grant
		return h.grant(ctx, id, lang, args), true
	}
}

// IsAdmin reports whether id is one of Env.Admins.
func (h *Handler) IsAdmin(id paimeng.Identity) bool {
	return !id.IsZero() && slices.Contains(h.env.Admins, id)
}

// usage returns the usage text of a command.
func usage(lang paimeng.Lang, name string) string {
	return Message(lang, KeyUsagePrefix+name)
}

// fail maps err to member-facing text; arg is the job id or identity the
// command was about.
func (h *Handler) fail(id paimeng.Identity, lang paimeng.Lang, name, arg string, err error) string {
	code := paimeng.ErrorCode(err)
	switch code {
	case paimeng.ENOTFOUND:
		switch name {
		case Cancel, Private, Public, Like:
			h.log.Info("command refused", "command", name, "user", id.String(), "code", code, "err", err)
			return Message(lang, KeyNoSuchJob, arg)
		case Ban, Unban, Grant:
			h.log.Info("command refused", "command", name, "user", id.String(), "code", code, "err", err)
			return Message(lang, KeyNoSuchMember, arg)
		}
	case paimeng.EINVALID, paimeng.EBadOption:
		if _, en := communityCatalog(KeyUsagePrefix + name); en != "" {
			h.log.Info("command refused", "command", name, "user", id.String(), "code", code, "err", err)
			return usage(lang, name)
		}
	case paimeng.EForbidden:
		if name == Like {
			h.log.Info("command refused", "command", name, "user", id.String(), "code", code, "err", err)
			return Message(lang, KeyLikeOwn)
		}
	}
	if memberCode(code) {
		h.log.Info("command refused", "command", name, "user", id.String(), "code", code, "err", err)
		return CodeText(lang, code)
	}
	h.log.Error("command failed", "command", name, "user", id.String(), "err", err)
	return Message(lang, KeyTryLater)
}

// memberCode reports whether code has text of its own (rather than the
// generic apology).
func memberCode(code string) bool {
	_, en := codeCatalog(code)
	_, generic := codeCatalog(paimeng.EINTERNAL)
	return code != paimeng.EINTERNAL && en != generic
}

func (h *Handler) balance(ctx context.Context, id paimeng.Identity, lang paimeng.Lang) string {
	acc, err := h.env.Community.Account(ctx, id)
	if err != nil {
		return h.fail(id, lang, Balance, "", err)
	}
	text := Message(lang, KeyBalance, acc.Balance)
	if acc.Banned {
		if r := strings.TrimSpace(acc.BanReason); r != "" {
			text += Message(lang, KeyBannedNote, r)
		} else {
			text += Message(lang, KeyBannedNoReason)
		}
	}
	return text
}

// engines returns the engines /price lists.
func (h *Handler) engines() []string {
	if len(h.env.Engines) == 0 {
		return []string{""}
	}
	return h.env.Engines
}

func modeText(lang paimeng.Lang, m paimeng.Mode) string {
	if m == paimeng.ModePro {
		return Message(lang, KeyModePro)
	}
	return Message(lang, KeyModeStd)
}

func laneText(lang paimeng.Lang, l paimeng.Lane) string {
	if l == paimeng.LaneRelax {
		return Message(lang, KeyLaneRelax)
	}
	return Message(lang, KeyLaneFast)
}

// amountText is "20" or "free" in a table.
func amountText(lang paimeng.Lang, n int64) string {
	if n == 0 {
		return Message(lang, KeyFree)
	}
	return strconv.FormatInt(n, 10)
}

// creditsText is "20 credits" or "free".
func creditsText(lang paimeng.Lang, n int64) string {
	if n == 0 {
		return Message(lang, KeyFree)
	}
	return Message(lang, KeyCredits, n)
}

// price answers /price: the whole table, or with options (/price --mode
// pro --seconds 10 --relax, or the bare words /price pro 10 relax) one
// price per engine. An engine name narrows the answer to that engine.
func (h *Handler) price(lang paimeng.Lang, args []string) string {
	if h.env.Prices == nil {
		h.log.Error("command failed: no price table", "command", Price)
		return Message(lang, KeyTryLater)
	}
	var opt Command
	rest, err := opt.parseOptions(args)
	if err != nil {
		return usage(lang, Price)
	}
	engines := h.engines()
	single := opt.Seconds != 0 || opt.Mode != "" || opt.Lane != ""
	for _, w := range rest {
		if i := slices.IndexFunc(h.env.Engines, func(e string) bool { return strings.EqualFold(e, w) }); i >= 0 {
			engines = h.env.Engines[i : i+1]
		} else if n, ok := secondsValue(w); ok {
			opt.Seconds, single = n, true
		} else if m := modeValue(w); m != "" {
			opt.Mode, single = m, true
		} else if l := laneValue(w); l != "" {
			opt.Lane, single = l, true
		} else {
			return usage(lang, Price)
		}
	}
	named := len(h.env.Engines) > 1
	var b strings.Builder
	if single {
		if opt.Seconds == 0 {
			opt.Seconds = 5
		}
		for i, e := range engines {
			p, err := h.env.Prices.Price(e, opt.Mode, opt.Seconds, opt.Lane)
			if err != nil {
				return usage(lang, Price)
			}
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("💰 ")
			if named {
				b.WriteString(e + " · ")
			}
			b.WriteString(Message(lang, KeyPriceOne, modeText(lang, opt.Mode), opt.Seconds, laneText(lang, opt.Lane), creditsText(lang, p)))
		}
		return b.String()
	}
	b.WriteString(Message(lang, KeyPriceHeader))
	last := ""
	for _, r := range h.env.Prices.Rows(engines) {
		if named && r.Engine != last {
			b.WriteString("\n" + Message(lang, KeyPriceEngine, r.Engine))
			last = r.Engine
		}
		b.WriteString("\n" + Message(lang, KeyPriceRow, modeText(lang, r.Mode), r.Seconds, amountText(lang, r.Fast), amountText(lang, r.Relax)))
	}
	b.WriteString("\n" + Message(lang, KeyPriceFooter))
	return b.String()
}

func (h *Handler) daily(ctx context.Context, id paimeng.Identity, lang paimeng.Lang) string {
	c, err := h.env.Community.Daily(ctx, id)
	if err != nil {
		return h.fail(id, lang, Daily, "", err)
	}
	return Message(lang, KeyDaily, c.Amount, c.Balance)
}

func (h *Handler) redeem(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, args []string) string {
	if len(args) != 1 {
		return usage(lang, Redeem)
	}
	c, err := h.env.Community.Redeem(ctx, id, args[0])
	if err != nil {
		return h.fail(id, lang, Redeem, args[0], err)
	}
	return Message(lang, KeyRedeemed, c.Amount, c.Balance)
}

func (h *Handler) link(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, args []string) string {
	switch len(args) {
	case 0:
		lc, err := h.env.Community.NewLinkCode(ctx, id)
		if err != nil {
			return h.fail(id, lang, Link, "", err)
		}
		minutes := max(int(math.Ceil(lc.ExpiresAt.Sub(h.now()).Minutes())), 1)
		return Message(lang, KeyLinkCode, lc.Code, minutes, clockText(lc.ExpiresAt.In(h.loc)))
	case 1:
		acc, err := h.env.Community.Link(ctx, id, args[0])
		if err != nil {
			return h.fail(id, lang, Link, args[0], err)
		}
		return Message(lang, KeyLinked, acc.Balance)
	}
	return usage(lang, Link)
}

// clockText is "15:04 UTC+8".
func clockText(t time.Time) string {
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	zone := fmt.Sprintf("UTC%s%d", sign, off/3600)
	if m := off % 3600 / 60; m != 0 {
		zone += fmt.Sprintf(":%02d", m)
	}
	return t.Format("15:04") + " " + zone
}

func (h *Handler) unlink(ctx context.Context, id paimeng.Identity, lang paimeng.Lang) string {
	acc, err := h.env.Community.Unlink(ctx, id)
	if err != nil {
		return h.fail(id, lang, Unlink, "", err)
	}
	return Message(lang, KeyUnlinked, acc.Balance)
}

func (h *Handler) queue(ctx context.Context, id paimeng.Identity, lang paimeng.Lang) string {
	jobs, err := h.env.Community.MemberJobs(ctx, id)
	if err != nil {
		return h.fail(id, lang, Queue, "", err)
	}
	if len(jobs) == 0 {
		return Message(lang, KeyQueueEmpty)
	}
	var b strings.Builder
	b.WriteString(Message(lang, KeyQueueHeader))
	for _, q := range jobs {
		j := q.Job
		if j == nil {
			continue
		}
		seconds := j.Seconds
		if seconds == 0 {
			seconds = 5
		}
		details := Message(lang, KeyQueueDetails, modeText(lang, j.Mode), seconds, laneText(lang, j.Lane))
		switch {
		case j.Status == paimeng.JobRunning:
			b.WriteString("\n" + Message(lang, KeyQueueRunning, j.ID, details))
		case q.Position > 0:
			b.WriteString("\n" + Message(lang, KeyQueueQueued, j.ID, q.Position, details))
		default:
			b.WriteString("\n" + Message(lang, KeyQueueWaiting, j.ID, details))
		}
	}
	b.WriteString("\n" + Message(lang, KeyQueueFooter))
	return b.String()
}

// jobArg reads the one job id of /cancel, /private, /public and /like:
// "#AbC" and "abc" are the same job.
func jobArg(args []string) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	s := strings.ToLower(strings.TrimPrefix(args[0], "#"))
	if id, ok := ParseLikeData(s); ok {
		s = id
	}
	return s, validJobID(s)
}

// ValidJobID reports whether s can be a job id (letters, digits, '-' and
// '_', at most 64), so front ends can refuse button data without a lookup.
func ValidJobID(s string) bool { return validJobID(s) }

func validJobID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (h *Handler) cancel(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, args []string) string {
	jobID, ok := jobArg(args)
	if !ok {
		return usage(lang, Cancel)
	}
	job, err := h.env.Community.Cancel(ctx, id, jobID)
	if err != nil {
		return h.fail(id, lang, Cancel, jobID, err)
	}
	if job != nil && job.ID != "" {
		jobID = job.ID
	}
	if job != nil && job.Price > 0 {
		return Message(lang, KeyCanceledRefund, jobID, job.Price)
	}
	return Message(lang, KeyCanceledJob, jobID)
}

// boardWord maps the words /top understands to a board.
func boardWord(w string) paimeng.Board {
	switch w {
	case "generations", "generation", "gen", "gens", "videos", "video", "作品", "生成":
		return paimeng.BoardGenerations
	case "spent", "spend", "credits", "credit", "积分", "消费":
		return paimeng.BoardSpent
	case "likes", "like", "liked", "赞", "点赞", "获赞":
		return paimeng.BoardLikes
	}
	return ""
}

// periodWord maps the words /top understands to a period.
func periodWord(w string) paimeng.Period {
	switch w {
	case "week", "weekly", "周", "本周", "每周":
		return paimeng.PeriodWeek
	case "month", "monthly", "月", "本月", "每月":
		return paimeng.PeriodMonth
	case "all", "total", "ever", "alltime", "all-time", "总", "全部", "总共", "历史":
		return paimeng.PeriodAll
	}
	return ""
}

// topArgs reads "[board] [period]" in either order; "周榜" and "作品榜" work
// too. Defaults: generations, this week.
func topArgs(args []string) (paimeng.Board, paimeng.Period, bool) {
	board, period := paimeng.BoardGenerations, paimeng.PeriodWeek
	var seenBoard, seenPeriod bool
	for _, a := range args {
		w := strings.ToLower(a)
		if w != "榜" {
			w = strings.TrimSuffix(w, "榜")
		}
		if b := boardWord(w); b != "" && !seenBoard {
			board, seenBoard = b, true
		} else if p := periodWord(w); p != "" && !seenPeriod {
			period, seenPeriod = p, true
		} else {
			return "", "", false
		}
	}
	return board, period, true
}

func (h *Handler) top(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, args []string) string {
	board, period, ok := topArgs(args)
	if !ok {
		return usage(lang, Top)
	}
	rows, err := h.env.Community.Leaderboard(ctx, board, period, TopLimit)
	if err != nil {
		return h.fail(id, lang, Top, "", err)
	}
	var b strings.Builder
	b.WriteString(Message(lang, KeyTopTitle, Message(lang, keyPeriodPrefix+string(period)), Message(lang, keyBoardPrefix+string(board))))
	if len(rows) == 0 {
		b.WriteString("\n" + Message(lang, KeyTopEmpty))
	}
	unit := Message(lang, keyUnitPrefix+string(board))
	for i, r := range rows {
		rank := r.Rank
		if rank <= 0 {
			rank = i + 1
		}
		place := strconv.Itoa(rank) + "."
		switch rank {
		case 1:
			place = "🥇"
		case 2:
			place = "🥈"
		case 3:
			place = "🥉"
		}
		name := strings.TrimSpace(r.Name)
		if name == "" {
			name = "#" + strconv.FormatInt(r.AccountID, 10)
		}
		b.WriteString("\n" + Message(lang, KeyTopRow, place, name, r.Score, unit, platformsText(lang, r.Platforms)))
	}
	b.WriteString("\n" + Message(lang, KeyTopFooter))
	if h.env.PublicURL != "" {
		b.WriteString("\n" + Message(lang, KeyTopGallery, h.env.PublicURL+"/top"))
	}
	return b.String()
}

// platformsText is "（Telegram、微信）" / " (Telegram, WeChat)", or "" for
// none.
func platformsText(lang paimeng.Lang, ps []paimeng.Platform) string {
	if len(ps) == 0 {
		return ""
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		key := keyPlatformPrefix + string(p)
		if zh, _ := communityCatalog(key); zh != "" {
			names = append(names, Message(lang, key))
		} else {
			names = append(names, string(p))
		}
	}
	return Message(lang, keyPlatformsFormat, strings.Join(names, Message(lang, keyListSep)))
}

func (h *Handler) setPrivate(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, name string, args []string) string {
	jobID, ok := jobArg(args)
	if !ok {
		return usage(lang, name)
	}
	private := name == Private
	if err := h.env.Community.SetPrivate(ctx, id, jobID, private); err != nil {
		return h.fail(id, lang, name, jobID, err)
	}
	if private {
		return Message(lang, KeyPrivateDone, jobID)
	}
	return Message(lang, KeyPublicDone, jobID)
}

func (h *Handler) like(ctx context.Context, id paimeng.Identity, lang paimeng.Lang, args []string) string {
	jobID, ok := jobArg(args)
	if !ok {
		return usage(lang, Like)
	}
	added, likes, err := h.env.Community.Like(ctx, id, jobID)
	if err != nil {
		return h.fail(id, lang, Like, jobID, err)
	}
	if added {
		return Message(lang, KeyLiked, jobID, likes)
	}
	return Message(lang, KeyLikedBefore, jobID, likes)
}

// identityArg reads "platform:user" (the platform in any case).
func identityArg(s string) (paimeng.Identity, bool) {
	id, err := paimeng.ParseIdentity(s)
	if err != nil {
		return paimeng.Identity{}, false
	}
	id.Platform = paimeng.Platform(strings.ToLower(string(id.Platform)))
	return id, true
}

func (h *Handler) ban(ctx context.Context, actor paimeng.Identity, lang paimeng.Lang, args []string) string {
	if len(args) == 0 {
		return usage(lang, Ban)
	}
	target, ok := identityArg(args[0])
	if !ok {
		return usage(lang, Ban)
	}
	reason := strings.Join(args[1:], " ")
	if err := h.env.Community.Ban(ctx, actor, target, reason); err != nil {
		return h.fail(actor, lang, Ban, target.String(), err)
	}
	h.log.Info("member banned", "actor", actor.String(), "target", target.String(), "reason", reason)
	if reason != "" {
		return Message(lang, KeyBanDoneReason, target.String(), reason)
	}
	return Message(lang, KeyBanDone, target.String())
}

func (h *Handler) unban(ctx context.Context, actor paimeng.Identity, lang paimeng.Lang, args []string) string {
	if len(args) != 1 {
		return usage(lang, Unban)
	}
	target, ok := identityArg(args[0])
	if !ok {
		return usage(lang, Unban)
	}
	if err := h.env.Community.Unban(ctx, actor, target); err != nil {
		return h.fail(actor, lang, Unban, target.String(), err)
	}
	h.log.Info("member unbanned", "actor", actor.String(), "target", target.String())
	return Message(lang, KeyUnbanDone, target.String())
}

func (h *Handler) grant(ctx context.Context, actor paimeng.Identity, lang paimeng.Lang, args []string) string {
	if len(args) < 2 {
		return usage(lang, Grant)
	}
	target, ok := identityArg(args[0])
	if !ok {
		return usage(lang, Grant)
	}
	amount, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || amount == 0 {
		return usage(lang, Grant)
	}
	reason := strings.Join(args[2:], " ")
	if reason == "" {
		reason = "admin grant"
	}
	acc, err := h.env.Community.Grant(ctx, actor, target, amount, reason)
	if err != nil {
		return h.fail(actor, lang, Grant, target.String(), err)
	}
	h.log.Info("credits granted", "actor", actor.String(), "target", target.String(), "amount", amount, "reason", reason)
	return Message(lang, KeyGrantDone, target.String(), amount, acc.Balance)
}

// PrivateOnly reports whether cmd shows or spends a secret code (a link
// code being issued, a redemption code) and so must not run where other
// members read along; front ends answer KeyPrivateOnly in groups instead.
func PrivateOnly(cmd Command) bool {
	switch cmd.Name {
	case Link:
		return strings.TrimSpace(cmd.Args) == ""
	case Redeem:
		return true
	}
	return false
}

// IsImageFile reports whether an attachment a member sent is a JPEG, PNG
// or WebP picture: by its content type, or by its name when the type is
// missing or generic.
func IsImageFile(contentType, name string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case "image/jpeg", "image/jpg", "image/png", "image/webp":
		return true
	case "", "application/octet-stream":
		switch strings.ToLower(path.Ext(name)) {
		case ".jpg", ".jpeg", ".png", ".webp":
			return true
		}
	}
	return false
}

// LikeText is the answer to a like of video jobID, by button or /like:
// added or already liked with the count, or why it was refused.
func LikeText(lang paimeng.Lang, jobID string, added bool, likes int64, err error) string {
	if err == nil {
		if added {
			return Message(lang, KeyLiked, jobID, likes)
		}
		return Message(lang, KeyLikedBefore, jobID, likes)
	}
	switch code := paimeng.ErrorCode(err); code {
	case paimeng.EForbidden:
		return Message(lang, KeyLikeOwn)
	case paimeng.ENOTFOUND:
		return Message(lang, KeyNoSuchJob, jobID)
	case paimeng.EINTERNAL:
		return Message(lang, KeyTryLater)
	default:
		return CodeText(lang, code)
	}
}

// likePrefix starts the data of like buttons.
const likePrefix = "like:"

// LikeData is the callback data of a like button for a video:
// "like:<job id>".
func LikeData(jobID string) string { return likePrefix + jobID }

// ParseLikeData returns the job id of like-button data, ok false for any
// other data.
func ParseLikeData(s string) (jobID string, ok bool) {
	id, found := strings.CutPrefix(s, likePrefix)
	if !found || !validJobID(id) {
		return "", false
	}
	return id, true
}
