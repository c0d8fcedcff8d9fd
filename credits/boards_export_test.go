package credits

import "context"

// ExecTestSQL runs a statement directly against the database, for tests
// that need rows in states the API does not produce on demand (old finish
// times, a second identity on an account).
func (s *Store) ExecTestSQL(ctx context.Context, sql string, args ...any) error {
	return s.db.WithContext(ctx).Exec(sql, args...).Error
}
