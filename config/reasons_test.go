package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const reasonsApp = "apps: [{name: a, sdkappid: 1, identifier: x, secret_key: k}]\n"

func TestDecodeErrorReasons(t *testing.T) {
	const in = reasonsApp + `
error_reasons:
  - platform: huawei
    stage: device
    error_code: 80300008
    error_info: '(?i)size'
    reason: payload
  - error_code: 0
    reason: unknown
  - error_info: 'user closed notifications'
    reason: notifications_disabled
`
	cfg, err := Decode(strings.NewReader(in), "")
	if err != nil {
		t.Fatal(err)
	}
	code, zero := 80300008, 0
	want := []ErrorReason{
		{Platform: "huawei", Stage: "device", ErrorCode: &code, ErrorInfo: "(?i)size", Reason: "payload"},
		{ErrorCode: &zero, Reason: "unknown"},
		{ErrorInfo: "user closed notifications", Reason: "notifications_disabled"},
	}
	if !reflect.DeepEqual(cfg.ErrorReasons, want) {
		t.Errorf("ErrorReasons = %+v, want %+v", cfg.ErrorReasons, want)
	}
}

func TestDecodeErrorReasonsNone(t *testing.T) {
	for _, in := range []string{reasonsApp, reasonsApp + "error_reasons: []\n", reasonsApp + "error_reasons:\n"} {
		cfg, err := Decode(strings.NewReader(in), "")
		if err != nil {
			t.Fatalf("Decode(%q) = %v", in, err)
		}
		if len(cfg.ErrorReasons) != 0 {
			t.Errorf("Decode(%q).ErrorReasons = %+v, want none", in, cfg.ErrorReasons)
		}
	}
}

// Validation errors of error_reasons come with those of the rest, and
// strictness covers the entries.
func TestDecodeErrorReasonsAllErrors(t *testing.T) {
	in := "apps: [{name: a, sdkappid: 1, identifier: x, secret_key: k, rate_limit: 0}]\n" +
		"error_reasons: [{stage: x, reason: payload}, {error_code: 1, reason: nope}]\n"
	_, err := Decode(strings.NewReader(in), "")
	want := "apps[0].rate_limit: must be > 0 and <= 100, got 0\n" +
		"error_reasons[0].stage: unknown stage \"x\", want one of im, offline, channel, device, click, online_channel, online_device\n" +
		"error_reasons[1].reason: unknown reason \"nope\", want one of " + strings.Join(errorReasonWords, ", ")
	if err == nil || err.Error() != want {
		t.Errorf("Decode error =\n%v\nwant\n%s", err, want)
	}

	_, err = Decode(strings.NewReader(reasonsApp+"error_reasons: [{error_code: 1, reason: payload, colour: red}]\n"), "")
	if want := `line 2: unknown key "colour" in error_reasons[0]`; err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %q", err, want)
	}
	_, err = Decode(strings.NewReader(reasonsApp+"error_reasons: {reason: payload}\n"), "")
	if want := `line 2: error_reasons: want a list, got !!map`; err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %q", err, want)
	}
}

// The example shows every key of an entry, in a commented example that is
// itself a valid configuration once uncommented.
func TestExampleErrorReasons(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	for key := range yamlFields(reflect.TypeFor[ErrorReason]()) {
		if !regexp.MustCompile(`(?m)^[\s#-]*` + key + `:`).Match(data) {
			t.Errorf("%s does not show the key %s (ErrorReason)", exampleFile, key)
		}
	}
	_, block, ok := strings.Cut(string(data), "\nerror_reasons: []")
	if !ok {
		t.Fatalf("%s has no top-level `error_reasons: []`", exampleFile)
	}
	var entries []string
	for _, line := range strings.Split(block, "\n")[1:] {
		if !strings.HasPrefix(line, "#") {
			break
		}
		entries = append(entries, strings.TrimPrefix(line, "#"))
	}
	cfg, err := Decode(strings.NewReader(reasonsApp+"error_reasons:\n"+strings.Join(entries, "\n")), "")
	if err != nil {
		t.Fatalf("the commented error_reasons example does not decode: %v", err)
	}
	if len(cfg.ErrorReasons) != 2 || cfg.ErrorReasons[0].ErrorCode == nil || cfg.ErrorReasons[0].Stage == "" {
		t.Errorf("example error_reasons = %+v, want two entries, the first with every key", cfg.ErrorReasons)
	}
}
