package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/credits"
	"github.com/paimeng/paimeng/credits/credittest"
	"github.com/paimeng/paimeng/media"
	"github.com/paimeng/paimeng/queue"
)

// promptShot stands in for the prompt camera parser: "handheld" shakes
// the camera and "fade out" ends on black.
func promptShot(prompt string) paimeng.Shot {
	var s paimeng.Shot
	if strings.Contains(prompt, "handheld") {
		s.Shake = 0.7
	}
	if strings.Contains(prompt, "fade out") {
		s.Moves = []paimeng.Move{{Dolly: 2, FadeOut: true}}
	}
	return s
}

// blobCount counts the blobs named name under jobs/*/ in the harness's
// blob store.
func (h *harness) blobCount(name string) int {
	h.t.Helper()
	m, err := filepath.Glob(filepath.Join(h.blobs.Root(), "jobs", "*", name))
	if err != nil {
		h.t.Fatal(err)
	}
	return len(m)
}

func (h *harness) readBlob(key string) []byte {
	h.t.Helper()
	rc, err := h.blobs.Open(context.Background(), key)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func cameraControl(t *testing.T, s string) *paimeng.CameraControl {
	t.Helper()
	c, err := paimeng.ParseCameraControl(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bad camera controls, output options and end frames are refused before
// anything is charged or stored.
func TestCameraOptionsRefused(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 15}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{deleteBlobs: true, shot: promptShot})
		cases := []struct {
			code   string
			mutate func(r *paimeng.Request)
		}{
			{paimeng.EBadOption, func(r *paimeng.Request) { r.Camera = &paimeng.CameraControl{Type: "spin"} }},
			{paimeng.EBadOption, func(r *paimeng.Request) { r.Camera = &paimeng.CameraControl{Type: paimeng.CameraSimple} }},
			{paimeng.EBadOption, func(r *paimeng.Request) {
				r.Camera = &paimeng.CameraControl{Type: paimeng.CameraSimple, Config: &paimeng.CameraConfig{Zoom: 11}}
			}},
			{paimeng.EBadOption, func(r *paimeng.Request) {
				r.Camera = &paimeng.CameraControl{Type: paimeng.CameraSimple, Config: &paimeng.CameraConfig{Zoom: 3, Pan: 2}}
			}},
			{paimeng.EBadOption, func(r *paimeng.Request) {
				r.Camera = &paimeng.CameraControl{Type: paimeng.CameraDownBack, Config: &paimeng.CameraConfig{Roll: 1}}
			}},
			{paimeng.EBadOption, func(r *paimeng.Request) { r.FPS = 25 }},
			{paimeng.EBadOption, func(r *paimeng.Request) { r.FPS = -24 }},
			{paimeng.EBadOption, func(r *paimeng.Request) { r.Resolution = 480 }},
			{paimeng.EBadOption, func(r *paimeng.Request) { r.Aspect = "4:3" }},
			{paimeng.EImageFormat, func(r *paimeng.Request) { r.Tail = []byte("GIF89a not really") }},
			{paimeng.EImageTooSmall, func(r *paimeng.Request) { r.Tail = pngImage(t, 32, 32) }},
			{paimeng.EImageTooLarge, func(r *paimeng.Request) { r.Tail = make([]byte, paimeng.MaxImageBytes+1) }},
		}
		for i, c := range cases {
			r := request(t, "bob", fmt.Sprintf("web:bob:%d", i))
			r.Tail = pngImage(t, 96, 128)
			c.mutate(r)
			_, err := h.sub.Submit(ctx, r)
			if got := paimeng.ErrorCode(err); got != c.code {
				t.Errorf("case %d: got %q (%v), want %s", i, got, err, c.code)
			}
			if err := h.sub.Validate(r); paimeng.ErrorCode(err) != c.code {
				t.Errorf("case %d: Validate says %v", i, err)
			}
			if _, err := h.store.JobByIdempotencyKey(ctx, r.IdempotencyKey); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
				t.Errorf("case %d: a job was written", i)
			}
		}
		if got := h.balance("bob"); got != 15 {
			t.Fatalf("balance %d, want 15", got)
		}
		if n, m := h.blobCount("input"), h.blobCount("tail"); n != 0 || m != 0 {
			t.Fatalf("%d images and %d end frames stored for refused requests", n, m)
		}

		// A request the store refuses (short balance) leaves neither its
		// image nor its end frame behind.
		r := request(t, "bob", "web:bob:ok")
		r.Tail = pngImage(t, 96, 128)
		if _, err := h.sub.Submit(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.IdempotencyKey = "web:bob:short"
		if _, err := h.sub.Submit(ctx, r); paimeng.ErrorCode(err) != paimeng.EInsufficient {
			t.Fatalf("second job: %v", err)
		}
		if n, m := h.blobCount("input"), h.blobCount("tail"); n != 1 || m != 1 {
			t.Fatalf("%d images and %d end frames for one job", n, m)
		}
		h.audit()
	})
}

// The camera script comes from the prompt with Camera in place of its
// moves, or from Request.Shot as it is; it travels in the task payload.
func TestCameraShotChoice(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		ctx := context.Background()
		h := newHarness(t, store, setup{shot: promptShot, maxRunning: -1, ahead: 5})
		payload := func(id string) queue.GenPayload {
			t.Helper()
			info, err := h.inspector.GetTaskInfo(queue.QueueFast, id)
			if err != nil {
				t.Fatal(err)
			}
			var p queue.GenPayload
			if err := json.Unmarshal(info.Payload, &p); err != nil {
				t.Fatal(err)
			}
			return p
		}

		// Prompt only.
		r := request(t, "ann", "web:ann:1")
		r.Prompt = "handheld, fade out"
		j, err := h.sub.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := promptShot(r.Prompt); !reflect.DeepEqual(j.Shot, want) || j.FPS != 24 || j.TailKey != "" {
			t.Fatalf("prompt shot %+v fps %d tail %q", j.Shot, j.FPS, j.TailKey)
		}

		// Camera replaces the prompt's moves; shake and fades stay.
		r = request(t, "amy", "web:amy:2")
		r.Prompt, r.Camera = "handheld, fade out", cameraControl(t, "zoom:-5")
		cam, err := h.sub.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		want := paimeng.Shot{Shake: 0.7, Moves: []paimeng.Move{{Zoom: -5, FadeOut: true}}}
		if !reflect.DeepEqual(cam.Shot, want) {
			t.Fatalf("camera shot %+v, want %+v", cam.Shot, want)
		}

		// Request.Shot is used as it is: no prompt, no Camera.
		r = request(t, "abe", "web:abe:3")
		given := paimeng.Shot{Static: true, Moves: []paimeng.Move{{FadeIn: true}, {Orbit: 3, Ease: paimeng.EaseLinear}}}
		r.Prompt, r.Camera, r.Shot = "handheld, fade out", cameraControl(t, "down_back"), &given
		r.FPS, r.Resolution, r.Aspect, r.Tail = 30, 720, paimeng.AspectTall, pngImage(t, 96, 128)
		rerun, err := h.sub.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rerun.Shot, given) {
			t.Fatalf("rerun shot %+v, want %+v", rerun.Shot, given)
		}
		if got, err := store.Job(ctx, rerun.ID); err != nil || !reflect.DeepEqual(got.Shot, given) {
			t.Fatalf("stored rerun shot %+v %v", got, err)
		}

		h.once(3)
		for _, c := range []struct {
			job  *paimeng.Job
			want paimeng.Shot
		}{{j, promptShot("handheld, fade out")}, {cam, want}, {rerun, given}} {
			p := payload(c.job.ID)
			if p.Shot == nil || !reflect.DeepEqual(*p.Shot, c.want) {
				t.Fatalf("payload of %s: %+v", c.job.ID, p)
			}
		}
		if p := payload(j.ID); p.FPS != 24 || p.Resolution != 0 || p.Aspect != "" || p.TailKey != "" {
			t.Fatalf("payload without options %+v", p)
		}
		if p := payload(rerun.ID); p.FPS != 30 || p.Resolution != 720 || p.Aspect != paimeng.AspectTall || p.TailKey != "jobs/"+rerun.ID+"/tail" {
			t.Fatalf("payload with options %+v", p)
		}
	})
}

// Payloads written before camera scripts existed still decode, with no
// script and default output options.
func TestGenPayloadDecodesOlderTasks(t *testing.T) {
	var p queue.GenPayload
	old := `{"job_id":"abc","image_key":"jobs/abc/input","prompt":"push in","seconds":5,"seed":3,"engine":"camera","mode":"pro"}`
	if err := json.Unmarshal([]byte(old), &p); err != nil {
		t.Fatal(err)
	}
	if p.JobID != "abc" || p.Mode != paimeng.ModePro || p.Shot != nil || p.TailKey != "" || p.FPS != 0 || p.Resolution != 0 || p.Aspect != "" {
		t.Fatalf("payload %+v", p)
	}
	b, err := json.Marshal(queue.GenPayload{JobID: "abc"})
	if err != nil || bytes.Contains(b, []byte("shot")) || bytes.Contains(b, []byte("tail_key")) || bytes.Contains(b, []byte("fps")) {
		t.Fatalf("empty options written: %s %v", b, err)
	}
}

// A camera control, 30 fps, 540p, a square frame and an end frame reach
// the renderer and the finished video. Past the task payload, which
// TestCameraShotChoice checks on both databases, the database plays no
// part, so this full-size render runs on SQLite only.
func TestCameraReachesWorker(t *testing.T) {
	store := credittest.Open(t, credittest.DSN(t, "sqlite3"), credits.Options{SignupCredits: 100})
	ctx := context.Background()
	h := newHarness(t, store, setup{worker: true, dispatch: true, shot: promptShot})
	r := request(t, "ann", "web:ann:cam")
	r.Prompt = "handheld"
	r.Camera = cameraControl(t, "zoom:-5")
	r.FPS, r.Resolution, r.Aspect = 30, 540, paimeng.AspectSquare
	r.Tail = pngImage(t, 96, 128)
	j, err := h.sub.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	want := paimeng.Shot{Shake: 0.7, Moves: []paimeng.Move{{Zoom: -5}}}
	if !reflect.DeepEqual(j.Shot, want) || j.FPS != 30 || j.Resolution != 540 || j.Aspect != paimeng.AspectSquare ||
		j.TailKey != "jobs/"+j.ID+"/tail" {
		t.Fatalf("submitted job %+v", j)
	}
	if !bytes.Equal(h.readBlob(j.TailKey), r.Tail) {
		t.Fatal("end frame stored with other bytes")
	}
	// A 960×960 clip of 150 frames takes a while under the race detector.
	done := h.waitFor(j.ID, 4*time.Minute)
	if done.Status != paimeng.JobSucceeded {
		t.Fatalf("job %s: %s %s", done.Status, done.ErrorCode, done.ErrorDetail)
	}
	h.render.mu.Lock()
	in, ok := h.render.seen[j.ID]
	h.render.mu.Unlock()
	if !ok {
		t.Fatal("the renderer never saw the job")
	}
	if in.Shot == nil || !reflect.DeepEqual(*in.Shot, want) || in.FPS != 30 || in.Resolution != 540 ||
		in.Aspect != paimeng.AspectSquare || !bytes.Equal(in.Tail, r.Tail) || !bytes.Equal(in.Image, r.Image) {
		t.Fatalf("render input shot %+v fps %d res %d aspect %q tail %d bytes", in.Shot, in.FPS, in.Resolution, in.Aspect, len(in.Tail))
	}
	info, err := media.Probe(h.blobs.Path(done.VideoKey))
	if err != nil {
		t.Fatal(err)
	}
	if info.Frames != 150 || math.Abs(info.FPS-30) > 0.01 || info.Width != 960 || info.Height != 960 {
		t.Fatalf("video %+v, want 150 frames at 30 fps, 960×960", info)
	}
	if got := h.balance("ann"); got != 90 {
		t.Fatalf("balance %d", got)
	}
}

// A job whose end frame is gone fails as the member's missing image,
// without retries, and costs nothing.
func TestMissingTailFailsTheJob(t *testing.T) {
	credittest.ForEachDB(t, credits.Options{SignupCredits: 100}, func(t *testing.T, store *credits.Store) {
		h := newHarness(t, store, setup{worker: true})
		j := h.createJob("ann", "web:ann:gone", paimeng.LaneFast, func(j *paimeng.Job) {
			j.TailKey = "jobs/" + j.ID + "/tail" // never stored
		})
		h.once(1)
		done := h.wait(j.ID)
		if done.Status != paimeng.JobFailed || done.ErrorCode != paimeng.ENoImage {
			t.Fatalf("job %+v", done)
		}
		if c := h.render.calls.Load(); c != 0 {
			t.Fatalf("rendered %d times", c)
		}
		if got := h.balance("ann"); got != 100 {
			t.Fatalf("balance %d", got)
		}
	})
}
