package taxonomy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type reasonCase struct {
	name     string
	platform string
	stage    string
	code     int
	info     string
	want     string
}

func checkReasons(t *testing.T, tab *Table, tests []reasonCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tab.Reason(tt.platform, tt.stage, tt.code, tt.info); got != tt.want {
				t.Errorf("Reason(%q, %q, %d, %q) = %s, want %s", tt.platform, tt.stage, tt.code, tt.info, got, tt.want)
			}
		})
	}
}

// The vendors' rows, with the codes and texts the simulator reports
// (internal/simulator/vendors.go) among them.
func TestVendorRows(t *testing.T) {
	checkReasons(t, Default(), []reasonCase{
		{"apns 400 BadDeviceToken", "apns", "channel", 400, "BadDeviceToken", TokenInvalid},
		{"apns 400 DeviceTokenNotForTopic", "apns", "device", 400, "DeviceTokenNotForTopic", TokenInvalid},
		{"apns 400 BadTopic", "apns", "channel", 400, "BadTopic", AuthOrCertificate},
		{"apns 400 PayloadEmpty", "apns", "channel", 400, "PayloadEmpty", Payload},
		{"apns 400 without text", "apns", "channel", 400, "", Unknown},
		{"apns 403 InvalidProviderToken", "apns", "channel", 403, "InvalidProviderToken", AuthOrCertificate},
		{"apns 403 BadCertificateEnvironment", "apns", "channel", 403, "BadCertificateEnvironment", AuthOrCertificate},
		{"apns 410 Unregistered", "apns", "device", 410, "Unregistered", TokenInvalid},
		{"apns 410 ExpiredToken", "apns", "device", 410, "ExpiredToken", TokenInvalid},
		{"apns 413", "apns", "channel", 413, "PayloadTooLarge", Payload},
		{"apns 429 TooManyRequests", "apns", "channel", 429, "TooManyRequests", RateLimited},
		{"apns 429 TooManyProviderTokenUpdates", "apns", "channel", 429, "TooManyProviderTokenUpdates", RateLimited},
		{"apns provider token text, no code", "apns", "channel", 0, "TooManyProviderTokenUpdates", RateLimited},
		{"apns 500", "apns", "channel", 500, "InternalServerError", VendorUnavailable},
		{"apns 503", "apns", "channel", 503, "ServiceUnavailable", VendorUnavailable},

		{"fcm 404 UNREGISTERED", "fcm", "device", 404, "UNREGISTERED", TokenInvalid},
		{"fcm 400 invalid token", "fcm", "channel", 400, "The registration token is not a valid FCM registration token", TokenInvalid},
		{"fcm 400 INVALID_ARGUMENT", "fcm", "channel", 400, "INVALID_ARGUMENT", Payload},
		{"fcm 401", "fcm", "channel", 401, "THIRD_PARTY_AUTH_ERROR", AuthOrCertificate},
		{"fcm 403", "fcm", "channel", 403, "SENDER_ID_MISMATCH", AuthOrCertificate},
		{"fcm 429", "fcm", "channel", 429, "QUOTA_EXCEEDED", RateLimited},
		{"fcm QUOTA_EXCEEDED text", "fcm", "device", 0, "QUOTA_EXCEEDED", RateLimited},
		{"QUOTA_EXCEEDED elsewhere", "other", "device", 0, "QUOTA_EXCEEDED", QuotaExceeded},
		{"fcm 503", "fcm", "channel", 503, "UNAVAILABLE", VendorUnavailable},
		{"fcm text only", "fcm", "channel", 0, "SENDER_ID_MISMATCH", AuthOrCertificate},

		{"huawei 80300007", "huawei", "channel", 80300007, "token invalid", TokenInvalid},
		{"huawei 80300007 any text", "huawei", "device", 80300007, "", TokenInvalid},
		{"huawei 80100003", "huawei", "channel", 80100003, "message body illegal", Payload},
		{"huawei 80300008", "huawei", "channel", 80300008, "", Payload},
		{"huawei 80200003", "huawei", "channel", 80200003, "Oauth Token expired", AuthOrCertificate},
		{"huawei 80300002", "huawei", "channel", 80300002, "no permission to send to the token", AuthOrCertificate},
		{"huawei 81000001", "huawei", "channel", 81000001, "", VendorUnavailable},
		{"huawei 503 is flow control", "huawei", "device", 503, "traffic control", RateLimited},
		{"huawei legacy 80000004", "huawei", "device", 80000004, "", DeviceInactive},

		{"honor 80300007", "honor", "device", 80300007, "token invalid", TokenInvalid},
		{"honor 80100003", "honor", "channel", 80100003, "message body illegal", Payload},

		{"xiaomi 20301 regid", "xiaomi", "channel", 20301, "regid invalid", TokenInvalid},
		{"xiaomi 20301 no valid targets", "xiaomi", "channel", 20301, "No valid targets!", TokenInvalid},
		{"xiaomi 20301 other text", "xiaomi", "channel", 20301, "发送消息失败", Unknown},
		{"xiaomi 10034", "xiaomi", "channel", 10034, "too many messages sent by the app today", QuotaExceeded},
		{"xiaomi 10017", "xiaomi", "channel", 10017, "invalid parameter value", Payload},
		{"xiaomi 65003", "xiaomi", "device", 65003, "device not found", DeviceInactive},
		{"xiaomi 21302", "xiaomi", "channel", 21302, "", AuthOrCertificate},

		{"oppo 11 auth token", "oppo", "channel", 11, "Invalid AuthToken", AuthOrCertificate},
		{"oppo 11 register id text", "oppo", "device", 11, "register id invalid", TokenInvalid},
		{"oppo 33", "oppo", "channel", 33, "daily push quota exceeded", QuotaExceeded},
		{"oppo -2", "oppo", "channel", -2, "Service in Flow Control", RateLimited},
		{"oppo 10000 system error", "oppo", "channel", 10000, "system error", VendorUnavailable},

		{"vivo 10302 regId", "vivo", "device", 10302, "regId invalid", TokenInvalid},
		{"vivo 10070", "vivo", "channel", 10070, "daily push quota exceeded", QuotaExceeded},
		{"vivo 10055 content", "vivo", "channel", 10055, "message content illegal", Payload},

		{"meizu 110002", "meizu", "device", 110002, "pushId invalid", TokenInvalid},
		{"meizu 110010", "meizu", "channel", 110010, "request frequency over the limit", RateLimited},
		{"meizu 1006", "meizu", "channel", 1006, "", AuthOrCertificate},
	})
}

func TestTencentStages(t *testing.T) {
	checkReasons(t, Default(), []reasonCase{
		{"token not uploaded", "huawei", "offline", -1, "token not uploaded", TokenInvalid},
		{"-1 elsewhere is unknown", "huawei", "channel", -1, "unknown error", Unknown},
		{"91000 at im", "apns", "im", 91000, "", VendorUnavailable},
		{"90047 at offline", "vivo", "offline", 90047, "", QuotaExceeded},
		{"Tencent code at a vendor stage", "vivo", "channel", 90047, "", Unknown},
	})
}

func TestTextFallback(t *testing.T) {
	checkReasons(t, Default(), []reasonCase{
		{"notification switch", "xiaomi", "device", 1234, "notification switch closed by user", NotificationsDisabled},
		{"notifications disabled", "vivo", "device", 7, "Notifications are disabled", NotificationsDisabled},
		{"chinese switch", "oppo", "device", 7, "用户关闭了推送开关", NotificationsDisabled},
		{"offline word alone is not the device", "unknown", "offline", 7, "offline push failed", Unknown},
		{"device offline", "other", "device", 7, "device is offline", DeviceInactive},
		{"not online", "unknown", "online_channel", 2, "user not online", DeviceInactive},
		{"no online connection", "unknown", "online_channel", 2, "no online connection", DeviceInactive},
		{"uninstalled", "meizu", "device", 7, "App uninstalled", DeviceInactive},
		{"p12", "apns", "channel", 0, "p12 certificate expired", AuthOrCertificate},
		{"oauth before token", "honor", "channel", 7, "Oauth Token expired", AuthOrCertificate},
		{"token", "honor", "channel", 7, "token invalid", TokenInvalid},
		{"registration id", "other", "channel", 7, "Invalid registration id", TokenInvalid},
		{"body", "other", "channel", 7, "message body too long", Payload},
		{"too large", "other", "channel", 7, "MessageTooLarge", Payload},
		{"traffic control", "other", "channel", 7, "traffic control", RateLimited},
		{"too many requests", "other", "channel", 7, "Too Many Requests", RateLimited},
		{"quota", "other", "channel", 7, "quota exceeded", QuotaExceeded},
		{"daily limit", "other", "channel", 7, "Push times exceed the daily limit", QuotaExceeded},
		{"timeout", "other", "channel", 7, "request timeout", VendorUnavailable},
		{"busy", "other", "channel", 7, "server busy, try again later", VendorUnavailable},
		{"chinese busy", "other", "channel", 7, "系统繁忙", VendorUnavailable},
		{"switch accounts is not notifications", "other", "im", 90103, "failed to switch accounts", Unknown},
	})
}

func TestUnknown(t *testing.T) {
	checkReasons(t, Default(), []reasonCase{
		{"nothing", "", "", 0, "", Unknown},
		{"unknown code", "huawei", "device", 424242, "", Unknown},
		{"no ack", "unknown", "online_device", 3, "no ack from device", Unknown},
		{"unknown platform label", "blackberry", "device", 410, "", Unknown},
	})
}

func intp(i int) *int { return &i }

func TestOverridesFirst(t *testing.T) {
	tab, err := New([]Override{
		{Platform: "huawei", ErrorCode: intp(80300007), Reason: DeviceInactive},
		{ErrorInfo: `(?i)traffic`, Reason: QuotaExceeded},
		{Stage: "click", Reason: Unknown},
		{Platform: "huawei", ErrorCode: intp(80300007), Reason: Payload}, // shadowed by the first
		{Platform: "vivo", Stage: "device", ErrorCode: intp(10302), ErrorInfo: `^regId`, Reason: NotificationsDisabled},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReasons(t, tab, []reasonCase{
		{"override beats exact row", "huawei", "device", 80300007, "token invalid", DeviceInactive},
		{"override text beats exact row", "huawei", "device", 503, "traffic control", QuotaExceeded},
		{"override by stage", "apns", "click", 410, "Unregistered", Unknown},
		{"all fields must match", "vivo", "device", 10302, "regId invalid", NotificationsDisabled},
		{"stage differs", "vivo", "channel", 10302, "regId invalid", TokenInvalid},
		{"regexp is case-sensitive without (?i)", "vivo", "device", 10302, "REGID invalid", TokenInvalid},
		{"built-in rows still apply", "apns", "device", 410, "Unregistered", TokenInvalid},
	})
	if got := Default().Reason("huawei", "device", 80300007, ""); got != TokenInvalid {
		t.Errorf("Default() changed by New(overrides): %s", got)
	}
}

func TestNewErrors(t *testing.T) {
	want := func(i int, msg string) string { return fmt.Sprintf("override %d: %s", i, msg) }
	tests := []struct {
		name string
		in   []Override
		want string
	}{
		{"unknown reason", []Override{{Platform: "apns", Reason: "later"}},
			want(0, `reason: unknown reason "later", want one of `+strings.Join(vocabulary, ", "))},
		{"missing reason", []Override{{Platform: "apns"}},
			want(0, "reason: required, one of "+strings.Join(vocabulary, ", "))},
		{"no matcher", []Override{{Platform: "apns", Reason: Payload}, {Reason: Payload}},
			want(1, "at least one of platform, stage, error_code and error_info is required")},
		{"bad regexp", []Override{{ErrorInfo: `[0-9`, Reason: Payload}},
			want(0, "error_info: error parsing regexp: missing closing ]: `[0-9`")},
		{"unknown platform", []Override{{Platform: "huwei", Reason: Payload}},
			want(0, `platform: unknown platform "huwei", want one of unknown, apns, xiaomi, huawei, fcm, meizu, oppo, vivo, honor, other`)},
		{"unknown stage", []Override{{Stage: "deliver", Reason: Payload}},
			want(0, `stage: unknown stage "deliver", want one of im, offline, channel, device, click, online_channel, online_device`)},
		{"every error", []Override{{ErrorInfo: `(`, Reason: Payload}, {Stage: "x", Reason: Payload}},
			want(0, "error_info: error parsing regexp: missing closing ): `(`") + "\n" +
				want(1, `stage: unknown stage "x", want one of im, offline, channel, device, click, online_channel, online_device`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := New(tt.in)
			if err == nil {
				t.Fatalf("New = %v, want error %q", tab, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("New error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// Every row is reachable (no earlier row shadows it), names a source, and
// maps to the vocabulary.
func TestBuiltinRows(t *testing.T) {
	tab := Default()
	for _, rules := range [][]rule{tab.exact, tab.vendor, tab.generic} {
		for _, r := range rules {
			if !slices.Contains(vocabulary, r.reason) || r.reason == Unknown {
				t.Errorf("%s %s: reason %q", r.platform, r.describe(), r.reason)
			}
			if r.src == nil || r.src.title == "" || r.note == "" {
				t.Errorf("%s %s: no source or note", r.platform, r.describe())
			}
			if r.hasCode && r.info == nil {
				stage := ""
				if r.stages != nil {
					stage = r.stages[0]
				}
				if got := tab.Reason(r.platform, stage, r.code, ""); got != r.reason {
					t.Errorf("%s %d: Reason = %s, want %s (shadowed?)", r.platform, r.code, got, r.reason)
				}
			}
		}
	}
}

func TestReasons(t *testing.T) {
	got := Reasons()
	if len(got) != 9 || got[len(got)-1] != Unknown {
		t.Errorf("Reasons() = %v", got)
	}
	got[0] = "changed"
	if Reasons()[0] != TokenInvalid {
		t.Error("Reasons() returns the package's slice")
	}
}

func TestMemoBounded(t *testing.T) {
	tab, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxMemo + 10 { // distinct keys, answered by an exact row
		if got := tab.Reason("huawei", strconv.Itoa(i), 80300007, ""); got != TokenInvalid {
			t.Fatalf("Reason = %s", got)
		}
	}
	if n := len(tab.memo); n > maxMemo {
		t.Errorf("memo holds %d entries, want <= %d", n, maxMemo)
	}
	long := strings.Repeat("x", 10*maxInfo) + "token"
	if got := tab.Reason("other", "device", 1, long); got != Unknown {
		t.Errorf("Reason(text past maxInfo) = %s, want unknown: only the first %d bytes are matched", got, maxInfo)
	}
	if got := tab.Reason("other", "device", 1, "token"+strings.Repeat("x", 10*maxInfo)); got != TokenInvalid {
		t.Errorf("Reason(long text) = %s, want token_invalid", got)
	}
}

func TestConcurrent(t *testing.T) {
	tab := Default()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if got := tab.Reason("huawei", "device", 80300007+i%3*g, "token invalid"); !slices.Contains(vocabulary, got) {
					t.Errorf("Reason = %q", got)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkReason(b *testing.B) {
	tab := Default()
	b.Run("memoised", func(b *testing.B) {
		for range b.N {
			tab.Reason("xiaomi", "device", 20301, "regid invalid")
		}
	})
	b.Run("unmemoised", func(b *testing.B) {
		for i := range b.N {
			tab.classify(key{"xiaomi", "device", i, "something nobody wrote"})
		}
	})
}
