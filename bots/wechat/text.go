package wechat

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Texts only the WeChat front end shows. WeChat readers get Chinese.
const (
	helpText = `把一张图片拍成几秒钟的短视频 🎬

用法：
1. 发送一张图片；
2. %d 分钟内再发一句描述，说说镜头怎么动，例如：镜头缓慢推近

首尾帧：先发起始图，再发结束图，然后发描述并加上 --tail（或写“结束帧”“首尾帧”），例如：推近 --tail，视频从第一张过渡到第二张。公众号记住最近发的两张图片，第三张会替换最早的一张；描述里不加 --tail 时只用最新的一张。

镜头词：推近、后拉、左移、右移、晃动、不动、暗转，可以组合，例如“先推近再暗转”。
选项写在描述后面：--seconds 10（时长 5 或 10 秒）；--pro 专业模式（更精细，更贵）；--relax 慢速通道（更便宜，空闲时生成）；--seed 42（固定随机数）。
镜头控制：--camera zoom:-5，轴为 horizontal 左右移、vertical 上下移、pan 上下转、tilt 左右转、roll 旋转、zoom 变焦（负推近正拉远），数值 -10 到 10；或组合运镜 down_back、forward_up、right_turn_forward、left_turn_forward。
输出：--fps 24 或 30；--res 540p、720p 或 1080p；--aspect 16:9、9:16 或 1:1。

口令
余额：查看积分
签到：每日签到领积分
兑换 兑换码：兑换积分
价格：价格表
队列：我的任务和排队位置
取消 任务ID：取消排队中的任务，退回积分
排行：排行榜，例如“排行 赞 本月”
关联：获取关联码；关联 关联码：与其他平台的账号共用积分
结果：查看做好的视频
帮助：显示本帮助

每次生成按时长和模式扣积分，生成失败不扣费。`

	imageSavedText     = "收到图片，请在 %d 分钟内发送一句描述（镜头怎么动），我会把它拍成视频。"
	instructionsText   = "先发送一张图片，再发送一句描述（镜头怎么动），我就会把它拍成几秒钟的短视频，例如：镜头缓慢推近。发送“帮助”查看全部用法。"
	unsupportedText    = "暂时只能处理图片和文字。" + instructionsText
	workingText        = "收到，正在处理，稍后把结果发给你。"
	workingNextText    = "收到，正在处理。稍后给我发任意一条消息（例如“结果”）即可看到结果。"
	nextMessageText    = "\n视频做好后，给我发任意一条消息（例如“结果”）即可收到。"
	watchOnWebText     = "\n也可以在网页观看：%s"
	noResultsText      = "暂时没有新的结果。发送“队列”查看进行中的任务。"
	videoLinkText      = "🎬 任务 #%s 的视频做好了：%s"
	videoTooLarge      = "🎬 任务 #%s 的视频超过 10 MB，无法在微信里直接发送，请在网页观看：%s"
	videoTooLargeNoURL = "🎬 任务 #%s 的视频超过 10 MB，无法在微信里直接发送。"
	jobFailedText      = "❌ 任务 #%s：%s"
	moreResultsText    = "还有 %d 个视频，再给我发一条消息即可收到。"
	imageUsedText      = "这张图片已经拍过视频了（任务 #%s）。想再拍一条，请重新发送图片。"
)

// Texts of the end frame, in Chinese and English.
const (
	twoImagesText = "收到图片，最近两张图片已就绪。请在 %[1]d 分钟内发送一句描述：直接发送只用后一张；加上 --tail（或写“结束帧”），前一张作起始帧、后一张作结束帧，视频从前一张过渡到后一张。\n" +
		"Picture received; two are ready. Send a description within %[1]d minutes: on its own it animates the later picture; add --tail (or 结束帧) and the earlier one is the start frame, the later one the end frame."
	tailNeedsTwoText = "请先发送起始图和结束图两张图片，再发送描述并加上 --tail（或写“结束帧”）。本次未扣除积分。\n" +
		"Please send two pictures first, the start frame and then the end frame, then the description with --tail. Nothing was charged."
	tailKeptText = "已收到的那张图片仍然保留，作为起始图；再发送结束图即可。\n" +
		"The picture you sent is kept as the start frame; send the end frame next."
	tailResendText = "请重新发送起始图和结束图两张图片。\nPlease send both pictures again, the start frame first."
)

// minutes is d in whole minutes, at least 1.
func minutes(d float64) int {
	m := int(d + 0.5)
	return max(m, 1)
}

func (b *Bot) help() string { return fmt.Sprintf(helpText, minutes(b.imageTTL.Minutes())) }

// Passive text replies are limited to 2048 bytes; customer-service texts too.
const maxTextBytes = 2000

// clipBytes shortens s to at most n bytes of whole runes, ending in "…"
// when cut.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	cut := n - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// clipRunes shortens s to at most n runes, ending in "…" when cut.
func clipRunes(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// joinText joins the non-empty parts with blank lines between.
func joinText(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}
