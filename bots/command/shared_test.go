package command

import (
	"testing"

	"github.com/paimeng/paimeng"
)

func TestIsImageFile(t *testing.T) {
	for _, c := range []struct {
		ct, name string
		want     bool
	}{
		{"image/jpeg", "x", true},
		{"image/PNG; charset=binary", "", true},
		{"image/webp", "a.gif", true},
		{"", "photo.JPG", true},
		{"application/octet-stream", "p.webp", true},
		{"image/gif", "a.gif", false},
		{"", "notes.txt", false},
		{"video/mp4", "clip.jpg", false},
	} {
		if got := IsImageFile(c.ct, c.name); got != c.want {
			t.Errorf("IsImageFile(%q, %q) = %v", c.ct, c.name, got)
		}
	}
}

func TestLikeText(t *testing.T) {
	lang := paimeng.LangEN
	for _, c := range []struct {
		added bool
		err   error
		want  string
	}{
		{true, nil, Message(lang, KeyLiked, "j1", int64(3))},
		{false, nil, Message(lang, KeyLikedBefore, "j1", int64(3))},
		{false, paimeng.Errorf(paimeng.EForbidden, "own"), Message(lang, KeyLikeOwn)},
		{false, paimeng.Errorf(paimeng.ENOTFOUND, "none"), Message(lang, KeyNoSuchJob, "j1")},
		{false, errInternal{}, Message(lang, KeyTryLater)},
	} {
		if got := LikeText(lang, "j1", c.added, 3, c.err); got != c.want {
			t.Errorf("LikeText(%v, %v) = %q, want %q", c.added, c.err, got, c.want)
		}
	}
	if ValidJobID("a b") || !ValidJobID("2b3srbztju") {
		t.Error("ValidJobID")
	}
}

type errInternal struct{}

func (errInternal) Error() string { return "database down" }
