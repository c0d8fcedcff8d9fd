package wechat_test

import (
	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
	"github.com/paimeng/paimeng/internal/bottest"
)

// service is the in-memory queue, credit store, community service and
// blob store the bot runs against.
type service = bottest.Service

func newService() *service { return bottest.NewService() }

// admin may use /ban, /unban and /grant.
var admin = paimeng.Identity{Platform: paimeng.PlatformWeChat, UserID: "o_admin"}

// newHandler is the real command handler over the fake community.
func newHandler(s *service) *command.Handler { return bottest.NewHandler(s, admin) }
