package credits_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
)

// A job's camera script and output options come back from every query as
// they were written.
func TestJobCameraFieldsRoundTrip(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, s *credits.Store) {
		ctx := context.Background()
		shot := paimeng.Shot{
			Shake: 0.35, Walk: true,
			Moves: []paimeng.Move{
				{Zoom: -5, FadeIn: true, Ease: paimeng.EaseLinear, Length: 2},
				{Dolly: 3.5, Orbit: -2, Shake: 0.7, FadeOut: true, Ease: paimeng.EaseSudden},
			},
		}
		j := newJob(alice, 5)
		j.Shot, j.FPS, j.Resolution, j.Aspect = shot, 30, 540, paimeng.AspectSquare
		j.TailKey = "jobs/x/tail"
		if _, created, err := s.CreateJob(ctx, j, "cam:1"); err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		check := func(where string, got *paimeng.Job) {
			t.Helper()
			if got.ID != j.ID {
				t.Fatalf("%s: job %s, want %s", where, got.ID, j.ID)
			}
			if !reflect.DeepEqual(got.Shot, shot) || got.FPS != 30 || got.Resolution != 540 ||
				got.Aspect != paimeng.AspectSquare || got.TailKey != "jobs/x/tail" {
				t.Fatalf("%s: shot %+v fps %d res %d aspect %q tail %q", where, got.Shot, got.FPS, got.Resolution, got.Aspect, got.TailKey)
			}
		}
		got, err := s.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		check("Job", got)
		if got, err = s.JobByIdempotencyKey(ctx, "cam:1"); err != nil {
			t.Fatal(err)
		}
		check("JobByIdempotencyKey", got)
		// A repeated submit returns the stored job, script included.
		again := newJob(alice, 5)
		if got, created, err := s.CreateJob(ctx, again, "cam:1"); err != nil || created {
			t.Fatalf("repeat: %v %v", created, err)
		} else {
			check("CreateJob repeat", got)
		}
		future := time.Now().Add(time.Hour)
		queued, err := s.JobsByStatus(ctx, paimeng.JobQueued, future, 10)
		if err != nil || len(queued) != 1 {
			t.Fatalf("queued %v %v", queued, err)
		}
		check("JobsByStatus", queued[0])
		if got, err = s.NextDispatch(ctx, paimeng.LaneFast, 0); err != nil || got == nil {
			t.Fatalf("dispatch %v %v", got, err)
		}
		check("NextDispatch", got)

		// Defaults: no script, no options.
		plain := newJob(alice, 5)
		if _, _, err := s.CreateJob(ctx, plain, "cam:2"); err != nil {
			t.Fatal(err)
		}
		if got, err = s.Job(ctx, plain.ID); err != nil {
			t.Fatal(err)
		}
		if got.Shot.HasMotion() || got.Shot.Static || len(got.Shot.Moves) != 0 || got.FPS != paimeng.DefaultFPS ||
			got.Resolution != 0 || got.Aspect != paimeng.AspectKeep || got.TailKey != "" {
			t.Fatalf("plain job %+v", got)
		}
		// The zero shot is stored as ''.
		if err := s.ExecTestSQL(ctx, "UPDATE jobs SET prompt = 'empty shot' WHERE id = ? AND shot = ''", plain.ID); err != nil {
			t.Fatal(err)
		}
		if got, err = s.Job(ctx, plain.ID); err != nil || got.Prompt != "empty shot" {
			t.Fatalf("zero shot not stored as '': %+v %v", got, err)
		}
		// A static shot is not the zero shot.
		still := newJob(alice, 5)
		still.Shot = paimeng.Shot{Static: true}
		if _, _, err := s.CreateJob(ctx, still, "cam:3"); err != nil {
			t.Fatal(err)
		}
		if got, err = s.Job(ctx, still.ID); err != nil || !got.Shot.Static {
			t.Fatalf("static job %+v %v", got, err)
		}

		// An unreadable script is an error, not a silent default move.
		if err := s.ExecTestSQL(ctx, "UPDATE jobs SET shot = ? WHERE id = ?", "{not json", plain.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Job(ctx, plain.ID); err == nil {
			t.Fatal("corrupt shot read without error")
		}
		if err := s.ExecTestSQL(ctx, "UPDATE jobs SET shot = '' WHERE id = ?", plain.ID); err != nil {
			t.Fatal(err)
		}
		mustAudit(t, s)
	})
}

// Jobs written before the camera columns existed read back with 24 fps,
// no script and no end frame.
func TestCameraColumnsDefaultForOlderJobs(t *testing.T) {
	for _, d := range []string{"sqlite3", "postgres"} {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s := credittest.Open(t, credittest.DSN(t, d), credits.Options{SignupCredits: 100})
			j := newJob(alice, 5)
			j.Shot = paimeng.Shot{Moves: []paimeng.Move{{Zoom: -5}}}
			j.FPS, j.Resolution, j.Aspect, j.TailKey = 30, 1080, paimeng.AspectTall, "jobs/y/tail"
			if _, _, err := s.CreateJob(ctx, j, "old:1"); err != nil {
				t.Fatal(err)
			}
			if err := s.MigrateDown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := s.Job(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Shot.Moves) != 0 || got.FPS != 24 || got.Resolution != 0 || got.Aspect != "" || got.TailKey != "" ||
				got.Prompt != j.Prompt {
				t.Fatalf("job after down and up %+v", got)
			}
		})
	}
}
