package web

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paimeng/paimeng"
)

func TestWatchPage(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	page := func(path, auth string, hdr ...string) (int, string) {
		t.Helper()
		res := h.call("GET", path, auth, "", hdr...)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("%s: content type %q", path, ct)
		}
		return res.StatusCode, string(b)
	}

	// Waiting: a self-refreshing note.
	waiting := decode[jobView](t, h.submit(form{prompt: "镜头后拉"}, "Authorization", authAlice))
	if code, body := page("/v/"+waiting.ID, ""); code != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) || strings.Contains(body, "<video") {
		t.Fatalf("waiting page %d:\n%s", code, body)
	}

	// Done: the player, the prompt, the poster; English on request.
	id := finishedJob(t, h, []byte("clip"))
	code, body := page("/v/"+id, "")
	if code != http.StatusOK || !strings.Contains(body, `<video src="/media/`+id+`/video.mp4"`) || !strings.Contains(body, "推近") || strings.Contains(body, "refresh") {
		t.Fatalf("done page %d:\n%s", code, body)
	}
	if _, body := page("/v/"+id, "", "Accept-Language", "en-US"); !strings.Contains(body, "Download") {
		t.Fatalf("english page:\n%s", body)
	}

	// Private: only the owner sees it.
	h.be.update(id, func(j *paimeng.Job) { j.Private = true })
	if code, body := page("/v/"+id, ""); code != http.StatusNotFound || strings.Contains(body, "<video") {
		t.Fatalf("private page for a stranger %d", code)
	}
	if code, body := page("/v/"+id, authAlice); code != http.StatusOK || !strings.Contains(body, "<video") {
		t.Fatalf("private page for its owner %d", code)
	}

	// Failed: the reason, no player. Unknown: not found. Prompts are escaped.
	h.be.update(waiting.ID, func(j *paimeng.Job) {
		j.Status, j.ErrorCode, j.Prompt = paimeng.JobFailed, paimeng.EEngineFailed, "<script>x</script>"
	})
	if code, body := page("/v/"+waiting.ID, ""); code != http.StatusOK || strings.Contains(body, "<video") || strings.Contains(body, "<script>x") {
		t.Fatalf("failed page %d:\n%s", code, body)
	}
	if code, _ := page("/v/nosuchjob", ""); code != http.StatusNotFound {
		t.Fatalf("unknown job %d", code)
	}
}
