package paimeng

import (
	"errors"
	"fmt"
)

// Error codes. Front ends map each to member-facing text (zh/en) in
// bots/command; the HTTP API maps each to a status in one table.
const (
	ECONFLICT = "conflict"
	EINTERNAL = "internal"
	EINVALID  = "invalid"
	ENOTFOUND = "not_found"
	EUNAUTH   = "unauthorized"

	// Request problems a member can fix.
	ENoImage       = "no_image"
	EImageTooLarge = "image_too_large" // bytes or pixels over the limit
	EImageTooSmall = "image_too_small" // a side under MinImageSide
	EImageFormat   = "image_format"    // not JPEG, PNG or WebP, or corrupt
	EPromptTooLong = "prompt_too_long" // over MaxPromptRunes
	EBadOption     = "bad_option"      // seconds, seed… out of range
	EInsufficient  = "insufficient_credits"
	ETooManyJobs   = "too_many_jobs"
	EEngineFailed  = "engine_failed" // the engine could not make the video
	EJobTimeout    = "job_timeout"   // the job never finished in time
	EUnknownEngine = "unknown_engine"

	// Community commands.
	EAlreadyClaimed = "already_claimed" // daily check-in already paid today
	ECodeInvalid    = "code_invalid"    // no such redemption or link code
	ECodeUsed       = "code_used"       // the code was claimed already
	ECodeExpired    = "code_expired"    // the code is past its expiry
	EAlreadyLinked  = "already_linked"  // both identities share an account already
	ENotLinked      = "not_linked"      // unlink of an identity that is alone on its account
	ENotCancelable  = "not_cancelable"  // the job has started or finished
	EBanned         = "banned"          // the member may not submit
	EPromptBlocked  = "prompt_blocked"  // the prompt has a banned term
	ERateLimited    = "rate_limited"    // too many submissions in a short time
	EForbidden      = "forbidden"       // not an admin, or not the owner
)

// Error is an application error with a code from the list above.
type Error struct {
	Code    string
	Message string // operator-facing; front ends show their own text per code
}

func (e *Error) Error() string {
	return fmt.Sprintf("paimeng error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for other errors.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Retryable reports whether a failure with this code may succeed when tried
// again unchanged. Bad input never is.
func Retryable(code string) bool {
	switch code {
	case EINTERNAL, EEngineFailed:
		return true
	}
	return false
}
