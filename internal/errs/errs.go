// Package errs defines the one error type that domain packages return and
// that each HTTP front end maps to its own wire format. A domain error
// carries a Code (what kind of failure, which decides the status code), a
// Message for people and, in Err, its cause: often a domain sentinel
// (token.ErrExpired, kubeauth.ErrCertificate) that a front end may name
// in its own words (the Infisical API's "error" field). No API's wording
// lives here.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies a failure. Each front end has one table from Code to
// HTTP status.
type Code int

const (
	// Internal is an unexpected failure; its message is not shown to clients.
	Internal Code = iota
	// Invalid is a schema failure: wrong type, missing or unknown field,
	// out-of-range number.
	Invalid
	// BadRequest is a rule violated across fields or a request that cannot
	// be carried out as asked (400).
	BadRequest
	// Unauthenticated means no valid credential: missing, unknown, expired,
	// revoked or used-up token, failed login (401).
	Unauthenticated
	// Forbidden means a valid credential without the right, or a request
	// from an address outside an allowlist (403).
	Forbidden
	// NotFound means the named object does not exist (404).
	NotFound
	// Conflict means the object already exists or the state forbids it (409).
	Conflict
	// TooLarge means the request body exceeds the limit (413).
	TooLarge
	// TooManyRequests means a rate limit or lockout is in force (429).
	TooManyRequests
	// BadGateway means an upstream (e.g. a Kubernetes API server) failed (502).
	BadGateway
	// Unavailable means a dependency of ours (the store) is down (503).
	Unavailable
	// NotImplemented means the feature exists in the API but not yet here (501).
	NotImplemented
	// Timeout means an upstream of ours (a gateway) did not answer in
	// time (504).
	Timeout
)

var codeNames = map[Code]string{
	Internal:        "internal",
	Invalid:         "invalid",
	BadRequest:      "bad request",
	Unauthenticated: "unauthenticated",
	Forbidden:       "forbidden",
	NotFound:        "not found",
	Conflict:        "conflict",
	TooLarge:        "too large",
	TooManyRequests: "too many requests",
	BadGateway:      "bad gateway",
	Unavailable:     "unavailable",
	NotImplemented:  "not implemented",
	Timeout:         "timeout",
}

// String returns the code's name, for logs.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// FieldError is one schema failure: the JSON path of the field and what is
// wrong with it.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is a domain error.
type Error struct {
	Code    Code
	Message string       // for people; never holds a secret
	Fields  []FieldError // schema failures, for Code Invalid
	// Err is the cause, for logs and errors.Is (a domain sentinel that
	// says which failure this is, a store error, ...); never shown.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Because returns an error with the code and a formatted message whose
// cause is kind: a domain sentinel (token.ErrExpired) that says which
// failure it is, for errors.Is, so that a front end can name it.
func Because(code Code, kind error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: kind}
}

// Wrap returns an Internal error that keeps cause for the logs.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Code: Internal, Message: fmt.Sprintf(format, args...), Err: cause}
}

// Validation returns an Invalid error listing field errors.
func Validation(fields ...FieldError) *Error {
	return &Error{Code: Invalid, Message: "request body failed validation", Fields: fields}
}

// As returns the *Error in err's chain, or an Internal error wrapping err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error", Err: err}
}

// CodeOf returns the code of err (Internal when err is not a domain error).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err is a domain error with the given code.
func Is(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
