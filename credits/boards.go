package credits

import (
	"context"
	"sort"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/migrations"
)

// Leaderboard and gallery sizes.
const (
	defaultBoardLimit   = 10
	defaultGalleryLimit = 24
	maxBoardLimit       = 100
)

// Like records id's like of a succeeded video, once per account: added is
// false when the account had liked it already. likes is the video's total.
// A missing, unfinished or failed job, or another member's private video,
// is ENOTFOUND; members cannot like their own videos (EForbidden).
func (s *Store) Like(ctx context.Context, id paimeng.Identity, jobID string) (added bool, likes int64, err error) {
	if err := validIdentity(id); err != nil {
		return false, 0, err
	}
	err = s.retryTx(ctx, func(tx *gorm.DB) error {
		acct, err := s.ensureAccount(tx, id)
		if err != nil {
			return err
		}
		// Held until commit, so a link of this account moves the new like
		// along (and a link committed first makes this run again). The job
		// is read afterwards: a link also moves jobs between accounts.
		if acct, err = lockAccount(tx, acct.ID, now()); err != nil {
			return err
		}
		job, err := jobByID(tx, jobID)
		if err != nil {
			return err
		}
		if job.Status != string(paimeng.JobSucceeded) {
			return notFound("video", jobID)
		}
		if job.AccountID == acct.ID {
			return paimeng.Errorf(paimeng.EForbidden, "account %d cannot like its own video %s", acct.ID, jobID)
		}
		if job.Private {
			return notFound("video", jobID)
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&likeRow{
			JobID: jobID, AccountID: acct.ID, Platform: string(id.Platform), UserID: id.UserID, CreatedAt: now(),
		})
		if res.Error != nil {
			return res.Error
		}
		added = res.RowsAffected == 1
		return tx.Model(&likeRow{}).Where("job_id = ?", jobID).Count(&likes).Error
	})
	if err != nil {
		return false, 0, wrap("like", err)
	}
	return added, likes, nil
}

// Leaderboard ranks accounts (every identity of a member together) on
// board over period, best first; now fixes the period (zero means the
// current time). Generations counts succeeded videos finished in the
// period, spent the credits they captured, likes the likes the member's
// videos received in the period. Accounts with a zero score are left out.
// limit defaults to 10 and is capped at 100.
func (s *Store) Leaderboard(ctx context.Context, board paimeng.Board, period paimeng.Period, limit int, now time.Time) ([]paimeng.LeaderRow, error) {
	start, bounded, err := s.periodStart(period, now)
	if err != nil {
		return nil, err
	}
	limit = boardLimit(limit, defaultBoardLimit)

	succeeded := string(paimeng.JobSucceeded)
	var (
		q    string
		args []any
	)
	switch board {
	case paimeng.BoardGenerations, paimeng.BoardSpent:
		score := "COUNT(*)"
		if board == paimeng.BoardSpent {
			score = "CAST(SUM(price) AS BIGINT)"
		}
		q = "SELECT account_id, " + score + " AS score FROM jobs WHERE status = ? AND " + notBanned("account_id")
		args = append(args, succeeded)
		if bounded {
			q += " AND finished_at >= ?"
			args = append(args, start)
		}
		q += " GROUP BY account_id HAVING " + score + " > 0"
	case paimeng.BoardLikes:
		q = "SELECT j.account_id AS account_id, COUNT(*) AS score FROM likes l JOIN jobs j ON j.id = l.job_id WHERE " + notBanned("j.account_id")
		if bounded {
			q += " AND l.created_at >= ?"
			args = append(args, start)
		}
		q += " GROUP BY j.account_id"
	default:
		return nil, paimeng.Errorf(paimeng.EINVALID, "unknown leaderboard %q", board)
	}
	q += " ORDER BY score DESC, account_id LIMIT ?"
	args = append(args, limit)

	var rows []struct {
		AccountID int64
		Score     int64
	}
	out := []paimeng.LeaderRow{}
	err = s.readSnapshot(ctx, func(tx *gorm.DB) error {
		if err := tx.Raw(q, args...).Scan(&rows).Error; err != nil {
			return err
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.AccountID
		}
		members, err := memberNames(tx, ids)
		if err != nil {
			return err
		}
		for i, r := range rows {
			m := members[r.AccountID]
			out = append(out, paimeng.LeaderRow{
				Rank: i + 1, AccountID: r.AccountID, Name: m.name, Platforms: m.platforms, Score: r.Score,
			})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("leaderboard", err)
	}
	return out, nil
}

// periodStart returns the UTC start of period around now in the
// community's time zone; bounded is false for PeriodAll.
func (s *Store) periodStart(period paimeng.Period, now time.Time) (start time.Time, bounded bool, err error) {
	if now.IsZero() {
		now = time.Now()
	}
	t := now.In(s.opt.Location)
	switch period {
	case paimeng.PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, s.opt.Location)
	case paimeng.PeriodMonth:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, s.opt.Location)
	case paimeng.PeriodAll:
		return time.Time{}, false, nil
	default:
		return time.Time{}, false, paimeng.Errorf(paimeng.EINVALID, "unknown leaderboard period %q", period)
	}
	return start.UTC(), true, nil
}

// Gallery returns public succeeded videos finished before before (zero
// means now), newest first, with their authors' names and like counts.
// limit defaults to 24 and is capped at 100.
func (s *Store) Gallery(ctx context.Context, limit int, before time.Time) ([]paimeng.GalleryItem, error) {
	limit = boardLimit(limit, defaultGalleryLimit)
	if before.IsZero() {
		before = now()
	}
	public := "jobs.private = 0" // matches the partial index jobs_gallery_idx
	if s.dialect == migrations.DialectPostgres {
		public = "NOT jobs.private"
	}
	out := []paimeng.GalleryItem{}
	err := s.readSnapshot(ctx, func(tx *gorm.DB) error {
		var rows []jobRow
		err := tx.Where("jobs.status = ? AND "+public+" AND jobs.finished_at < ? AND "+notBanned("jobs.account_id"), string(paimeng.JobSucceeded), before.UTC()).
			Order("jobs.finished_at DESC, jobs.id DESC").Limit(limit).Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		jobIDs := make([]string, len(rows))
		accountIDs := make([]int64, len(rows))
		for i := range rows {
			jobIDs[i], accountIDs[i] = rows[i].ID, rows[i].AccountID
		}
		var counts []struct {
			JobID string
			N     int64
		}
		err = tx.Model(&likeRow{}).Select("job_id, COUNT(*) AS n").
			Where("job_id IN ?", jobIDs).Group("job_id").Scan(&counts).Error
		if err != nil {
			return err
		}
		likes := make(map[string]int64, len(counts))
		for _, c := range counts {
			likes[c.JobID] = c.N
		}
		members, err := memberNames(tx, accountIDs)
		if err != nil {
			return err
		}
		for i := range rows {
			out = append(out, paimeng.GalleryItem{
				Job: toJob(&rows[i]), Name: members[rows[i].AccountID].name, Likes: likes[rows[i].ID],
			})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("gallery", err)
	}
	return out, nil
}

// publicMember is how an account is shown publicly.
type publicMember struct {
	name      string
	platforms []paimeng.Platform
}

// memberNames returns, per account, the first non-empty display name of
// its identities (oldest identity first), or a neutral "member #N" that
// never shows a platform user id, and the sorted platforms it is on.
func memberNames(db *gorm.DB, accountIDs []int64) (map[int64]publicMember, error) {
	out := make(map[int64]publicMember, len(accountIDs))
	for _, id := range accountIDs {
		out[id] = publicMember{name: "member #" + strconv.FormatInt(id, 10)}
	}
	if len(accountIDs) == 0 {
		return out, nil
	}
	var idents []identityRow
	err := db.Where("account_id IN ?", accountIDs).
		Order("account_id, created_at, platform, user_id").Find(&idents).Error
	if err != nil {
		return nil, err
	}
	named := map[int64]bool{}
	seen := map[int64]map[paimeng.Platform]bool{}
	for _, r := range idents {
		m := out[r.AccountID]
		if !named[r.AccountID] && r.DisplayName != "" {
			m.name, named[r.AccountID] = r.DisplayName, true
		}
		p := paimeng.Platform(r.Platform)
		if seen[r.AccountID] == nil {
			seen[r.AccountID] = map[paimeng.Platform]bool{}
		}
		if !seen[r.AccountID][p] {
			seen[r.AccountID][p] = true
			m.platforms = append(m.platforms, p)
		}
		out[r.AccountID] = m
	}
	for id, m := range out {
		sort.Slice(m.platforms, func(i, j int) bool { return m.platforms[i] < m.platforms[j] })
		out[id] = m
	}
	return out, nil
}

func boardLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxBoardLimit:
		return maxBoardLimit
	}
	return n
}

// notBanned is a condition keeping rows of accounts that are not banned:
// banned members leave the boards and the gallery.
func notBanned(col string) string {
	return col + " NOT IN (SELECT id FROM accounts WHERE banned_at IS NOT NULL)"
}
