package simulator

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tencentyun/tls-sig-api-v2-golang/tencentyun"

	"github.com/timpush/timpush_exporter/internal/clock"
)

const (
	testApp   = int64(1400000001)
	otherApp  = int64(1400000002)
	testAdmin = "administrator"
	testKey   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	otherKey  = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	yearSecs  = 365 * 24 * 3600
)

// t0 is near the real time, because GenUserSig stamps signatures with the
// wall clock and the simulator checks them against its (fake) clock.
var t0 = time.Now().Truncate(time.Second)

func testConfig() Config {
	return Config{
		Apps: []App{
			{SDKAppID: testApp, Identifier: testAdmin, SecretKey: testKey},
			{SDKAppID: otherApp, Identifier: testAdmin, SecretKey: otherKey},
		},
		RateLimit: math.Inf(1),
		Seed:      42,
	}
}

// newSim returns a simulator on a fake clock standing at t0.
func newSim(t *testing.T, cfg Config) (*Simulator, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(t0)
	cfg.Clock = fc
	return New(cfg), fc
}

func userSig(t *testing.T, app int64, key, ident string, expire int) string {
	t.Helper()
	sig, err := tencentyun.GenUserSig(int(app), key, ident, expire)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// goodQuery is a correctly signed query string for testApp.
func goodQuery(t *testing.T) url.Values {
	t.Helper()
	return url.Values{
		"sdkappid":    {"1400000001"},
		"identifier":  {testAdmin},
		"usersig":     {userSig(t, testApp, testKey, testAdmin, yearSecs)},
		"random":      {"4026038328"},
		"contenttype": {"json"},
	}
}

type result struct {
	status int
	body   []byte
}

type errResp struct {
	ActionStatus string
	ErrorCode    int
	ErrorInfo    string
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("reply %q: %v", r.body, err)
	}
}

func (r result) code(t *testing.T) int {
	t.Helper()
	var e errResp
	r.decode(t, &e)
	return e.ErrorCode
}

// do sends one request through the handler.
func do(t *testing.T, s *Simulator, method, path string, q url.Values, body string) result {
	t.Helper()
	return doCtx(t, context.Background(), s, method, path, q, body)
}

func doCtx(t *testing.T, ctx context.Context, s *Simulator, method, path string, q url.Values, body string) result {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, method, path+"?"+q.Encode(), strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return result{rec.Code, rec.Body.Bytes()}
}

func traceCall(t *testing.T, s *Simulator, q url.Values, pushID string) result {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"PushID": pushID})
	return do(t, s, http.MethodPost, PathTrace, q, string(b))
}

// Decoded trace reply, written from the documentation (not from our types).
type traceResp struct {
	ActionStatus  string
	ErrorCode     int
	ErrorInfo     string
	InstanceTrace []map[string]json.RawMessage
}

type statResp struct {
	PushStatus int
	ErrorCode  int
	ErrorInfo  string
	EventTime  string
}

// stagesOf extracts the stage objects present in one instance, by stage name.
func stagesOf(t *testing.T, inst map[string]json.RawMessage) map[string]statResp {
	t.Helper()
	out := map[string]statResp{}
	sections := map[string]map[string]string{
		"IMCommitStat":    {"IMStat": "im"},
		"OfflinePushStat": {"OfflineStat": "offline", "ChannelStat": "channel", "DeviceStat": "device", "ClickStat": "click"},
		"OnlinePushStat":  {"ChannelStat": "online_channel", "DeviceStat": "online_device"},
	}
	for sec, names := range sections {
		raw, ok := inst[sec]
		if !ok {
			continue
		}
		var m map[string]statResp
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", sec, err)
		}
		for field, st := range m {
			name, ok := names[field]
			if !ok {
				t.Fatalf("unexpected %s.%s", sec, field)
			}
			out[name] = st
		}
	}
	return out
}

func intField(t *testing.T, inst map[string]json.RawMessage, name string) int {
	t.Helper()
	var n int
	if err := json.Unmarshal(inst[name], &n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func strField(t *testing.T, inst map[string]json.RawMessage, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(inst[name], &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}
