package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// testSecret is the inline secret of every invalid-*.yml file: no error may show it.
const testSecret = "s3cr3t-NEVER-SHOWN"

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"empty", "config is empty: at least one app is required"},
		{"multiple-documents", "line 6: a second YAML document; the config must be one document"},
		{"syntax", "yaml: line 1: did not find expected '-' indicator"},
		{"type", "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `abc` into int64"},
		{"unknown-key-top", `line 6: unknown key "scrape_interval" at top level`},
		{"unknown-key-app", `line 6: unknown key "rate" in apps[0]`},
		{"unknown-key-file", `line 9: unknown key "fromat" in sources.files[0]`},
		{"unknown-key-webhook", `line 9: unknown key "bearer_tokne_file" in sources.webhook`},
		{"duration", `line 6: apps[0].query_delay: unknown unit "minute" in duration "1minute"`},
		{"no-apps", "apps: at least one app is required"},
		{"name-missing", "apps[0].name: required"},
		{"name-chars", `apps[0].name: "prod app" must match ^[a-zA-Z0-9_.-]+$`},
		{"name-duplicate", `apps[1].name: "prod" is already used by apps[0]`},
		{"sdkappid-missing", "apps[0].sdkappid: required, must be > 0, got 0"},
		{"sdkappid-duplicate", "apps[1].sdkappid: 1400000000 is already used by apps[0]"},
		{"region", `apps[0].region: unknown region "mars", want one of china, singapore, seoul, frankfurt, silicon-valley, jakarta, tokyo`},
		{"endpoint-scheme", `apps[0].endpoint: must be an http:// or https:// URL, got scheme "ftp"`},
		{"endpoint-host", "apps[0].endpoint: must have a host, e.g. http://127.0.0.1:8080"},
		{"endpoint-credentials", "apps[0].endpoint: must not contain credentials"},
		{"endpoint-query", `apps[0].endpoint: must not have a query or fragment, got "http://127.0.0.1:8080/?debug=1"`},
		{"identifier-missing", "apps[0].identifier: required"},
		{"secret-both", "apps[0]: secret_key and secret_key_file are mutually exclusive, set one"},
		{"secret-missing", "apps[0]: one of secret_key and secret_key_file is required"},
		{"secret-file-missing", "apps[0].secret_key_file: stat testdata/does-not-exist.key: no such file or directory"},
		{"secret-file-empty", "apps[0].secret_key_file: testdata/empty.key is empty"},
		{"rate-limit", "apps[0].rate_limit: must be > 0 and <= 100, got 101"},
		{"sample-ratio", "apps[0].sample_ratio: must be > 0 and <= 1, got 1.5"},
		{"query-delay", "apps[0].query_delay: must be >= 0 and < 7d, got 1w"},
		{"requery-before-delay", "apps[0].requery_after[0]: must be greater than query_delay (10m), got 5m"},
		{"requery-not-increasing", "apps[0].requery_after[1]: must be greater than requery_after[0] (30m), got 5m"},
		{"requery-too-late", "apps[0].requery_after[1]: must be < 7d, got 1w"},
		{"timezone", "apps[0].timezone: unknown time zone Mars/Olympus_Mons"},
		{"timezone-empty", "apps[0].timezone: required, e.g. Asia/Shanghai"},
		{"max-pending", "apps[0].max_pending: must be > 0, got 0"},
		{"statistics-interval", "apps[0].statistics_interval: must be 0 (off) or >= 1m, got 10s"},
		{"trace-page-share", "apps[0].trace_page_share: must be > 0 and < 1, got 1"},
		{"file-path-missing", "sources.files[0].path: required"},
		{"file-path-pattern", `sources.files[0].path: "/var/log/push[.log": syntax error in pattern`},
		{"file-path-duplicate", `sources.files[1].path: "/var/log/push.log" is already used by sources.files[0]`},
		{"file-app-unknown", `sources.files[0].app: unknown app "staging"`},
		{"file-app-required", "sources.files[0].app: required when more than one app is configured (or a regex group app)"},
		{"file-format", `sources.files[0].format: unknown format "csv", want one of regex, json, plain`},
		{"file-regex-missing", "sources.files[0].regex: required with format regex"},
		{"file-regex-compile", "sources.files[0].regex: error parsing regexp: missing closing ]: `[0-9`"},
		{"file-regex-no-push-id", "sources.files[0].regex: must have a named group push_id, e.g. (?P<push_id>[0-9A-Za-z_-]+)"},
		{"file-regex-wrong-format", `sources.files[0].regex: only used with format regex, format is "plain"`},
		{"file-json-field", `sources.files[0].json_field: must be a dotted path such as Push.MsgId, got "Push..MsgId"`},
		{"file-start", `sources.files[0].start: unknown start "middle", want end or beginning`},
		{"file-max-line-bytes", "sources.files[0].max_line_bytes: must be > 0, got 0"},
		{"webhook-listen-missing", "sources.webhook.listen_address: required, e.g. 127.0.0.1:9847"},
		{"webhook-listen-address", "sources.webhook.listen_address: address 127.0.0.1: missing port in address"},
		{"webhook-listen-port", `sources.webhook.listen_address: port must be a number from 0 to 65535, got "99999"`},
		{"webhook-token-both", "sources.webhook: bearer_token and bearer_token_file are mutually exclusive, set one"},
		{"webhook-max-body", "sources.webhook.max_body_bytes: must be > 0, got 0"},
		{"webhook-web-config", "sources.webhook.web_config_file: stat testdata/does-not-exist-web.yml: no such file or directory"},
		{"webhook-web-config-yaml", "sources.webhook.web_config_file: testdata/webhook-web-invalid.yml: not valid YAML"},
		{"webhook-max-connections", "sources.webhook.max_connections: must be > 0, got 0"},
		{"webhook-bearer-basic-auth", "sources.webhook: bearer_token (or bearer_token_file) and basic_auth_users in web_config_file " +
			"testdata/webhook-web-basic-auth.yml cannot be used together: both need the Authorization header, so every request would get 401; keep one of them"},
		{"error-reasons-unknown-key", `line 8: unknown key "code" in error_reasons[0]`},
		{"error-reasons-reason-missing", "error_reasons[0].reason: required, one of token_invalid, notifications_disabled, quota_exceeded, rate_limited, device_inactive, auth_or_certificate, payload, vendor_unavailable, unknown"},
		{"error-reasons-reason-unknown", `error_reasons[1].reason: unknown reason "expired", want one of token_invalid, notifications_disabled, quota_exceeded, rate_limited, device_inactive, auth_or_certificate, payload, vendor_unavailable, unknown`},
		{"error-reasons-no-matcher", "error_reasons[0]: at least one of platform, stage, error_code and error_info is required"},
		{"error-reasons-error-info", "error_reasons[0].error_info: error parsing regexp: missing closing ]: `[0-9`"},
		{"error-reasons-platform", `error_reasons[0].platform: unknown platform "huwei", want one of unknown, apns, xiaomi, huawei, fcm, meizu, oppo, vivo, honor, other`},
		{"error-reasons-stage", `error_reasons[0].stage: unknown stage "delivery", want one of im, offline, channel, device, click, online_channel, online_device`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid-"+tt.file+".yml")
			seen[path] = true
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want error %q", path, cfg, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Load(%s) error\n got: %s\nwant: %s", path, err, tt.want)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Load(%s) error shows a secret: %s", path, err)
			}
		})
	}
	files, err := filepath.Glob("testdata/invalid-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f] {
			t.Errorf("%s is not in the test table", f)
		}
	}
}

func TestLoadGood(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keys", "prod.key"), "  prod-secret-key\n", 0o600)
	writeFile(t, filepath.Join(dir, "callback-token"), "callback-token-value\n", 0o600)
	writeFile(t, filepath.Join(dir, "web.yml"), "{}\n", 0o644)
	f, err := os.Open("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Decode(f, dir)
	if err != nil {
		t.Fatalf("Decode(good.yml) = %v", err)
	}
	want := &Config{
		Apps: []App{{
			Name: "prod", SDKAppID: 1400000000, Region: "singapore", Identifier: "administrator",
			SecretKey: "prod-secret-key", SecretKeyFile: filepath.Join(dir, "keys/prod.key"),
			RateLimit: 0.5, SampleRatio: 0.25, QueryDelay: minutes(2),
			RequeryAfter: []model.Duration{minutes(10), minutes(60), minutes(24 * 60)},
			Timezone:     "UTC", MaxPending: 5000, StatisticsInterval: minutes(10), TracePageShare: 0.25,
		}, {
			Name: "staging.eu-1", SDKAppID: 20000001, Region: "tokyo", Endpoint: "http://127.0.0.1:8080/proxy/",
			Identifier: "admin", SecretKey: "inline-staging-secret",
			RateLimit: 1, SampleRatio: 1, QueryDelay: minutes(1), RequeryAfter: []model.Duration{},
			Timezone: "Asia/Shanghai", MaxPending: 100000, StatisticsInterval: minutes(10), TracePageShare: 0.5,
		}},
		Sources: Sources{
			Files: []FileSource{{
				Path: filepath.Join(dir, "logs/push-*.log"), App: "prod", Format: FormatRegex,
				Regex:     `app=(?P<app>\S+) msg_id=(?P<push_id>[0-9A-Za-z_-]+)`,
				JSONField: "PushID", Start: StartBeginning, MaxLineBytes: 4096,
			}, {
				Path: "/var/log/staging/push.jsonl", App: "staging.eu-1", Format: FormatJSON,
				JSONField: "Push.MsgId", Start: StartEnd, MaxLineBytes: 65536,
			}},
			Webhook: &Webhook{
				ListenAddress:            ":9847",
				TencentCallbackTokenFile: filepath.Join(dir, "callback-token"),
				TencentCallbackToken:     "callback-token-value",
				BearerToken:              "inline-bearer-token",
				MaxBodyBytes:             65536,
				WebConfigFile:            filepath.Join(dir, "web.yml"),
				MaxConnections:           512,
			},
		},
	}
	for i, zone := range []string{"UTC", "Asia/Shanghai"} {
		if loc := got.Apps[i].Location(); loc.String() != zone {
			t.Errorf("apps[%d].Location() = %s, want %s", i, loc, zone)
		}
		got.Apps[i].loc = nil
	}
	if re := got.Sources.Files[0].Regexp(); re == nil || re.SubexpIndex("push_id") != 2 {
		t.Errorf("files[0].Regexp() = %v, want the compiled regex", re)
	}
	got.Sources.Files[0].re = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(good.yml) =\n%#v\nwant\n%#v", got, want)
	}
	if got.Apps[0].BaseURL() != "https://adminapisgp.im.qcloud.com" || got.Apps[1].BaseURL() != "http://127.0.0.1:8080/proxy" {
		t.Errorf("BaseURL() = %q, %q", got.Apps[0].BaseURL(), got.Apps[1].BaseURL())
	}
}

func TestDefaults(t *testing.T) {
	const in = `
apps:
  - name: prod
    sdkappid: 1
    identifier: administrator
    secret_key: k
sources:
  files:
    - path: /var/log/push.log
  webhook:
    listen_address: 127.0.0.1:9847
`
	cfg, err := Decode(strings.NewReader(in), "")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Apps[0]
	a.Name, a.SDKAppID, a.Identifier, a.SecretKey, a.loc = "", 0, "", "", nil
	if !reflect.DeepEqual(a, DefaultApp) {
		t.Errorf("app = %#v, want DefaultApp %#v", a, DefaultApp)
	}
	f := cfg.Sources.Files[0]
	f.Path, f.App = "", ""
	if !reflect.DeepEqual(f, DefaultFileSource) {
		t.Errorf("file source = %#v, want DefaultFileSource %#v", f, DefaultFileSource)
	}
	if cfg.Sources.Files[0].App != "prod" {
		t.Errorf("files[0].app = %q, want the only app filled in", cfg.Sources.Files[0].App)
	}
	w := *cfg.Sources.Webhook
	w.ListenAddress = ""
	if !reflect.DeepEqual(w, DefaultWebhook) {
		t.Errorf("webhook = %#v, want DefaultWebhook %#v", w, DefaultWebhook)
	}
	if got := cfg.Apps[0].BaseURL(); got != "https://console.tim.qq.com" {
		t.Errorf("BaseURL() = %q, want the china domain", got)
	}
	if got := cfg.Apps[0].Location().String(); got != "Asia/Shanghai" {
		t.Errorf("Location() = %s, want Asia/Shanghai", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	if len(DefaultApp.RequeryAfter) != 2 {
		t.Errorf("decoding changed DefaultApp.RequeryAfter to %v", DefaultApp.RequeryAfter)
	}
}

// TestWebhookBasicAuthWarns: basic auth on the webhook listener, without a
// bearer token, is allowed but warned about: Tencent's callbacks cannot
// pass it.
func TestWebhookBasicAuthWarns(t *testing.T) {
	const in = `
apps: [{name: prod, sdkappid: 1, identifier: admin, secret_key: k}]
sources:
  webhook: {listen_address: "127.0.0.1:9847", web_config_file: webhook-web-basic-auth.yml}
`
	cfg, err := Decode(strings.NewReader(in), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sources.webhook.web_config_file testdata/webhook-web-basic-auth.yml sets basic_auth_users: " +
		"Tencent's callbacks send no Authorization header, so /webhook/tencent will refuse them " +
		"(authenticate them with tencent_callback_token instead)"}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q, want %q", cfg.Warnings, want)
	}
}

func TestDecodeNoSourcesWarns(t *testing.T) {
	cfg, err := Decode(strings.NewReader("apps: [{name: a, sdkappid: 1, identifier: x, secret_key: k}]"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sources: no files and no webhook configured, so no PushIDs will be read"}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q, want %q", cfg.Warnings, want)
	}
}

func TestDecodeCollectsAllErrors(t *testing.T) {
	const in = `
apps:
  - name: prod
    sdkappid: 1
    identifier: administrator
    secret_key: k
    rate_limit: 0
    sample_ratio: 0
`
	_, err := Decode(strings.NewReader(in), "")
	want := "apps[0].rate_limit: must be > 0 and <= 100, got 0\napps[0].sample_ratio: must be > 0 and <= 1, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %q", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-config.yml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want os.ErrNotExist", err)
	}
}

func minutes(n int) model.Duration { return model.Duration(time.Duration(n) * time.Minute) }

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
}
