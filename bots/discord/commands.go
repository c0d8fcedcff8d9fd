package discord

import (
	"github.com/bwmarrin/discordgo"

	"github.com/paimeng/paimeng/bots/command"
)

// Option names of the slash commands (the canonical names Discord sends
// back, whatever the member's language).
const (
	optImage    = "image"
	optPrompt   = "prompt"
	optSeconds  = "seconds"
	optMode     = "mode"
	optRelax    = "relax"
	optSeed     = "seed"
	optCamera   = "camera"
	optNegative = "negative"
	optTail     = "tail"
	optFPS      = "fps"
	optRes      = "resolution"
	optAspect   = "aspect"
	optEngine   = "engine"
	optCode     = "code"
	optID       = "id"
	optBoard    = "board"
	optPeriod   = "period"
)

// words is one text in Chinese and English.
type words struct{ zh, en string }

func (w words) localized() map[discordgo.Locale]string {
	return map[discordgo.Locale]string{discordgo.ChineseCN: w.zh, discordgo.EnglishUS: w.en}
}

func (w words) localizedPtr() *map[discordgo.Locale]string {
	m := w.localized()
	return &m
}

// slash is a chat input command: canonical name, localized names and
// descriptions, options.
func slash(name string, local, desc words, opts ...*discordgo.ApplicationCommandOption) *discordgo.ApplicationCommand {
	return &discordgo.ApplicationCommand{
		Type:                     discordgo.ChatApplicationCommand,
		Name:                     name,
		NameLocalizations:        local.localizedPtr(),
		Description:              desc.en,
		DescriptionLocalizations: desc.localizedPtr(),
		Options:                  opts,
	}
}

func option(typ discordgo.ApplicationCommandOptionType, name string, local, desc words, required bool) *discordgo.ApplicationCommandOption {
	return &discordgo.ApplicationCommandOption{
		Type:                     typ,
		Name:                     name,
		NameLocalizations:        local.localized(),
		Description:              desc.en,
		DescriptionLocalizations: desc.localized(),
		Required:                 required,
	}
}

func choice(value any, name words) *discordgo.ApplicationCommandOptionChoice {
	return &discordgo.ApplicationCommandOptionChoice{Name: name.en, NameLocalizations: name.localized(), Value: value}
}

// Commands returns the application commands the bot registers, each with
// Chinese (zh-CN) and English (en-US) names and descriptions.
func Commands() []*discordgo.ApplicationCommand {
	zero := 0.0
	maxSeed := float64(1<<53 - 1)

	seconds := option(discordgo.ApplicationCommandOptionInteger, optSeconds, words{"时长", "seconds"}, words{"视频时长（秒），默认 5", "Clip length in seconds (default 5)"}, false)
	seconds.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice(5, words{"5 秒", "5 seconds"}),
		choice(10, words{"10 秒", "10 seconds"}),
	}
	mode := option(discordgo.ApplicationCommandOptionString, optMode, words{"模式", "mode"}, words{"标准或专业（更精细，更贵）", "Standard, or pro (finer, costs more)"}, false)
	mode.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice("std", words{"标准", "std"}),
		choice("pro", words{"专业", "pro"}),
	}
	seed := option(discordgo.ApplicationCommandOptionInteger, optSeed, words{"种子", "seed"}, words{"固定随机数：相同输入得到相同视频", "Fixes randomness: same input, same video"}, false)
	seed.MinValue, seed.MaxValue = &zero, maxSeed
	prompt := option(discordgo.ApplicationCommandOptionString, optPrompt, words{"描述", "prompt"}, words{"镜头描述，例如：镜头缓慢推近", "Camera move, e.g. slow push in"}, false)
	prompt.MaxLength = 2500
	camera := option(discordgo.ApplicationCommandOptionString, optCamera, words{"镜头", "camera"}, words{"zoom:-5 这样的镜头控制（轴 -10 到 10）、down_back 等组合运镜，或镜头词", "A camera control like zoom:-5 (axis -10 to 10), a move like down_back, or camera words"}, false)
	camera.MaxLength = 200
	negative := option(discordgo.ApplicationCommandOptionString, optNegative, words{"反向描述", "negative"}, words{"不想要的内容（暂不支持，会被忽略）", "What to avoid (not supported yet; ignored)"}, false)
	negative.MaxLength = 500
	tail := option(discordgo.ApplicationCommandOptionAttachment, optTail, words{"结束帧", "tail"}, words{"结束帧图片：视频从第一张图过渡到这张", "End frame: the clip travels from the image to this one"}, false)
	fps := option(discordgo.ApplicationCommandOptionInteger, optFPS, words{"帧率", "fps"}, words{"每秒帧数，默认 24", "Frames per second (default 24)"}, false)
	fps.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice(24, words{"24 帧", "24 fps"}),
		choice(30, words{"30 帧", "30 fps"}),
	}
	res := option(discordgo.ApplicationCommandOptionString, optRes, words{"分辨率", "resolution"}, words{"输出分辨率，默认跟随图片大小（最长边不超过 1280）", "Output resolution (default: the picture's size, longest side at most 1280)"}, false)
	res.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice("540p", words{"540p", "540p"}),
		choice("720p", words{"720p", "720p"}),
		choice("1080p", words{"1080p", "1080p"}),
	}
	aspect := option(discordgo.ApplicationCommandOptionString, optAspect, words{"比例", "aspect"}, words{"画面比例，默认保持图片原样", "Frame shape (default: the picture's own)"}, false)
	aspect.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice("16:9", words{"16:9 横屏", "16:9 landscape"}),
		choice("9:16", words{"9:16 竖屏", "9:16 portrait"}),
		choice("1:1", words{"1:1 方形", "1:1 square"}),
	}
	engine := option(discordgo.ApplicationCommandOptionString, optEngine, words{"引擎", "engine"}, words{"生成引擎名称，/price 列出可用引擎；默认第一个", "Engine name; /price lists the engines (default: the first)"}, false)
	engine.MaxLength = 64

	board := option(discordgo.ApplicationCommandOptionString, optBoard, words{"榜单", "board"}, words{"作品、积分或点赞榜", "Videos, credits spent or likes"}, false)
	board.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice("generations", words{"作品", "videos"}),
		choice("spent", words{"积分", "credits spent"}),
		choice("likes", words{"点赞", "likes"}),
	}
	period := option(discordgo.ApplicationCommandOptionString, optPeriod, words{"周期", "period"}, words{"本周、本月或总榜", "This week, this month or all time"}, false)
	period.Choices = []*discordgo.ApplicationCommandOptionChoice{
		choice("week", words{"本周", "this week"}),
		choice("month", words{"本月", "this month"}),
		choice("all", words{"总榜", "all time"}),
	}

	return []*discordgo.ApplicationCommand{
		slash(command.Gen, words{"生成", "gen"}, words{"把一张图片变成短视频", "Turn a picture into a short video clip"},
			option(discordgo.ApplicationCommandOptionAttachment, optImage, words{"图片", "image"}, words{"JPEG、PNG 或 WebP 图片", "A JPEG, PNG or WebP picture"}, true),
			prompt, seconds, mode,
			option(discordgo.ApplicationCommandOptionBoolean, optRelax, words{"慢速", "relax"}, words{"慢速通道：更便宜，空闲时生成", "Relax lane: cheaper, runs when there is room"}, false),
			seed, camera, negative, tail, fps, res, aspect, engine),
		slash(command.Balance, words{"余额", "balance"}, words{"查看积分余额", "Show your credit balance"}),
		slash(command.Price, words{"价格", "price"}, words{"查看价格表", "Show the prices"}),
		slash(command.Daily, words{"签到", "daily"}, words{"每日签到领积分", "Daily check-in for free credits"}),
		slash(command.Redeem, words{"兑换", "redeem"}, words{"用兑换码兑换积分", "Redeem a code for credits"},
			option(discordgo.ApplicationCommandOptionString, optCode, words{"兑换码", "code"}, words{"兑换码", "The code"}, true)),
		slash(command.Link, words{"关联", "link"}, words{"关联另一个平台的账号（共用积分）", "Link your account on another platform (one balance)"},
			option(discordgo.ApplicationCommandOptionString, optCode, words{"关联码", "code"}, words{"另一个平台给出的关联码；不填则获取新码", "The code from your other platform; leave empty for a new code"}, false)),
		slash(command.Unlink, words{"解除关联", "unlink"}, words{"解除与其他平台的关联", "Unlink this account from your other platforms"}),
		slash(command.Queue, words{"队列", "queue"}, words{"我的任务和排队位置", "Your jobs and their places in the queue"}),
		slash(command.Cancel, words{"取消", "cancel"}, words{"取消排队中的任务，退回积分", "Cancel a queued job and get its credits back"},
			option(discordgo.ApplicationCommandOptionString, optID, words{"任务编号", "id"}, words{"任务编号（/queue 里可以看到）", "The job ID (see /queue)"}, true)),
		slash(command.Top, words{"排行榜", "top"}, words{"排行榜", "Leaderboards"}, board, period),
		slash(command.Help, words{"帮助", "help"}, words{"使用说明", "How to use this bot"}),
	}
}

// ephemeralCommand reports the commands whose answers only the member sees.
func ephemeralCommand(name string) bool {
	switch name {
	case command.Balance, command.Daily, command.Redeem, command.Link, command.Unlink,
		command.Queue, command.Cancel, command.Price, command.Help:
		return true
	}
	return false
}
