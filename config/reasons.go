package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrorReason is one entry of error_reasons: a rule tried before the
// built-in error taxonomy, which gives failed stages their `reason` label.
// Unset fields match anything; at least one of the matchers must be set.
type ErrorReason struct {
	Platform  string `yaml:"platform"`   // a platform label value, e.g. huawei
	Stage     string `yaml:"stage"`      // a stage label value, e.g. device
	ErrorCode *int   `yaml:"error_code"` // the stage's ErrorCode
	ErrorInfo string `yaml:"error_info"` // a Go regexp searched for in ErrorInfo; (?i) for any case
	Reason    string `yaml:"reason"`     // required, one of errorReasonWords
}

// The values validation accepts. They are those of internal/taxonomy
// (Reasons) and internal/timapi (PlatformName, Stage.String), which config
// does not import; a test in internal/taxonomy keeps them equal.
var (
	errorReasonWords = []string{
		"token_invalid", "notifications_disabled", "quota_exceeded", "rate_limited", "device_inactive",
		"auth_or_certificate", "payload", "vendor_unavailable", "unknown",
	}
	errorReasonPlatforms = []string{"unknown", "apns", "xiaomi", "huawei", "fcm", "meizu", "oppo", "vivo", "honor", "other"}
	errorReasonStages    = []string{"im", "offline", "channel", "device", "click", "online_channel", "online_device"}
)

// validateErrorReasons checks error_reasons; messages name the entry's field.
func (cfg *Config) validateErrorReasons() error {
	c := &checker{}
	for i, r := range cfg.ErrorReasons {
		path := fmt.Sprintf("error_reasons[%d]", i)
		switch {
		case r.Reason == "":
			c.errorf(path+".reason", "required, one of %s", strings.Join(errorReasonWords, ", "))
		case !slices.Contains(errorReasonWords, r.Reason):
			c.errorf(path+".reason", "unknown reason %q, want one of %s", r.Reason, strings.Join(errorReasonWords, ", "))
		}
		if r.Platform == "" && r.Stage == "" && r.ErrorCode == nil && r.ErrorInfo == "" {
			c.errorf(path, "at least one of platform, stage, error_code and error_info is required")
		}
		if r.Platform != "" && !slices.Contains(errorReasonPlatforms, r.Platform) {
			c.errorf(path+".platform", "unknown platform %q, want one of %s", r.Platform, strings.Join(errorReasonPlatforms, ", "))
		}
		if r.Stage != "" && !slices.Contains(errorReasonStages, r.Stage) {
			c.errorf(path+".stage", "unknown stage %q, want one of %s", r.Stage, strings.Join(errorReasonStages, ", "))
		}
		if r.ErrorInfo != "" {
			if _, err := regexp.Compile(r.ErrorInfo); err != nil {
				c.errorf(path+".error_info", "%v", err)
			}
		}
	}
	return errors.Join(c.errs...)
}
