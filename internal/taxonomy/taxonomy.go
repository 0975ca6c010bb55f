// Package taxonomy maps the failure of one push stage — platform, stage,
// vendor error code and error text — to a small shared vocabulary of
// reasons (token_invalid, quota_exceeded, …), so that dashboards can compare
// vendors whose error tables have nothing in common.
//
// It hides the built-in table (table.go: one row per mapping, each with the
// public document it comes from), the order rules are tried in, and a
// bounded memo of answers. Rules are tried in this order, the first match
// winning: the configured overrides, in their order; rows for an exact
// (platform, stage, code), some also requiring a pattern in the text; rows
// for a platform and a text pattern; text patterns for every platform; and
// finally Unknown.
package taxonomy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// The vocabulary: values of the `reason` label.
const (
	TokenInvalid          = "token_invalid"          // the device token / regId is invalid, expired or unregistered
	NotificationsDisabled = "notifications_disabled" // the user switched notifications off
	QuotaExceeded         = "quota_exceeded"         // a daily or per-app sending quota is used up
	RateLimited           = "rate_limited"           // sent too fast: flow control, frequency limits
	DeviceInactive        = "device_inactive"        // the device is offline, gone, or the app uninstalled
	AuthOrCertificate     = "auth_or_certificate"    // credentials, certificates, signatures, permissions
	Payload               = "payload"                // the message itself: too large, malformed, refused content
	VendorUnavailable     = "vendor_unavailable"     // the vendor's (or Tencent's) service failed or timed out
	Unknown               = "unknown"                // nothing matched
)

var vocabulary = []string{
	TokenInvalid, NotificationsDisabled, QuotaExceeded, RateLimited, DeviceInactive,
	AuthOrCertificate, Payload, VendorUnavailable, Unknown,
}

// Reasons returns the vocabulary, in the order documentation lists it.
func Reasons() []string { return slices.Clone(vocabulary) }

// Override is a user rule, tried before the built-in table. Empty fields
// (and a nil ErrorCode) match anything; at least one must be set.
type Override struct {
	Platform  string // a platform label value, e.g. huawei
	Stage     string // a stage label value, e.g. device
	ErrorCode *int
	ErrorInfo string // a Go regexp searched for in the error text; (?i) for case-insensitive
	Reason    string // one of Reasons()
}

// Table answers Reason. It is safe for concurrent use.
type Table struct {
	overrides []rule
	exact     []rule // code set; platform and stages may be any
	vendor    []rule // platform and pattern set, no code
	generic   []rule // pattern only

	mu   sync.Mutex
	memo map[key]string
}

// rule is one row: every set field must match.
type rule struct {
	platform string   // "" any
	stages   []string // nil any
	hasCode  bool
	code     int
	info     *regexp.Regexp // nil any
	reason   string
	src      *source // nil for overrides
	note     string  // what the source says
}

type key struct {
	platform, stage string
	code            int
	info            string
}

const (
	// maxInfo bounds the part of an error text that is matched and
	// remembered: texts are short, and a vendor echoing a payload must not
	// make matching slow.
	maxInfo = 512
	// maxMemo bounds the memo; when full it starts over. Distinct keys are
	// few (codes × texts per vendor) unless texts carry request IDs.
	maxMemo = 4096
)

var defaultTable = sync.OnceValue(func() *Table {
	t, err := New(nil)
	if err != nil {
		panic(err) // the built-in table is checked by tests
	}
	return t
})

// Default returns the built-in table, without overrides.
func Default() *Table { return defaultTable() }

// New returns the built-in table preceded by overrides, tried in order. An
// override with an unknown reason, platform or stage, no field to match on,
// or an ErrorInfo that does not compile is an error naming its index.
func New(overrides []Override) (*Table, error) {
	t := &Table{memo: map[key]string{}}
	var errs []error
	for i, o := range overrides {
		r, err := o.rule()
		if err != nil {
			errs = append(errs, fmt.Errorf("override %d: %w", i, err))
			continue
		}
		t.overrides = append(t.overrides, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, r := range builtin() {
		switch {
		case r.hasCode:
			t.exact = append(t.exact, r)
		case r.platform != "":
			t.vendor = append(t.vendor, r)
		default:
			t.generic = append(t.generic, r)
		}
	}
	return t, nil
}

func (o Override) rule() (rule, error) {
	r := rule{platform: o.Platform, reason: o.Reason}
	if o.Reason == "" {
		return r, fmt.Errorf("reason: required, one of %s", strings.Join(vocabulary, ", "))
	}
	if !slices.Contains(vocabulary, o.Reason) {
		return r, fmt.Errorf("reason: unknown reason %q, want one of %s", o.Reason, strings.Join(vocabulary, ", "))
	}
	if o.Platform == "" && o.Stage == "" && o.ErrorCode == nil && o.ErrorInfo == "" {
		return r, errors.New("at least one of platform, stage, error_code and error_info is required")
	}
	if o.Platform != "" && !slices.Contains(platforms(), o.Platform) {
		return r, fmt.Errorf("platform: unknown platform %q, want one of %s", o.Platform, strings.Join(platforms(), ", "))
	}
	if o.Stage != "" {
		if !slices.Contains(stages(), o.Stage) {
			return r, fmt.Errorf("stage: unknown stage %q, want one of %s", o.Stage, strings.Join(stages(), ", "))
		}
		r.stages = []string{o.Stage}
	}
	if o.ErrorCode != nil {
		r.hasCode, r.code = true, *o.ErrorCode
	}
	if o.ErrorInfo != "" {
		re, err := regexp.Compile(o.ErrorInfo)
		if err != nil {
			return r, fmt.Errorf("error_info: %w", err)
		}
		r.info = re
	}
	return r, nil
}

// platforms are the `platform` label values timapi.PlatformName produces.
func platforms() []string {
	var out []string
	for p := 0; p <= 9; p++ { // 9: past the last, "other"
		out = append(out, timapi.PlatformName(p))
	}
	return out
}

func stages() []string {
	out := make([]string, timapi.NumStages)
	for s := range timapi.NumStages {
		out[s] = s.String()
	}
	return out
}

// Reason classifies one failed stage: platform and stage are label values
// (timapi.PlatformName, Stage.String), code and info the stage's ErrorCode
// and ErrorInfo. It always returns a word of Reasons().
func (t *Table) Reason(platform, stage string, code int, info string) string {
	if len(info) > maxInfo {
		info = info[:maxInfo]
	}
	k := key{platform, stage, code, info}
	t.mu.Lock()
	r, ok := t.memo[k]
	t.mu.Unlock()
	if ok {
		return r
	}
	r = t.classify(k)
	t.mu.Lock()
	if len(t.memo) >= maxMemo {
		clear(t.memo)
	}
	t.memo[k] = r
	t.mu.Unlock()
	return r
}

func (t *Table) classify(k key) string {
	for _, rules := range [][]rule{t.overrides, t.exact, t.vendor, t.generic} {
		for i := range rules {
			if rules[i].matches(k) {
				return rules[i].reason
			}
		}
	}
	return Unknown
}

func (r *rule) matches(k key) bool {
	return (r.platform == "" || r.platform == k.platform) &&
		(r.stages == nil || slices.Contains(r.stages, k.stage)) &&
		(!r.hasCode || r.code == k.code) &&
		(r.info == nil || r.info.MatchString(k.info))
}

// describe returns the rule's matcher for documentation: the code and/or
// the pattern (without the (?i) every built-in pattern starts with).
func (r *rule) describe() string {
	var parts []string
	if r.hasCode {
		parts = append(parts, "`"+strconv.Itoa(r.code)+"`")
	}
	if r.info != nil {
		parts = append(parts, "text `"+strings.TrimPrefix(r.info.String(), "(?i)")+"`")
	}
	return strings.Join(parts, " + ")
}
