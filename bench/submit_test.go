package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/blob"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/internal/testenv"
	"github.com/paimeng/paimeng/media"
	"github.com/paimeng/paimeng/queue"
)

// Submit benchmarks run this many goroutines per CPU: the work is mostly
// waiting on PostgreSQL and Redis.
const submitParallelism = 4

// benchMembers is how many members the submit benchmark spreads its jobs
// over; their accounts exist before the clock starts.
const benchMembers = 64

const benchPrompt = "镜头缓慢推近，花瓣随风飘落 slow push-in, petals drifting"

// tinyPNG is the smallest image the limits accept: 64×64.
func tinyPNG(b *testing.B) []byte {
	b.Helper()
	img := image.NewRGBA(image.Rect(0, 0, paimeng.MinImageSide, paimeng.MinImageSide))
	for y := range paimeng.MinImageSide {
		for x := range paimeng.MinImageSide {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// benchRedis returns a flushed Redis database on PAIMENG_TEST_REDIS_URL.
func benchRedis(b *testing.B) asynq.RedisConnOpt {
	b.Helper()
	opt, err := asynq.ParseRedisURI(testenv.RedisURL(b, 9))
	if err != nil {
		b.Fatal(err)
	}
	return opt
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkSubmitPostgres is one /gen from request to waiting task: the
// Submitter validates the request, stores the image, holds the price and
// writes the job row on PostgreSQL and kicks the Dispatcher, whose loop
// (Dispatcher.Once on every kick, as in a front-end process) claims the
// job in fair-share order and enqueues its asynq task. The clock stops when
// every job's task waits in Redis.
func BenchmarkSubmitPostgres(b *testing.B) {
	ctx := context.Background()
	store, members := benchStore(b)
	ropt := benchRedis(b)
	client := asynq.NewClient(ropt)
	defer client.Close()
	inspector := asynq.NewInspector(ropt)
	defer inspector.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No per-member or per-lane limit: every pass hands over what is there.
	disp := queue.NewDispatcher(queue.DispatcherConfig{
		Store: store, Client: client, Inspector: inspector, MaxRunning: -1, Ahead: 1 << 30, Logger: log,
	})
	sub := benchSubmitter(b, store, disp.Kick)
	img := tinyPNG(b)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(runCtx) }()
	defer func() { stop(); <-done }()

	submitAll(b, sub, members, img)
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := inspector.GetQueueInfo(queue.QueueFast)
		if err == nil && info.Pending == b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d jobs submitted, fast queue %+v %v", b.N, info, err)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	reportRate(b)
}

// BenchmarkSubmitReservePostgres is the Submitter alone: validation, the
// image, the hold and the job row on PostgreSQL, without the dispatch.
func BenchmarkSubmitReservePostgres(b *testing.B) {
	store, members := benchStore(b)
	sub := benchSubmitter(b, store, nil)
	img := tinyPNG(b)
	submitAll(b, sub, members, img)
	b.StopTimer()
	reportRate(b)
}

// submitAll submits b.N requests from submitParallelism goroutines per
// CPU, spread over the members, with the clock running.
func submitAll(b *testing.B, sub *queue.Submitter, members []paimeng.Identity, img []byte) {
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(submitParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			req := &paimeng.Request{
				Identity:       members[n%benchMembers],
				IdempotencyKey: fmt.Sprintf("bench:%d", n),
				Image:          img,
				Prompt:         benchPrompt,
				Seed:           n,
			}
			if _, err := sub.Submit(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchStore opens a fresh PostgreSQL store with benchMembers members who
// signed up before the clock starts.
func benchStore(b *testing.B) (*credits.Store, []paimeng.Identity) {
	ctx := context.Background()
	store := credittest.Open(b, credittest.PostgresDSN(b), credits.Options{
		SignupCredits: 1 << 40, MaxQueued: 1 << 30, MaxConns: 4 * submitParallelism,
	})
	members := make([]paimeng.Identity, benchMembers)
	for i := range members {
		members[i] = paimeng.Identity{Platform: paimeng.PlatformWeb, UserID: fmt.Sprintf("m%d", i)}
		if _, err := store.Account(ctx, members[i]); err != nil {
			b.Fatal(err)
		}
	}
	return store, members
}

func benchSubmitter(b *testing.B, store *credits.Store, kick func()) *queue.Submitter {
	blobs, err := blob.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sub, err := queue.NewSubmitter(queue.SubmitterConfig{
		Store: store, Blobs: blobs, CheckImage: media.CheckImage, Kick: kick,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	return sub
}

// BenchmarkRawAsynqEnqueue enqueues gen:video tasks of the same size and
// options straight into asynq: the floor under BenchmarkSubmitPostgres.
func BenchmarkRawAsynqEnqueue(b *testing.B) {
	ctx := context.Background()
	client := asynq.NewClient(benchRedis(b))
	defer client.Close()
	var seq atomic.Int64
	b.SetParallelism(submitParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			id := fmt.Sprintf("r%09d", n) // as long as a job id
			p, err := json.Marshal(queue.GenPayload{
				JobID: id, ImageKey: "jobs/" + id + "/input", Prompt: benchPrompt,
				Seconds: 5, Seed: n, Engine: "camera", Mode: paimeng.ModeStd,
			})
			if err != nil {
				b.Error(err)
				return
			}
			t := asynq.NewTask(queue.TypeGenVideo, p, asynq.TaskID(id), asynq.Queue(queue.QueueFast),
				asynq.MaxRetry(queue.DefaultMaxRetry), asynq.Timeout(queue.DefaultTaskTimeout), asynq.Retention(queue.DefaultRetention))
			if _, err := client.EnqueueContext(ctx, t); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportRate(b)
}
