package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/paimeng/paimeng"
	"github.com/paimeng/paimeng/bots/command"
)

// statusOf maps an error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case paimeng.EINVALID, paimeng.EBadOption, paimeng.EPromptTooLong, paimeng.ENoImage,
		paimeng.EImageTooSmall, paimeng.EImageFormat, paimeng.EUnknownEngine:
		return http.StatusBadRequest
	case paimeng.EImageTooLarge:
		return http.StatusRequestEntityTooLarge
	case paimeng.EInsufficient:
		return http.StatusPaymentRequired
	case paimeng.EPromptBlocked:
		return http.StatusUnprocessableEntity
	case paimeng.EUNAUTH:
		return http.StatusUnauthorized
	case paimeng.EBanned, paimeng.EForbidden:
		return http.StatusForbidden
	case paimeng.ENOTFOUND, paimeng.ECodeInvalid:
		return http.StatusNotFound
	case paimeng.ECONFLICT, paimeng.EAlreadyClaimed, paimeng.ECodeUsed, paimeng.EAlreadyLinked,
		paimeng.ENotLinked, paimeng.ENotCancelable:
		return http.StatusConflict
	case paimeng.ECodeExpired:
		return http.StatusGone
	case paimeng.ETooManyJobs, paimeng.ERateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// texts returns the member-facing {zh, en} text for code.
func texts(code string) (zh, en string, ok bool) {
	switch code {
	case paimeng.ECONFLICT:
		return "操作冲突，请稍后重试。",
			"That conflicts with another request. Please try again.", true
	case paimeng.EINTERNAL:
		return "服务出了点问题，请稍后再试。",
			"Something went wrong on our side. Please try again later.", true
	case paimeng.EINVALID:
		return "请求无效，请检查后重试。",
			"The request is not valid. Please check it and try again.", true
	case paimeng.ENOTFOUND:
		return "找不到这个任务或视频。",
			"That job or video was not found.", true
	case paimeng.EUNAUTH:
		return "请先登录或填写有效的 API 令牌。",
			"Please sign in or enter a valid API token.", true
	case paimeng.ENoImage:
		return "请先选择一张图片。",
			"Please choose an image first.", true
	case paimeng.EImageTooLarge:
		return "图片太大了（最大 20 MB、4000 万像素）。",
			"The image is too large (max 20 MB, 40 megapixels).", true
	case paimeng.EImageTooSmall:
		return "图片太小了，每边至少 64 像素。",
			"The image is too small; each side needs at least 64 pixels.", true
	case paimeng.EImageFormat:
		return "无法读取这张图片，请使用 JPEG、PNG 或 WebP。",
			"The image could not be read. Please use JPEG, PNG or WebP.", true
	case paimeng.EPromptTooLong:
		return "描述太长了，最多 2500 字。",
			"The prompt is too long (max 2500 characters).", true
	case paimeng.EBadOption:
		return "参数不正确：时长只能是 5 或 10 秒，模式为 std 或 pro，队列为 fast 或 relax，种子须为整数；camera_control 为 simple 加一个 -10 到 10 的轴，或 down_back、forward_up、right_turn_forward、left_turn_forward；fps 为 24 或 30，resolution 为 540p、720p 或 1080p，aspect_ratio 为 16:9、9:16 或 1:1。",
			"Invalid option: length must be 5 or 10 seconds, mode std or pro, lane fast or relax, and the seed a whole number; camera_control is simple with one axis from -10 to 10, or down_back, forward_up, right_turn_forward or left_turn_forward; fps 24 or 30, resolution 540p, 720p or 1080p, aspect_ratio 16:9, 9:16 or 1:1.", true
	case paimeng.EInsufficient:
		return "积分不足，请充值后再试。",
			"Not enough credits. Please top up and try again.", true
	case paimeng.ETooManyJobs:
		return "你有太多任务在排队，请等它们完成后再提交。",
			"You have too many jobs in progress. Please wait for them to finish.", true
	case paimeng.EEngineFailed:
		return "视频生成失败，积分已退回，请换张图片或描述再试。",
			"The video could not be made; your credits were returned. Try another image or prompt.", true
	case paimeng.EJobTimeout:
		return "任务超时，积分已退回，请稍后再试。",
			"The job took too long; your credits were returned. Please try again later.", true
	case paimeng.EUnknownEngine:
		return "没有这个生成引擎。",
			"That engine does not exist.", true
	case paimeng.EAlreadyClaimed:
		return "今天已经签到过了，明天再来吧。",
			"You have already checked in today. Come back tomorrow.", true
	case paimeng.ECodeInvalid:
		return "没有这个码，请检查后重试。",
			"That code does not exist. Please check it and try again.", true
	case paimeng.ECodeUsed:
		return "这个码已经被使用过了。",
			"That code has already been used.", true
	case paimeng.ECodeExpired:
		return "这个码已过期。",
			"That code has expired.", true
	case paimeng.EAlreadyLinked:
		return "这两个账号已经绑定在一起了。",
			"These accounts are already linked.", true
	case paimeng.ENotLinked:
		return "这个账号没有绑定其他账号，无需解绑。",
			"This account is not linked to another, so there is nothing to unlink.", true
	case paimeng.ENotCancelable:
		return "任务已经开始或已经结束，无法取消。",
			"That job has already started or finished and cannot be canceled.", true
	case paimeng.EBanned:
		return "你的账号已被禁用，如有疑问请联系管理员。",
			"Your account has been banned. Please contact an admin if you think this is a mistake.", true
	case paimeng.EPromptBlocked:
		return "描述中含有不允许的内容，请修改后再试。",
			"The prompt contains words that are not allowed. Please change it and try again.", true
	case paimeng.ERateLimited:
		return "提交太频繁了，请稍等一会儿再试。",
			"You are sending requests too fast. Please wait a moment and try again.", true
	case paimeng.EForbidden:
		return "你不能这样做。",
			"You are not allowed to do that.", true
	}
	return "", "", false
}

// messageFor returns the member-facing text for code in lang.
func messageFor(code string, lang paimeng.Lang) string {
	zh, en, ok := texts(code)
	if !ok {
		zh, en, _ = texts(paimeng.EINTERNAL)
	}
	return command.Pick(lang, zh, en)
}

type errorView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field that was refused, when one was.
	Field string `json:"field,omitempty"`
}

type errorBody struct {
	Error errorView `json:"error"`
}

// writeError answers with the code's status and member-facing text; the
// internal detail only goes to the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error, attrs ...any) {
	code := paimeng.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code = paimeng.EImageTooLarge
	}
	status := statusOf(code)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "web request failed",
		append(attrs, "method", r.Method, "path", r.URL.Path, "code", code, "status", status, "err", err)...)
	if code == paimeng.EUNAUTH {
		w.Header().Set("WWW-Authenticate", `Bearer realm="paimeng"`)
	}
	view := errorView{Code: code, Message: messageFor(code, langOf(r))}
	var fe *fieldError
	if errors.As(err, &fe) && code == fe.err.Code {
		view.Field = fe.field
		if text := fieldText(fe.field, code, langOf(r)); text != "" {
			view.Message = text
		}
	}
	writeJSON(w, status, errorBody{Error: view})
}
