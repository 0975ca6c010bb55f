package taxonomy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/timpush/timpush_exporter/config"
)

// config validates error_reasons with its own copies of the vocabulary and
// of timapi's platform and stage names (it imports nothing of ours): its
// messages list them, and they must be these.
func TestConfigAgrees(t *testing.T) {
	tests := []struct{ name, entry, want string }{
		{"reasons", "{error_code: 1, reason: nope}",
			fmt.Sprintf(`error_reasons[0].reason: unknown reason "nope", want one of %s`, strings.Join(Reasons(), ", "))},
		{"platforms", "{platform: nope, reason: unknown}",
			fmt.Sprintf(`error_reasons[0].platform: unknown platform "nope", want one of %s`, strings.Join(platforms(), ", "))},
		{"stages", "{stage: nope, reason: unknown}",
			fmt.Sprintf(`error_reasons[0].stage: unknown stage "nope", want one of %s`, strings.Join(stages(), ", "))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.entry)
			if err == nil || err.Error() != tt.want {
				t.Errorf("config error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

// Whatever config accepts, New accepts, and the other way round.
func TestConfigOverrides(t *testing.T) {
	var entries []string
	for _, r := range Reasons() {
		entries = append(entries, fmt.Sprintf("{error_code: -1, reason: %s}", r))
	}
	for _, p := range platforms() {
		entries = append(entries, fmt.Sprintf("{platform: %s, reason: unknown}", p))
	}
	for _, s := range stages() {
		entries = append(entries, fmt.Sprintf("{stage: %s, error_info: '(?i)x', reason: payload}", s))
	}
	cfg, err := decode(strings.Join(entries, ", "))
	if err != nil {
		t.Fatal(err)
	}
	overrides := make([]Override, len(cfg.ErrorReasons))
	for i, r := range cfg.ErrorReasons {
		overrides[i] = Override{Platform: r.Platform, Stage: r.Stage, ErrorCode: r.ErrorCode, ErrorInfo: r.ErrorInfo, Reason: r.Reason}
	}
	tab, err := New(overrides)
	if err != nil {
		t.Fatalf("New(config's error_reasons) = %v", err)
	}
	if got := tab.Reason("apns", "device", -1, ""); got != TokenInvalid {
		t.Errorf("first override: Reason = %s, want token_invalid", got)
	}
}

func decode(entries string) (*config.Config, error) {
	in := "apps: [{name: a, sdkappid: 1, identifier: x, secret_key: k}]\nerror_reasons: [" + entries + "]\n"
	return config.Decode(strings.NewReader(in), "")
}
