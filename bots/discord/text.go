package discord

import (
	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// Keys of the texts only the Discord front end shows.
const (
	keyTailOption    = "tail_option"     // no args
	keyNotOwner      = "not_owner"       // no args
	keyVideoLink     = "video_link"      // url string
	keyVideoTooLarge = "video_too_large" // no args
	keyRerunLabel    = "rerun_label"     // no args
	keySeedLabel     = "seed_label"      // no args
	keyLikeLabel     = "like_label"      // no args
	keyButtonExpired = "button_expired"  // no args
)

// text returns the Discord text for key in lang, formatted with args.
func text(lang paimeng.Lang, key string, args ...any) string {
	var zh, en string
	switch key {
	case keyTailOption:
		zh, en = "结束帧图片请用 /gen 的“结束帧”（tail）选项上传。本次未扣除积分。",
			"Please attach the end frame with /gen's tail option. Nothing was charged."
	case keyNotOwner:
		zh, en = "只有这个作品的主人可以重新生成或换种子，本次未扣除积分。想要自己的视频？使用 /gen 上传一张图片。",
			"Only the creator of this video can rerun it or try a new seed; nothing was charged. Want your own? Use /gen with a picture."
	case keyVideoLink:
		zh, en = "视频太大，无法在这里直接发送，请在网页观看：%s", "The video is too large to attach here; watch it on the web: %s"
	case keyVideoTooLarge:
		zh, en = "视频太大，无法在这里发送。", "The video is too large to send here."
	case keyRerunLabel:
		zh, en = "重新生成", "Rerun"
	case keySeedLabel:
		zh, en = "换个种子", "New seed"
	case keyLikeLabel:
		zh, en = "赞", "Like"
	case keyButtonExpired:
		zh, en = "这个按钮已经失效了。", "This button no longer works."
	default:
		return key
	}
	return command.Pick(lang, zh, en, args...)
}
