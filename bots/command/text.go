package command

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

// Message keys for Message.
const (
	KeyHelp             = "help"             // no args
	KeyHint             = "hint"             // no args: an image arrived without /gen
	KeyBalance          = "balance"          // balance int64
	KeyQueued           = "queued"           // job id string, position int
	KeyQueuedNoPos      = "queued_nopos"     // job id string
	KeyStarted          = "started"          // job id string
	KeyQueuedPrice      = "queued_price"     // job id string, position int, price text string (see QueuedPriceText)
	KeyQueuedNoPosPrice = "queued_nopos_pr"  // job id string, price text string
	KeyStartedPrice     = "started_price"    // job id string, price text string
	KeyPriceCharge      = "price_charge"     // price int64: "本次 20 积分"
	KeyPriceFree        = "price_free"       // no args: "本次免费"
	KeyProgress         = "progress"         // job id string, stage string, bar string
	KeyDone             = "done"             // job id string
	KeyFailed           = "failed"           // job id string
	KeyCanceled         = "canceled"         // no args
	KeyCaption          = "caption"          // prompt string, seed int64, balance int64
	KeyCaptionNoCount   = "caption_nocount"  // prompt string, seed int64
	KeyDefaultPrompt    = "default_prompt"   // no args
	KeyStageRender      = "stage_render"     // no args
	KeyStageEncode      = "stage_encode"     // no args
	KeyStageUpload      = "stage_upload"     // no args
	KeyNegativeIgnored  = "negative_ignored" // no args: a note for the acknowledgement
	KeyTailNeedsReply   = "tail_needs_reply" // no args: --tail without a first picture replied to
	KeyCameraLine       = "camera_line"      // description string (see CameraLine)
)

// CaptionPromptRunes is how much of a prompt a done caption quotes.
const CaptionPromptRunes = 300

// Message returns the text for key in lang (Chinese unless lang is
// English), formatted with args. An unknown key is returned as is.
func Message(lang paimeng.Lang, key string, args ...any) string {
	zh, en := catalog(key)
	if zh == "" {
		return key
	}
	return Pick(lang, zh, en, args...)
}

// Pick returns zh or en for lang, formatted with args when there are any.
func Pick(lang paimeng.Lang, zh, en string, args ...any) string {
	s := zh
	if lang == paimeng.LangEN {
		s = en
	}
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s
}

func catalog(key string) (zh, en string) {
	switch key {
	case KeyHelp:
		return helpZH, helpEN
	case KeyHint:
		return "想把这张图变成视频？发送图片时在说明里写 /gen 加镜头描述，例如：/gen 镜头缓慢推近。发送 /help 查看用法。",
			"Want a video of this picture? Send the image with the caption /gen and a camera move, e.g. /gen slow push in. Send /help for more."
	case KeyBalance:
		return "你的积分余额：%d", "Your credit balance: %d"
	case KeyQueued:
		return "✅ 已收到，任务 #%s 正在排队，前面还有 %d 个（含本任务）。完成后会把视频发给你。",
			"✅ Got it. Job #%s is queued at position %d. The video will be sent here when it is ready."
	case KeyQueuedNoPos:
		return "✅ 已收到，任务 #%s 正在排队。完成后会把视频发给你。",
			"✅ Got it. Job #%s is queued. The video will be sent here when it is ready."
	case KeyStarted:
		return "✅ 已收到，任务 #%s 已开始生成。", "✅ Got it. Job #%s has started."
	case KeyQueuedPrice:
		return "✅ 已收到，任务 #%[1]s 正在排队（第 %[2]d 位），%[3]s。完成后会把视频发给你；排队期间发送 /cancel %[1]s 可取消并退回积分。",
			"✅ Got it. Job #%[1]s is queued at position %[2]d (%[3]s). The video will be sent here when it is ready; send /cancel %[1]s while it waits to cancel it and get the credits back."
	case KeyQueuedNoPosPrice:
		return "✅ 已收到，任务 #%[1]s 正在排队，%[2]s。完成后会把视频发给你；排队期间发送 /cancel %[1]s 可取消并退回积分。",
			"✅ Got it. Job #%[1]s is queued (%[2]s). The video will be sent here when it is ready; send /cancel %[1]s while it waits to cancel it and get the credits back."
	case KeyStartedPrice:
		return "✅ 已收到，任务 #%s 已开始生成，%s。", "✅ Got it. Job #%s has started (%s)."
	case KeyPriceCharge:
		return "本次 %d 积分", "%d credits"
	case KeyPriceFree:
		return "本次免费", "free"
	case KeyProgress:
		return "⏳ 任务 #%s %s中\n%s", "⏳ Job #%s %s\n%s"
	case KeyDone:
		return "✅ 任务 #%s 已完成。", "✅ Job #%s is done."
	case KeyFailed:
		return "❌ 任务 #%s 未能完成，本次未扣除积分。", "❌ Job #%s could not be finished; nothing was charged."
	case KeyCanceled:
		return "任务已取消，本次未扣除积分。", "The job was canceled; nothing was charged."
	case KeyCaption:
		return "🎬 %s\n种子：%d · 剩余积分：%d", "🎬 %s\nSeed: %d · Credits left: %d"
	case KeyCaptionNoCount:
		return "🎬 %s\n种子：%d", "🎬 %s\nSeed: %d"
	case KeyDefaultPrompt:
		return "（默认镜头）", "(default camera move)"
	case KeyStageRender:
		return "渲染", "rendering"
	case KeyStageEncode:
		return "编码", "encoding"
	case KeyStageUpload:
		return "上传", "uploading"
	case KeyNegativeIgnored:
		return "（反向描述暂不支持，已忽略。）", "(The negative prompt is not supported yet and was ignored.)"
	case KeyCameraLine:
		return "🎥 镜头：%s", "🎥 Camera: %s"
	case KeyTailNeedsReply:
		return "--tail 需要两张图片：先发送第一帧图片，再用结束帧图片回复它，并在说明里写 /gen --tail 加描述。本次未扣除积分。",
			"--tail needs two pictures: send the first frame, then reply to it with the end frame and the caption /gen --tail and a description. Nothing was charged."
	}
	return communityCatalog(key)
}

const helpZH = `把一张图片变成几秒钟的短视频 🎬

用法：发送一张图片，并在图片说明里写
/gen 镜头缓慢推近
也可以回复一张图片发送 /gen 加描述。

镜头词：推近、后拉、左移、右移、晃动、不动、暗转，可以组合，例如“先推近再暗转”。不写描述时使用默认镜头。
选项：--seconds 5 或 10（视频时长，默认 5）；--pro 专业模式（更精细，更贵）；--relax 慢速通道（更便宜，空闲时生成）；--seed 42（固定随机数，相同输入得到相同视频）；--engine 名称（选择生成引擎，/price 列出可用引擎和价格，默认第一个）。
镜头控制：--camera 轴:数值，数值 -10 到 10，例如 --camera zoom:-5。轴：horizontal 左右移（负左正右）、vertical 上下移（负下正上）、pan 上下转（负下正上）、tilt 左右转（负左正右）、roll 旋转（负逆时针正顺时针）、zoom 变焦（负推近正拉远）。也可以写组合运镜：down_back 下降后退、forward_up 前进上仰、right_turn_forward 右转前进、left_turn_forward 左转前进。写了 --camera 就不再读描述里的镜头词（晃动、暗转仍然有效）。
输出：--fps 24 或 30；--res 540p、720p 或 1080p；--aspect 16:9、9:16 或 1:1。
--tail 结束帧：用第二张图片回复第一张图片，说明写 /gen --tail（Discord 用 tail 选项），视频从第一张过渡到第二张。--negative 不想要的内容（暂不支持，会被忽略）。

积分
/balance 查看积分余额
/price 价格表
/daily 每日签到领积分
/redeem 兑换码：兑换积分
/link 关联另一个平台的账号（共用积分），/unlink 解除关联

任务与作品
/queue 我的任务和排队位置
/cancel 任务ID：取消排队中的任务，退回积分
/top 排行榜：/top 作品|积分|赞 周|月|总
/like 作品ID：点赞
/private 作品ID、/public 作品ID：作品墙上隐藏或公开
/help 显示本帮助

管理员：/ban、/unban、/grant

每次生成按时长和模式扣积分，生成失败不扣费。`

const helpEN = `Turn a picture into a short video clip 🎬

Usage: send an image with the caption
/gen slow push in
or reply to an image with /gen and a description.

Camera words: push in, pull back, pan left, pan right, shake, static, fade (Chinese works too: 推近, 后拉, 左移, 右移, 晃动, 不动, 暗转). Combine them, e.g. "push in then fade". Without a description a default move is used.
Options: --seconds 5 or 10 (clip length, default 5); --pro (finer, costs more); --relax (cheaper, runs when there is room); --seed 42 (fixes randomness: same input, same video); --engine NAME (picks the engine; /price lists the engines and their prices, the first is the default).
Camera control: --camera axis:value, value from -10 to 10, e.g. --camera zoom:-5. Axes: horizontal (− left, + right), vertical (− down, + up), pan (turn − down, + up), tilt (turn − left, + right), roll (− counterclockwise, + clockwise), zoom (− closer, + wider). Or a combined move: down_back, forward_up, right_turn_forward, left_turn_forward. --camera replaces the camera words of the description (shake and fades still apply).
Output: --fps 24 or 30; --res 540p, 720p or 1080p; --aspect 16:9, 9:16 or 1:1.
--tail: reply to the first picture with a second one captioned /gen --tail (on Discord, the tail option); the clip travels from the first to the second. --negative what to avoid (not supported yet; ignored).

Credits
/balance shows your credit balance
/price shows the prices
/daily daily check-in for free credits
/redeem CODE redeems a code
/link joins your account on another platform (one shared balance); /unlink undoes it

Jobs and videos
/queue your jobs and their places in the queue
/cancel ID cancels a queued job and refunds it
/top leaderboards: /top gen|spent|likes week|month|all
/like ID likes a video
/private ID, /public ID hide or show your video in the gallery
/help shows this help

Admins: /ban, /unban, /grant

Each video costs credits by length and mode; nothing is charged when generation fails.`

// ErrorText returns member-facing text for err in lang: one clear sentence
// per error code, never the raw error.
func ErrorText(lang paimeng.Lang, err error) string {
	return CodeText(lang, paimeng.ErrorCode(err))
}

// CodeText returns member-facing text for an error code (as stored in
// Job.ErrorCode). Unknown and internal codes get a generic apology.
func CodeText(lang paimeng.Lang, code string) string {
	zh, en := codeCatalog(code)
	if lang == paimeng.LangEN {
		return en
	}
	return zh
}

func codeCatalog(code string) (zh, en string) {
	switch code {
	case paimeng.ENoImage:
		return "请附上一张图片：发送图片时在说明里写 /gen，或回复一张图片发送 /gen。本次未扣除积分。",
			"Please include an image: send a picture with the caption /gen, or reply to a picture with /gen. Nothing was charged."
	case paimeng.EImageTooLarge:
		return fmt.Sprintf("图片太大了（最大 %d MB，%d 万像素），请压缩后再试。本次未扣除积分。", paimeng.MaxImageBytes>>20, paimeng.MaxImagePixels/10000),
			fmt.Sprintf("That image is too large (max %d MB and %d megapixels). Please send a smaller one. Nothing was charged.", paimeng.MaxImageBytes>>20, paimeng.MaxImagePixels/1_000_000)
	case paimeng.EImageTooSmall:
		return fmt.Sprintf("图片太小了，宽和高都至少需要 %d 像素。本次未扣除积分。", paimeng.MinImageSide),
			fmt.Sprintf("That image is too small; both sides must be at least %d pixels. Nothing was charged.", paimeng.MinImageSide)
	case paimeng.EImageFormat:
		return "无法读取这张图片，请发送 JPEG、PNG 或 WebP 格式的图片。本次未扣除积分。",
			"That image could not be read. Please send a JPEG, PNG or WebP picture. Nothing was charged."
	case paimeng.EPromptTooLong:
		return fmt.Sprintf("描述太长了，最多 %d 个字，请精简后再试。本次未扣除积分。", paimeng.MaxPromptRunes),
			fmt.Sprintf("The description is too long (max %d characters). Please shorten it. Nothing was charged.", paimeng.MaxPromptRunes)
	case paimeng.EBadOption:
		return "选项有误：--seconds 只能是 5 或 10，--mode 是 std 或 pro，--seed 是非负整数；--camera 写成 轴:数值（horizontal、vertical、pan、tilt、roll 或 zoom，-10 到 10，例如 zoom:-5）或 down_back、forward_up、right_turn_forward、left_turn_forward；--fps 是 24 或 30，--res 是 540p、720p 或 1080p，--aspect 是 16:9、9:16 或 1:1；--engine 后面写引擎名称（字母、数字、-、_、.）；--negative 后面要写内容；--pro、--relax、--fast、--tail 后面不带值；其他选项不认识。发送 /help 查看用法。本次未扣除积分。",
			"Bad option: --seconds must be 5 or 10, --mode std or pro, --seed a non-negative number; --camera is axis:value (horizontal, vertical, pan, tilt, roll or zoom, from -10 to 10, e.g. zoom:-5) or one of down_back, forward_up, right_turn_forward, left_turn_forward; --fps is 24 or 30, --res 540p, 720p or 1080p, --aspect 16:9, 9:16 or 1:1; --engine takes an engine name (letters, digits, -, _, .); --negative needs words after it; --pro, --relax, --fast and --tail take no value; other options are not known. Send /help for usage. Nothing was charged."
	case paimeng.EInsufficient:
		return "积分不足，无法生成这个视频。发送 /balance 查看余额。本次未扣除积分。",
			"Not enough credits for this video. Send /balance to see your balance. Nothing was charged."
	case paimeng.ETooManyJobs:
		return "你排队中的任务已经到上限了。发送 /queue 查看，等它们完成或用 /cancel 任务ID 取消一个后再发。本次未扣除积分。",
			"You already have as many jobs waiting as allowed. Send /queue to see them; wait for one to finish or cancel one with /cancel ID, then try again. Nothing was charged."
	case paimeng.EEngineFailed:
		return "视频生成失败了，请换一张图片或稍后再试。本次未扣除积分。",
			"The video could not be made. Please try another image or try again later. Nothing was charged."
	case paimeng.EJobTimeout:
		return "生成超时了，请稍后再试。本次未扣除积分。",
			"The video took too long to make. Please try again later. Nothing was charged."
	case paimeng.EUnknownEngine:
		return "所选的生成引擎不可用，请不带引擎选项重试。本次未扣除积分。",
			"The chosen engine is not available. Please try again without choosing one. Nothing was charged."
	case paimeng.EBanned:
		return "你的账号已被封禁，不能使用这个功能。如有疑问请联系管理员。本次未扣除积分。",
			"Your account is banned and cannot do this. Please contact an admin if you think this is a mistake. Nothing was charged."
	case paimeng.EPromptBlocked:
		return "描述里有不允许的内容，请修改后再试。本次未扣除积分。",
			"The description contains words that are not allowed. Please change it and try again. Nothing was charged."
	case paimeng.ERateLimited:
		return "发送得太快了，请稍等一分钟再试。本次未扣除积分。",
			"You are sending too fast. Please wait a minute and try again. Nothing was charged."
	case paimeng.EAlreadyClaimed:
		return "今天已经签到过了，明天再来吧。发送 /balance 查看余额。",
			"You have already checked in today. Come back tomorrow; send /balance to see your balance."
	case paimeng.ECodeInvalid:
		return "没有这个码，请检查是否输错后重试。",
			"That code does not exist. Please check it for typos and try again."
	case paimeng.ECodeUsed:
		return "这个码已经用过了，每个码只能用一次。如果是关联码，请在原平台重新发送 /link 获取新码。",
			"That code has already been used; each code works once. For a link code, send /link on your other platform for a new one."
	case paimeng.ECodeExpired:
		return "这个码已经过期了。关联码可以在原平台重新发送 /link 获取新码。",
			"That code has expired. For a link code, send /link on your other platform to get a new one."
	case paimeng.EAlreadyLinked:
		return "这两个账号已经关联在一起了，无需再关联。",
			"These accounts are already linked; nothing to do."
	case paimeng.ENotLinked:
		return "这个账号没有与其他平台关联，无需解除。",
			"This account is not linked to another platform; nothing to undo."
	case paimeng.ENotCancelable:
		return "这个任务已经开始或已经结束，不能再取消了。发送 /queue 查看你的任务。",
			"That job has already started or finished and can no longer be canceled. Send /queue to see your jobs."
	case paimeng.EForbidden:
		return "只有管理员或作品的主人可以这样做。",
			"Only an admin or the owner can do that."
	case paimeng.EUNAUTH:
		return "暂时无法为你处理这个请求。本次未扣除积分。",
			"This request cannot be handled for you right now. Nothing was charged."
	}
	// EINTERNAL, EINVALID, ENOTFOUND, ECONFLICT and anything unknown.
	return "出了点问题，请稍后再试。本次未扣除积分。",
		"Something went wrong on our side. Please try again later. Nothing was charged."
}

// QueuedText is the acknowledgement of a new job at queue position pos
// (0: already started; negative: position unknown).
func QueuedText(lang paimeng.Lang, jobID string, pos int) string {
	switch {
	case pos > 0:
		return Message(lang, KeyQueued, jobID, pos)
	case pos == 0:
		return Message(lang, KeyStarted, jobID)
	}
	return Message(lang, KeyQueuedNoPos, jobID)
}

// QueuedPriceText is QueuedText with the price of the job: "✅ 已收到，任务
// #abc 正在排队（第 2 位），本次 20 积分。…". A price of 0 reads as free.
func QueuedPriceText(lang paimeng.Lang, jobID string, pos int, price int64) string {
	charge := Message(lang, KeyPriceFree)
	if price > 0 {
		charge = Message(lang, KeyPriceCharge, price)
	}
	switch {
	case pos > 0:
		return Message(lang, KeyQueuedPrice, jobID, pos, charge)
	case pos == 0:
		return Message(lang, KeyStartedPrice, jobID, charge)
	}
	return Message(lang, KeyQueuedNoPosPrice, jobID, charge)
}

// ProgressBar renders a fraction in [0, 1] as cells and a percentage, e.g.
// "▓▓▓▓░░░░░░ 40%".
func ProgressBar(fraction float64, width int) string {
	if width <= 0 {
		width = 10
	}
	if !(fraction >= 0) { // also NaN
		fraction = 0
	}
	if fraction > 1 {
		fraction = 1
	}
	full := int(fraction * float64(width))
	return strings.Repeat("▓", full) + strings.Repeat("░", width-full) + fmt.Sprintf(" %d%%", int(fraction*100))
}

// ProgressText is the status line of a running job.
func ProgressText(lang paimeng.Lang, jobID string, p paimeng.Progress) string {
	stage := KeyStageRender
	switch p.Stage {
	case "encode":
		stage = KeyStageEncode
	case "upload":
		stage = KeyStageUpload
	}
	return Message(lang, KeyProgress, jobID, Message(lang, stage), ProgressBar(p.Fraction(), 10))
}

// DoneCaption is the caption of a delivered video: the prompt (shortened to
// CaptionPromptRunes), the seed and, when balance is not negative, the
// credits left.
func DoneCaption(lang paimeng.Lang, prompt string, seed, balance int64) string {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" {
		prompt = Message(lang, KeyDefaultPrompt)
	} else if utf8.RuneCountInString(prompt) > CaptionPromptRunes {
		prompt = string([]rune(prompt)[:CaptionPromptRunes-1]) + "…"
	}
	if balance < 0 {
		return Message(lang, KeyCaptionNoCount, prompt, seed)
	}
	return Message(lang, KeyCaption, prompt, seed, balance)
}

// NegativeNote is the note for an acknowledgement when the request had a
// negative prompt (accepted and ignored by the camera engine), or "".
func NegativeNote(lang paimeng.Lang, negative string) string {
	if strings.TrimSpace(negative) == "" {
		return ""
	}
	return Message(lang, KeyNegativeIgnored)
}

// CameraLine is the line of an acknowledgement that says how the job's
// camera will move ("🎥 镜头：变焦推近"), or "" when the job asked for no
// move, fade or locked camera of its own and gets the engine's default.
func CameraLine(lang paimeng.Lang, s paimeng.Shot) string {
	if !s.Static && !s.HasMotion() && !hasFade(s) {
		return ""
	}
	return Message(lang, KeyCameraLine, DescribeShot(lang, s))
}

func hasFade(s paimeng.Shot) bool {
	for _, m := range s.Moves {
		if m.FadeIn || m.FadeOut {
			return true
		}
	}
	return false
}

// AckNotes joins an acknowledgement and its extra lines (the camera line,
// notes), leaving out empty ones.
func AckNotes(ack string, lines ...string) string {
	for _, l := range lines {
		if l != "" {
			ack += "\n" + l
		}
	}
	return ack
}
