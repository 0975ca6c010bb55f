package source

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

const (
	whOK        = `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`
	whToken     = "xxxxyyyy"
	whProdAppID = "1400000001"
)

// whTencentURL builds a callback URL; sign adds RequestTime rt and its Sign.
func whTencentURL(sdkappid, cmd string, sign bool, rt int64) string {
	q := url.Values{"contenttype": {"json"}, "ClientIP": {"127.0.0.1"}, "OptPlatform": {"RESTAPI"}}
	if sdkappid != "" {
		q.Set("SdkAppid", sdkappid)
	}
	if cmd != "" {
		q.Set("CallbackCommand", cmd)
	}
	if sign {
		t := strconv.FormatInt(rt, 10)
		q.Set("RequestTime", t)
		q.Set("Sign", tencentSign(whToken, t))
	}
	return "/webhook/tencent?" + q.Encode()
}

func (e *whEnv) tencent(target, body string) *whRecorder {
	e.t.Helper()
	return e.serve(httptest.NewRequest(http.MethodPost, target, strings.NewReader(body)))
}

func whFail(info string) string {
	return fmt.Sprintf(`{"ActionStatus":"FAIL","ErrorInfo":%q,"ErrorCode":1}`, info)
}

func TestTencentSignVector(t *testing.T) {
	const want = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
	if got := tencentSign("xxxxyyyy", "1669872112"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestTencentAuth(t *testing.T) {
	now := whNow.Unix()
	base := whTencentURL(whProdAppID, tencentC2CAfterSendMsg, false, 0)
	body := `{"MsgId":"m-1"}`
	tests := []struct {
		name     string
		token    string
		target   string
		wantCode int
		wantBody string
		reason   string // auth failure counted
	}{
		{"signed", whToken, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, true, now), 200, whOK, ""},
		{"test vector verbatim", whToken, base + "&RequestTime=1669872112&Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061", 200, whOK, ""},
		{"60s old", whToken, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, true, now-60), 200, whOK, ""},
		{"60s ahead", whToken, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, true, now+60), 200, whOK, ""},
		{"no token, unsigned", "", base, 200, whOK, ""},
		{"no token, junk sign", "", base + "&RequestTime=1&Sign=zz", 200, whOK, ""},
		{"bad sign", whToken, base + "&RequestTime=1669872112&Sign=" + strings.Repeat("0", 64), 401, whFail("bad Sign"), "bad_sign"},
		{"uppercase sign", whToken, base + "&RequestTime=1669872112&Sign=17773BC39A671D7B9AA835458704D2A6DB81360A5940292B587D6D760D484061", 401, whFail("bad Sign"), "bad_sign"},
		{"sign for other time", whToken, base + "&RequestTime=1669872113&Sign=" + tencentSign(whToken, "1669872112"), 401, whFail("bad Sign"), "bad_sign"},
		{"wrong token", whToken, base + "&RequestTime=1669872112&Sign=" + tencentSign("other", "1669872112"), 401, whFail("bad Sign"), "bad_sign"},
		{"stale 61s old", whToken, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, true, now-61), 401, whFail("stale RequestTime"), "stale"},
		{"stale 61s ahead", whToken, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, true, now+61), 401, whFail("stale RequestTime"), "stale"},
		{"signed non-numeric time", whToken, base + "&RequestTime=soon&Sign=" + tencentSign(whToken, "soon"), 401, whFail("stale RequestTime"), "stale"},
		{"missing sign", whToken, base + "&RequestTime=1669872112", 401, whFail("missing Sign or RequestTime"), "missing"},
		{"missing time", whToken, base + "&Sign=" + tencentSign(whToken, "1669872112"), 401, whFail("missing Sign or RequestTime"), "missing"},
		{"unsigned", whToken, base, 401, whFail("missing Sign or RequestTime"), "missing"},
		{"unknown sdkappid", whToken, whTencentURL("1400000009", tencentC2CAfterSendMsg, true, now), 404, whFail("unknown SdkAppid"), ""},
		{"missing sdkappid", "", whTencentURL("", tencentC2CAfterSendMsg, false, 0), 404, whFail("unknown SdkAppid"), ""},
		{"junk sdkappid", "", whTencentURL("prod", tencentC2CAfterSendMsg, false, 0), 404, whFail("unknown SdkAppid"), ""},
		{"unknown sdkappid, bad sign", whToken, whTencentURL("1400000009", tencentC2CAfterSendMsg, false, 0), 401, whFail("missing Sign or RequestTime"), "missing"},
		{"lowercase sdkappid", "", "/webhook/tencent?sdkappid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg", 200, whOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			e.set(func(e *whEnv) { e.callbackToken = tt.token })
			rec := e.tencent(tt.target, body)
			if rec.Code != tt.wantCode || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			offered, _ := e.sink.state()
			if want := map[bool]int{true: 1}[tt.wantCode == 200]; len(offered) != want {
				t.Errorf("offered %v", offered)
			}
			for _, r := range []string{"missing", "bad_sign", "stale"} {
				want := map[bool]float64{true: 1}[r == tt.reason]
				if got := testutil.ToFloat64(e.w.authFailures.WithLabelValues("tencent", r)); got != want {
					t.Errorf("auth failures %s = %v, want %v", r, got, want)
				}
			}
		})
	}
}

func TestTencentCommands(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string // query parameter; "" leaves it to the body
		body    string
		want    []string // PushIDs offered
		events  int      // events offered
		ignored map[string]float64
	}{
		{"c2c", tencentC2CAfterSendMsg, whBody(t, "webhook-c2c.json"), []string{"144115233406643804-1727580296-4026038328"}, 0, nil},
		{"c2c command from body", "", whBody(t, "webhook-c2c.json"), []string{"144115233406643804-1727580296-4026038328"}, 0, nil},
		{"group", tencentGroupAfterSendMsg, whBody(t, "webhook-group.json"), []string{"144115233406643804-1727580297-1111111111"}, 0, nil},
		{"c2c MsgKey only", tencentC2CAfterSendMsg, whBody(t, "webhook-c2c-msgkey.json"), nil, 0, map[string]float64{"no_id": 1}},
		{"offline push", tencentOfflinePush, whBody(t, "webhook-offlinepush.json"), []string{
			"67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46421",
			"67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46422",
		}, 3, map[string]float64{"no_id": 1}},
		{"offline push command from events", "", whBody(t, "webhook-offlinepush.json"), []string{
			"67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46421",
			"67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46422",
		}, 3, map[string]float64{"no_id": 1}},
		{"offline push, documented example", tencentOfflinePush, whBody(t, "webhook-offlinepush-doc.json"), []string{
			"67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46421",
			"6710c631_85_392fcbcff_200000b2f2c6820_200002c869bfb81",
		}, 2, nil},
		{"offline push no events", tencentOfflinePush, `{"Events":[]}`, nil, 0, map[string]float64{"no_id": 1}},
		{"offline push null events", tencentOfflinePush, `{"Events":null}`, nil, 0, map[string]float64{"no_id": 1}},
		{"offline push invalid id", tencentOfflinePush, `{"Events":[{"PushID":"a b"},{"PushID":"ok-1"},{"PushID":"` + strings.Repeat("x", 129) + `"},{"PushID":7}]}`,
			[]string{"ok-1"}, 0, map[string]float64{"invalid_id": 3, "bad_event": 4}},
		{"all member push", tencentAllMemberPush, whBody(t, "webhook-allmemberpush.json"), nil, 1, nil},
		{"all member push from events", "", whBody(t, "webhook-allmemberpush.json"), nil, 1, nil},
		{"all member push, documented example", tencentAllMemberPush, whBody(t, "webhook-allmemberpush-doc.json"), nil, 2, nil},
		{"all member push no events", tencentAllMemberPush, `{"Events":[]}`, nil, 0, map[string]float64{"no_event": 1}},
		{"before send", "C2C.CallbackBeforeSendMsg", `{"MsgId":"m-1"}`, nil, 0, map[string]float64{"command": 1}},
		{"no command", "", `{"MsgId":"m-1"}`, nil, 0, map[string]float64{"command": 1}},
		{"JSON null", tencentC2CAfterSendMsg, `null`, nil, 0, map[string]float64{"no_id": 1}},
		{"MsgId null", tencentC2CAfterSendMsg, `{"MsgId":null}`, nil, 0, map[string]float64{"no_id": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			rec := e.tencent(whTencentURL(whProdAppID, tt.cmd, false, 0), tt.body)
			if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != whOK {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			offered, _ := e.sink.state()
			var got []string
			for _, id := range offered {
				got = append(got, id.PushID)
				if id.App != "prod" || id.Source != pushid.SourceWebhook || !id.Seen.Equal(whNow) {
					t.Errorf("offered %+v", id)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("offered %q, want %q", got, tt.want)
			}
			if events, received := e.sink.taken(); len(events) != tt.events || received != len(tt.want) {
				t.Errorf("offered %d events and %d received, want %d and %d", len(events), received, tt.events, len(tt.want))
			}
			for _, r := range ignoredReasonNames {
				if got := testutil.ToFloat64(e.w.ignored.WithLabelValues(r)); got != tt.ignored[r] {
					t.Errorf("ignored %s = %v, want %v", r, got, tt.ignored[r])
				}
			}
		})
	}
}

func TestTencentHundredEvents(t *testing.T) {
	e := newWhEnv(t)
	e.set(func(e *whEnv) { e.callbackToken = whToken })
	type event struct {
		CallbackCommand string
		EventType       int
		PushID          string
	}
	var b struct{ Events []event }
	for i := range 100 {
		b.Events = append(b.Events, event{tencentOfflinePush, 1, fmt.Sprintf("p-%03d", i)})
	}
	body, _ := json.Marshal(b)
	e.clk.Advance(30 * time.Second)
	rec := e.tencent(whTencentURL("1400000002", tencentOfflinePush, true, whNow.Unix()), string(body))
	if rec.Code != 200 {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	offered, durable := e.sink.state()
	if len(offered) != 100 || durable != 1 {
		t.Fatalf("offered %d, Durable %d times", len(offered), durable)
	}
	for i, id := range offered {
		if id.PushID != fmt.Sprintf("p-%03d", i) || id.App != "staging" || !id.Seen.Equal(whNow.Add(30*time.Second)) {
			t.Errorf("offered[%d] = %+v", i, id)
		}
	}
}

func TestTencentBadRequests(t *testing.T) {
	tests := []struct {
		name, method, body string
		wantCode           int
		wantBody           string
	}{
		{"bad JSON", http.MethodPost, `{"MsgId":`, 400, whFail("invalid JSON")},
		{"empty body", http.MethodPost, ``, 400, whFail("invalid JSON")},
		{"array", http.MethodPost, `[]`, 400, whFail("invalid JSON")},
		{"MsgId not a string", http.MethodPost, `{"MsgId":5}`, 400, whFail("invalid JSON")},
		{"CallbackCommand not a string", http.MethodPost, `{"CallbackCommand":[],"MsgId":"m"}`, 400, whFail("invalid JSON")},
		{"Events not an array", http.MethodPost, `{"Events":{}}`, 400, whFail("invalid JSON")},
		{"Events twice", http.MethodPost, `{"Events":[],"events":[]}`, 400, whFail("invalid JSON")},
		{"nested too deep", http.MethodPost, `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 400, whFail("invalid JSON")},
		{"trailing junk", http.MethodPost, `{"MsgId":"m"} x`, 400, whFail("invalid JSON")},
		{"too large", http.MethodPost, `{"MsgId":"` + strings.Repeat("x", 70<<10) + `"}`, 413, whFail("Request Entity Too Large")},
		{"GET", http.MethodGet, ``, 405, whFail("method not allowed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			req := httptest.NewRequest(tt.method, whTencentURL(whProdAppID, tencentC2CAfterSendMsg, false, 0), strings.NewReader(tt.body))
			rec := e.serve(req)
			if rec.Code != tt.wantCode || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if tt.wantCode == 405 && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow: %q", rec.Header().Get("Allow"))
			}
			if offered, _ := e.sink.state(); len(offered) != 0 {
				t.Errorf("offered %v", offered)
			}
		})
	}
}
