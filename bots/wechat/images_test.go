package wechat

import (
	"slices"
	"testing"
	"time"
)

func msgIDs(memos []imageMemo) []int64 {
	var ids []int64
	for _, m := range memos {
		ids = append(ids, m.MsgID)
	}
	return ids
}

func TestAddImage(t *testing.T) {
	img := func(id, sent int64) imageMemo { return imageMemo{MsgID: id, Sent: sent, PicURL: "u"} }
	var memos []imageMemo
	memos = addImage(memos, img(1, 100))
	memos = addImage(memos, img(2, 101))
	if got := msgIDs(memos); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("two images: %v", got)
	}
	// A repeat of a message is not added again.
	if got := msgIDs(addImage(memos, img(2, 101))); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("repeat: %v", got)
	}
	// A third drops the oldest.
	if got := msgIDs(addImage(memos, img(3, 102))); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("third: %v", got)
	}
	// A late delivery of a message sent between the two goes between them,
	// and the oldest is dropped.
	if got := msgIDs(addImage(memos, img(4, 100))); !slices.Equal(got, []int64{4, 2}) {
		t.Fatalf("late delivery: %v", got)
	}
	// Sent in the same second: arrival order.
	if got := msgIDs(addImage(memos, img(5, 101))); !slices.Equal(got, []int64{2, 5}) {
		t.Fatalf("same second: %v", got)
	}
}

func TestDecodeAndLiveImages(t *testing.T) {
	b := &Bot{imageTTL: 10 * time.Minute}
	now := time.Now()
	single := `{"media_id":"m1","pic_url":"http://x/1","msg_id":24000000000000001,"at":"` + now.Add(-time.Minute).Format(time.RFC3339Nano) + `"}`
	if got := msgIDs(b.live(decodeImages(single), now)); !slices.Equal(got, []int64{24000000000000001}) {
		t.Fatalf("single object: %v", got)
	}
	for _, bad := range []string{"", "null", "{", "[1]", `"x"`} {
		if got := b.live(decodeImages(bad), now); len(got) != 0 {
			t.Fatalf("%q read as %v", bad, got)
		}
	}
	memos := []imageMemo{
		{MsgID: 1, PicURL: "a", At: now.Add(-11 * time.Minute)}, // expired
		{MsgID: 2, PicURL: "b", At: now.Add(-2 * time.Minute)},
		{MsgID: 2, PicURL: "b", At: now.Add(-time.Minute)}, // a repeat
		{MsgID: 3, At: now}, // no source
		{MsgID: 4, MediaID: "d", At: now},
	}
	if got := msgIDs(b.live(memos, now)); !slices.Equal(got, []int64{2, 4}) {
		t.Fatalf("live: %v", got)
	}
}
