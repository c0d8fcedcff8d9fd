package command

// Message keys for the replies of Handler.
const (
	KeyBannedNote      = "banned_note"      // reason string
	KeyBannedNoReason  = "banned_noreason"  // no args
	KeyPriceHeader     = "price_header"     // no args
	KeyPriceEngine     = "price_engine"     // engine string
	KeyPriceRow        = "price_row"        // mode string, seconds int, fast string, relax string
	KeyPriceFooter     = "price_footer"     // no args
	KeyPriceOne        = "price_one"        // mode string, seconds int, lane string, price string
	KeyCredits         = "credits"          // amount int64: "20 积分"
	KeyFree            = "free"             // no args
	KeyModeStd         = "mode_std"         // no args
	KeyModePro         = "mode_pro"         // no args
	KeyLaneFast        = "lane_fast"        // no args
	KeyLaneRelax       = "lane_relax"       // no args
	KeyDaily           = "daily"            // amount int64, balance int64
	KeyRedeemed        = "redeemed"         // amount int64, balance int64
	KeyLinkCode        = "link_code"        // code string, minutes int, expiry string
	KeyPrivateOnly     = "private_only"     // no args: a code must not be shown or sent in a group
	KeyLinked          = "linked"           // balance int64
	KeyUnlinked        = "unlinked"         // balance int64
	KeyQueueEmpty      = "queue_empty"      // no args
	KeyQueueHeader     = "queue_header"     // no args
	KeyQueueQueued     = "queue_queued"     // job id string, position int, details string
	KeyQueueWaiting    = "queue_waiting"    // job id string, details string
	KeyQueueRunning    = "queue_running"    // job id string, details string
	KeyQueueDetails    = "queue_details"    // mode string, seconds int, lane string
	KeyQueueFooter     = "queue_footer"     // no args
	KeyCanceledRefund  = "canceled_refund"  // job id string, credits int64
	KeyCanceledJob     = "canceled_job"     // job id string
	KeyTopTitle        = "top_title"        // period string, board string
	KeyTopRow          = "top_row"          // place string, name string, score int64, unit string, platforms string
	KeyTopEmpty        = "top_empty"        // no args
	KeyTopFooter       = "top_footer"       // no args
	KeyTopGallery      = "top_gallery"      // url string
	KeyPrivateDone     = "private_done"     // job id string
	KeyPublicDone      = "public_done"      // job id string
	KeyLiked           = "liked"            // job id string, likes int64
	KeyLikedBefore     = "liked_before"     // job id string, likes int64
	KeyLikeOwn         = "like_own"         // no args
	KeyBanDone         = "ban_done"         // identity string
	KeyBanDoneReason   = "ban_done_reason"  // identity string, reason string
	KeyUnbanDone       = "unban_done"       // identity string
	KeyGrantDone       = "grant_done"       // identity string, amount int64, balance int64
	KeyNoSuchJob       = "no_such_job"      // job id string
	KeyNoSuchMember    = "no_such_member"   // identity string
	KeyTryLater        = "try_later"        // no args
	KeyUsagePrefix     = "usage_"           // + command name: usage of that command
	keyPeriodPrefix    = "period_"          // + period
	keyBoardPrefix     = "board_"           // + board
	keyUnitPrefix      = "unit_"            // + board
	keyPlatformPrefix  = "platform_"        // + platform
	keyPlatformsFormat = "platforms_format" // list string
	keyListSep         = "list_sep"         // no args
)

func communityCatalog(key string) (zh, en string) {
	switch key {
	case KeyBannedNote:
		return "（已被封禁：%s）", " (banned: %s)"
	case KeyBannedNoReason:
		return "（已被封禁）", " (banned)"

	case KeyPriceHeader:
		return "💰 价格（每条视频，积分）", "💰 Prices (credits per video)"
	case KeyPriceEngine:
		return "【%s】", "[%s]"
	case KeyPriceRow:
		return "%s %d 秒：快速 %s · 慢速 %s", "%s %d s: fast %s · relax %s"
	case KeyPriceFooter:
		return "查询单项：/price 专业 10 慢速（或 /price --mode pro --seconds 10 --relax）。慢速通道更便宜，在空闲时生成。",
			"One price: /price pro 10 relax (or /price --mode pro --seconds 10 --relax). The relax lane costs less and runs when there is room."
	case KeyPriceOne:
		return "%s %d 秒 · %s：%s", "%s %d s · %s: %s"
	case KeyCredits:
		return "%d 积分", "%d credits"
	case KeyFree:
		return "免费", "free"
	case KeyModeStd:
		return "标准", "std"
	case KeyModePro:
		return "专业", "pro"
	case KeyLaneFast:
		return "快速", "fast"
	case KeyLaneRelax:
		return "慢速", "relax"

	case KeyDaily:
		return "✅ 签到成功，获得 %d 积分，当前余额 %d。", "✅ Checked in: +%d credits. Your balance: %d."
	case KeyRedeemed:
		return "🎁 兑换成功，获得 %d 积分，当前余额 %d。", "🎁 Code redeemed: +%d credits. Your balance: %d."
	case KeyPrivateOnly:
		return "为了不让群里的其他人看到你的码，请私聊机器人发送这个命令。",
			"So that nobody else in the group sees your code, send this command to the bot in a private chat."
	case KeyLinkCode:
		return "🔗 关联码：%[1]s\n在另一个平台发送 /link %[1]s，%[2]d 分钟内有效（%[3]s 前）。关联后各平台共用一个积分账户。",
			"🔗 Link code: %[1]s\nOn your other platform send /link %[1]s within %[2]d minutes (before %[3]s). Linked platforms share one credit balance."
	case KeyLinked:
		return "🔗 关联成功，各平台现在共用一个账户，余额 %d。", "🔗 Linked. Your platforms now share one account; balance: %d."
	case KeyUnlinked:
		return "已解除关联，这个账号现在有自己独立的账户，余额 %d。", "Unlinked. This account has a wallet of its own again; balance: %d."

	case KeyQueueEmpty:
		return "你现在没有排队或生成中的任务。", "You have no queued or running jobs."
	case KeyQueueHeader:
		return "📋 你的任务：", "📋 Your jobs:"
	case KeyQueueQueued:
		return "#%s 排队中，第 %d 位 · %s", "#%s queued, position %d · %s"
	case KeyQueueWaiting:
		return "#%s 排队中 · %s", "#%s queued · %s"
	case KeyQueueRunning:
		return "#%s 生成中 · %s", "#%s running · %s"
	case KeyQueueDetails:
		return "%s %d 秒 · %s", "%s %d s · %s"
	case KeyQueueFooter:
		return "发送 /cancel 任务ID 可取消排队中的任务并退回积分。", "Send /cancel ID to cancel a queued job and get its credits back."
	case KeyCanceledRefund:
		return "🛑 任务 #%s 已取消，%d 积分已退回。", "🛑 Job #%s is canceled; %d credits were refunded."
	case KeyCanceledJob:
		return "🛑 任务 #%s 已取消。", "🛑 Job #%s is canceled."

	case KeyTopTitle:
		return "🏆 %s%s榜", "🏆 %[2]s · %[1]s"
	case KeyTopRow:
		return "%s %s · %d %s%s", "%s %s · %d %s%s"
	case KeyTopEmpty:
		return "榜单上还没有人，快来生成第一个作品吧！", "Nobody is on this board yet. Be the first!"
	case KeyTopFooter:
		return "其他榜单：/top 作品|积分|赞 周|月|总", "Other boards: /top gen|spent|likes week|month|all"
	case KeyTopGallery:
		return "作品墙：%s", "Gallery: %s"
	case keyPeriodPrefix + "week":
		return "本周", "this week"
	case keyPeriodPrefix + "month":
		return "本月", "this month"
	case keyPeriodPrefix + "all":
		return "总", "all time"
	case keyBoardPrefix + "generations":
		return "作品", "Most videos"
	case keyBoardPrefix + "spent":
		return "积分", "Most credits spent"
	case keyBoardPrefix + "likes":
		return "点赞", "Most likes"
	case keyUnitPrefix + "generations":
		return "个作品", "videos"
	case keyUnitPrefix + "spent":
		return "积分", "credits"
	case keyUnitPrefix + "likes":
		return "个赞", "likes"
	case keyPlatformPrefix + "telegram":
		return "Telegram", "Telegram"
	case keyPlatformPrefix + "discord":
		return "Discord", "Discord"
	case keyPlatformPrefix + "wechat":
		return "微信", "WeChat"
	case keyPlatformPrefix + "web":
		return "网页", "Web"
	case keyPlatformsFormat:
		return "（%s）", " (%s)"
	case keyListSep:
		return "、", ", "

	case KeyPrivateDone:
		return "🔒 作品 #%s 已设为私密，不会出现在作品墙上。", "🔒 Video #%s is private now and will not appear in the gallery."
	case KeyPublicDone:
		return "🌐 作品 #%s 已公开，可以出现在作品墙上。", "🌐 Video #%s is public and can appear in the gallery."
	case KeyLiked:
		return "❤️ 已点赞作品 #%s，共 %d 个赞。", "❤️ You liked video #%s; it has %d likes."
	case KeyLikedBefore:
		return "你已经赞过作品 #%s 了，共 %d 个赞。", "You already liked video #%s; it has %d likes."
	case KeyLikeOwn:
		return "不能给自己的作品点赞哦。", "You cannot like your own video."

	case KeyBanDone:
		return "🚫 已封禁 %s。", "🚫 %s is banned."
	case KeyBanDoneReason:
		return "🚫 已封禁 %s，原因：%s。", "🚫 %s is banned (reason: %s)."
	case KeyUnbanDone:
		return "✅ 已解封 %s。", "✅ %s is no longer banned."
	case KeyGrantDone:
		return "✅ 已给 %s 发放 %d 积分，对方余额 %d。", "✅ Granted %[2]d credits to %[1]s; their balance: %[3]d."

	case KeyNoSuchJob:
		return "找不到任务或作品 #%s，请检查编号。发送 /queue 查看你的任务。", "There is no job or video #%s. Please check the ID; send /queue to see your jobs."
	case KeyNoSuchMember:
		return "找不到用户 %s。", "There is no member %s."
	case KeyTryLater:
		return "出了点问题，请稍后再试。", "Something went wrong on our side. Please try again later."

	case KeyUsagePrefix + Redeem:
		return "用法：/redeem 兑换码", "Usage: /redeem CODE"
	case KeyUsagePrefix + Link:
		return "用法：发送 /link 获取关联码，再在另一个平台发送 /link 关联码。", "Usage: send /link for a code, then /link CODE on your other platform."
	case KeyUsagePrefix + Cancel:
		return "用法：/cancel 任务ID（发送 /queue 查看你的任务）", "Usage: /cancel JOB_ID (send /queue to see your jobs)"
	case KeyUsagePrefix + Private:
		return "用法：/private 作品ID", "Usage: /private VIDEO_ID"
	case KeyUsagePrefix + Public:
		return "用法：/public 作品ID", "Usage: /public VIDEO_ID"
	case KeyUsagePrefix + Like:
		return "用法：/like 作品ID", "Usage: /like VIDEO_ID"
	case KeyUsagePrefix + Top:
		return "用法：/top [作品|积分|赞] [周|月|总]，例如 /top 赞 月", "Usage: /top [gen|spent|likes] [week|month|all], e.g. /top likes month"
	case KeyUsagePrefix + Price:
		return "用法：/price 查看价格表；/price 专业 10 慢速 或 /price --mode pro --seconds 10 --relax 查询单项。",
			"Usage: /price for the table; /price pro 10 relax or /price --mode pro --seconds 10 --relax for one price."
	case KeyUsagePrefix + Ban:
		return "用法：/ban 平台:用户ID [原因]，例如 /ban telegram:123 刷屏", "Usage: /ban PLATFORM:USER [reason], e.g. /ban telegram:123 spam"
	case KeyUsagePrefix + Unban:
		return "用法：/unban 平台:用户ID，例如 /unban telegram:123", "Usage: /unban PLATFORM:USER, e.g. /unban telegram:123"
	case KeyUsagePrefix + Grant:
		return "用法：/grant 平台:用户ID 积分 [原因]，例如 /grant telegram:123 50 活动奖励", "Usage: /grant PLATFORM:USER CREDITS [reason], e.g. /grant telegram:123 50 contest prize"
	}
	return "", ""
}
