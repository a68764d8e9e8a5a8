package chat

import (
	"errors"
	"fmt"
)

// Code is a protocol error code (PROTOCOL.md §5).
type Code string

// Error codes of the wire protocol.
const (
	CodeBadRequest    Code = "bad_request"
	CodeUnknownAction Code = "unknown_action"
	CodeUnauthorized  Code = "unauthorized"
	CodeForbidden     Code = "forbidden"
	CodeNotFound      Code = "not_found"
	CodeTooLarge      Code = "too_large"
	CodeRateLimited   Code = "rate_limited"
	CodeInternal      Code = "internal"
)

// Error is the one error type that carries a protocol code. Its Message is safe to show a
// client; anything else (a store failure) becomes CodeInternal at the boundary.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "chat: " + string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the protocol code of err: the code of an *Error in its chain, or
// CodeInternal for any other error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinel errors returned by stores and pushers.
var (
	// ErrNotFound: the item asked for does not exist.
	ErrNotFound = errors.New("chat: not found")
	// ErrExists: a create found the item already there.
	ErrExists = errors.New("chat: already exists")
	// ErrLimit: a conditional change would exceed a limit (such as the group size).
	ErrLimit = errors.New("chat: limit exceeded")
	// ErrConflict: a compare-and-set write found the item changed since it was read.
	ErrConflict = errors.New("chat: changed concurrently")
	// ErrGone: the connection no longer exists (API Gateway's 410 Gone).
	ErrGone = errors.New("chat: connection gone")
	// ErrRejected: the push was refused for good (a 4xx other than 410 and 429); retrying
	// will not help.
	ErrRejected = errors.New("chat: push rejected")
)
