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

镜头词：推近、后拉、左移、右移、晃动、不动、暗转，可以组合，例如“先推近再暗转”。
选项写在描述后面：--seconds 10（时长 5 或 10 秒）；--pro 专业模式（更精细，更贵）；--relax 慢速通道（更便宜，空闲时生成）；--seed 42（固定随机数）。
镜头控制：--camera zoom:-5，轴为 horizontal 左右移、vertical 上下移、pan 上下转、tilt 左右转、roll 旋转、zoom 变焦（负推近正拉远），数值 -10 到 10；或组合运镜 down_back、forward_up、right_turn_forward、left_turn_forward。
输出：--fps 24 或 30；--res 540p、720p 或 1080p；--aspect 16:9、9:16 或 1:1。公众号一次只拍一张图片，暂不支持结束帧（--tail）。

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

	imageSavedText      = "收到图片，请在 %d 分钟内发送一句描述（镜头怎么动），我会把它拍成视频。"
	instructionsText    = "先发送一张图片，再发送一句描述（镜头怎么动），我就会把它拍成几秒钟的短视频，例如：镜头缓慢推近。发送“帮助”查看全部用法。"
	unsupportedText     = "暂时只能处理图片和文字。" + instructionsText
	workingText         = "收到，正在处理，稍后把结果发给你。"
	workingNextText     = "收到，正在处理。稍后给我发任意一条消息（例如“结果”）即可看到结果。"
	nextMessageText     = "\n视频做好后，给我发任意一条消息（例如“结果”）即可收到。"
	watchOnWebText      = "\n也可以在网页观看：%s"
	imageUsedText       = "这张图片已经拍过视频了（任务 #%s）。想再拍一条，请重新发送图片。"
	noResultsText       = "暂时没有新的结果。发送“队列”查看进行中的任务。"
	videoLinkText       = "🎬 任务 #%s 的视频做好了：%s"
	videoTooLarge       = "🎬 任务 #%s 的视频超过 10 MB，无法在微信里直接发送，请在网页观看：%s"
	videoTooLargeNoURL  = "🎬 任务 #%s 的视频超过 10 MB，无法在微信里直接发送。"
	jobFailedText       = "❌ 任务 #%s：%s"
	moreResultsText     = "还有 %d 个视频，再给我发一条消息即可收到。"
	tailUnsupportedText = "公众号暂不支持结束帧（--tail），一张图片拍一条视频。去掉 --tail 重新发送描述即可。本次未扣除积分。"
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
