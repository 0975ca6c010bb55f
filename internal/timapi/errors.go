package timapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

// Class says what a caller should do about an *Error. The client has already
// applied the retry policy of the class by the time it returns the error.
type Class int

const (
	// ClassTransient: network failures, timeouts, HTTP errors, cut-off replies
	// and server-side hiccups. Retried with back-off; returned once the
	// attempts are used up. Worth trying again later.
	ClassTransient Class = iota
	// ClassRateLimited: Tencent said the app calls too often. Retried with a
	// longer back-off (70050: at least a minute).
	ClassRateLimited
	// ClassUserSigExpired: 70001. The client renews the UserSig and retries
	// once; it is only returned when the renewed one is refused as well.
	ClassUserSigExpired
	// ClassConfig: the app's sdkappid, identifier, secret key, region or
	// account is wrong. Never retried: nothing will change until someone
	// fixes the configuration, so the caller should pause the app.
	ClassConfig
	// ClassBadRequest: Tencent rejected this particular request (e.g. a
	// PushID it does not accept). Never retried; drop the item.
	ClassBadRequest
	// ClassDecode: Tencent could not parse our request (60002/60003): a bug
	// on our side. Never retried; drop the item.
	ClassDecode
	// ClassUnexpectedReply: a well-formed JSON reply that does not fit the
	// documented shape (an object where a list belongs, a stage that is a
	// string). Tencent changed the API or has a fault; the request itself
	// was fine, so the item should be kept and tried again later, and the
	// app paused if it persists. Not retried by the client: at once, the
	// same request gets the same answer. Its Label is "unexpected_reply".
	ClassUnexpectedReply
)

var classNames = [...]string{"transient", "rate_limited", "usersig_expired", "config", "bad_request", "decode", "unexpected_reply"}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "class_" + strconv.Itoa(int(c))
	}
	return classNames[c]
}

// ErrMalformedReply is wrapped by an *Error whose reply body could not be
// read (not JSON, or cut off by a proxy). Its Label is "decode".
var ErrMalformedReply = errors.New("malformed reply")

// ErrUnexpectedReply is wrapped by an *Error of ClassUnexpectedReply.
var ErrUnexpectedReply = errors.New("reply of an unexpected shape")

// LabelOutOfRange is the error_code label of a code that is not an integer
// in the 32-bit range: see CodeLabel.
const LabelOutOfRange = "out_of_range"

// CodeLabel is the `error_code` label value of an API or stage error code:
// the number, or LabelOutOfRange when it is outside the 32-bit range.
// Tencent's and the vendors' codes fit; decoding gives a code that is
// not an integer (1.5, NaN, Inf, 1e300) a value outside that range too, so
// one rule covers all of them. api_errors_total and the stage counters both
// label codes through it.
func CodeLabel(code int) string {
	if code < math.MinInt32 || code > math.MaxInt32 {
		return LabelOutOfRange
	}
	return strconv.Itoa(code)
}

// Error is a failed API call. It never contains the secret key or the
// UserSig: network errors are rebuilt without the request URL.
type Error struct {
	Class      Class
	Code       int    // ErrorCode of the reply; 0 when the failure was not reported by the API
	Info       string // ErrorInfo of the reply (free text; never compare it)
	HTTPStatus int    // HTTP status when a reply arrived, 0 otherwise
	Err        error  // underlying cause for failures without a Code

	op string // e.g. "normal_push_trace", prefixed to Error() when set
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("timapi: ")
	if e.op != "" {
		b.WriteString(e.op)
		b.WriteString(": ")
	}
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "error code %s", CodeLabel(e.Code))
		if d := Describe(e.Code); d != "" {
			fmt.Fprintf(&b, " (%s)", d)
		}
		if e.Info != "" {
			fmt.Fprintf(&b, ": ErrorInfo %q", e.Info)
		}
	case e.HTTPStatus != 0 && e.HTTPStatus != 200:
		fmt.Fprintf(&b, "HTTP status %d", e.HTTPStatus)
	}
	if e.Err != nil {
		if e.Code != 0 || (e.HTTPStatus != 0 && e.HTTPStatus != 200) {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	fmt.Fprintf(&b, " [%s]", e.Class)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Label is the value of the `error_code` metric label: the numeric code
// (CodeLabel), or "http_<status>", "unexpected_reply", "decode", "timeout"
// or "network" for failures that carry no code. The set is small and
// bounded by Tencent's code table.
func (e *Error) Label() string {
	switch {
	case e.Code != 0:
		return CodeLabel(e.Code)
	case e.HTTPStatus != 0 && e.HTTPStatus != 200:
		return "http_" + strconv.Itoa(e.HTTPStatus)
	case errors.Is(e.Err, ErrUnexpectedReply):
		return "unexpected_reply"
	case errors.Is(e.Err, ErrMalformedReply):
		return "decode"
	case isTimeout(e.Err):
		return "timeout"
	default:
		return "network"
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Hint is one sentence for the log saying what to check.
func (e *Error) Hint() string {
	switch e.Code {
	case 60006, 60016, 60020:
		return "the SDKAppID is invalid, disabled or its plan expired: check sdkappid and the account in the console"
	case 60010, 90009, 70013, 70014:
		return "the identifier must be an App administrator matching the UserSig: check identifier and sdkappid"
	case 60021:
		return "Tencent refused this source IP: check the IP allow-list in the console"
	case 70003, 70009:
		return "UserSig verification failed: check secret_key and sdkappid"
	case 70016, 70020:
		return "Tencent does not know this SDKAppID or key here: check region (data centre), sdkappid and secret_key"
	case 70050:
		return "UserSig failures triggered rate limiting: check secret_key; calls pause for a minute"
	case 90045:
		return "the Push service is not enabled for this app: enable it in the console"
	case 70001:
		return "the UserSig expired and a renewed one was refused: check the host clock"
	case 60002, 60003, 90001:
		return "Tencent could not parse the request: probably a bug in the exporter, please report it"
	case 90100, 90103:
		return "Tencent rejected this PushID or its parameters; it is dropped"
	}
	switch e.Class {
	case ClassRateLimited:
		return "Tencent rate-limited the app: lower its call rate or look for other clients using the same app"
	case ClassUnexpectedReply:
		return "the reply did not have the documented shape: the API may have changed, please report it"
	}
	switch e.Label() {
	case "timeout":
		return "the API did not answer in time: check network connectivity to the region's domain"
	case "network":
		return "could not reach the API: check DNS, proxy and firewall for the region's domain"
	case "decode":
		return "the reply was cut off or not JSON: a proxy or a network failure in between"
	}
	if e.HTTPStatus != 0 {
		return "the API or a proxy returned an HTTP error: usually temporary"
	}
	return "a temporary error at Tencent: it is retried later"
}

// codeInfo is the error-code table of the reference (§1 and §2).
var codeInfo = map[int]struct {
	class Class
	desc  string
}{
	60002: {ClassDecode, "HTTP parse error"},
	60003: {ClassDecode, "JSON parse error"},
	60006: {ClassConfig, "SDKAppID invalid"},
	60007: {ClassRateLimited, "REST call frequency over the limit"},
	60008: {ClassTransient, "service timeout or bad request format"},
	60010: {ClassConfig, "App administrator permission required"},
	60011: {ClassRateLimited, "SDKAppID request frequency over the limit"},
	60016: {ClassConfig, "SDKAppID disabled"},
	60018: {ClassRateLimited, "requests too frequent"},
	60019: {ClassRateLimited, "requests too frequent"},
	60020: {ClassConfig, "Pro plan expired"},
	60021: {ClassConfig, "illegal source IP"},
	70001: {ClassUserSigExpired, "UserSig expired"},
	70003: {ClassConfig, "UserSig could not be parsed"},
	70009: {ClassConfig, "UserSig verification failed"},
	70013: {ClassConfig, "identifier differs from the UserSig"},
	70014: {ClassConfig, "SDKAppID differs from the UserSig"},
	70016: {ClassConfig, "key not found"},
	70020: {ClassConfig, "SDKAppID not found"},
	70050: {ClassRateLimited, "UserSig failures rate limited"},
	90001: {ClassBadRequest, "JSON parse failed"},
	90009: {ClassConfig, "App administrator required"},
	90045: {ClassConfig, "Push service not enabled"},
	90100: {ClassBadRequest, "invalid parameters"},
	90102: {ClassTransient, "internal error, try again later"},
	90103: {ClassBadRequest, "failed to switch accounts"},
	91000: {ClassTransient, "request or internal error"},
}

// Describe returns the short meaning of an API error code, "" if unknown.
func Describe(code int) string {
	return codeInfo[code].desc
}

// classOf classifies a non-zero ErrorCode. Unknown codes are transient: a
// code we have never seen is more likely a server hiccup than a reason to
// pause the app, and the attempts are bounded anyway.
func classOf(code int) Class {
	if ci, ok := codeInfo[code]; ok {
		return ci.class
	}
	return ClassTransient
}
