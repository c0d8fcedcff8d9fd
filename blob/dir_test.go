package blob

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
)

func TestDir(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "jobs/abc/video.mp4", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Open(ctx, "jobs/abc/video.mp4")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	if _, err := d.Open(ctx, "jobs/none"); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
		t.Fatalf("missing blob: %v", err)
	}
	for _, bad := range []string{"../x", "/abs", "a/../../b", "", "a\\b"} {
		if err := d.Put(ctx, bad, strings.NewReader("x")); paimeng.ErrorCode(err) != paimeng.EINVALID {
			t.Errorf("key %q accepted: %v", bad, err)
		}
	}
	if d.Path("jobs/abc/video.mp4") == "" {
		t.Fatal("no path")
	}
	if err := d.Delete(ctx, "jobs/abc/video.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, "jobs/abc/video.mp4"); paimeng.ErrorCode(err) != paimeng.ENOTFOUND {
		t.Fatalf("deleted blob still opens: %v", err)
	}
	if err := d.Delete(ctx, "jobs/abc/video.mp4"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := d.Delete(ctx, "../x"); paimeng.ErrorCode(err) != paimeng.EINVALID {
		t.Fatalf("bad key deleted: %v", err)
	}
}
