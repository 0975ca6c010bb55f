package source

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWebhookHealthy(t *testing.T) {
	e := newWhEnv(t)
	rec := e.serve(httptest.NewRequest(http.MethodGet, "/-/healthy", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "Healthy\n" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestNewWebhookErrors(t *testing.T) {
	apps := func() []WebhookApp { return nil }
	if _, err := NewWebhook(WebhookOptions{Apps: apps}, nil); err == nil {
		t.Error("nil sink: no error")
	}
	if _, err := NewWebhook(WebhookOptions{}, &whSink{}); err == nil {
		t.Error("nil Apps: no error")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewWebhook(WebhookOptions{Apps: apps, Registerer: reg}, &whSink{}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWebhook(WebhookOptions{Apps: apps, Registerer: reg}, &whSink{}); err == nil {
		t.Error("registering twice: no error")
	}
	// Defaults: no clock, logger, tokens or limit given.
	w, err := NewWebhook(WebhookOptions{Apps: func() []WebhookApp { return []WebhookApp{{Name: "a", SDKAppID: 1}} }}, &whSink{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhook/push-ids", strings.NewReader(`{"PushID":"x"}`)))
	if rec.Code != http.StatusOK {
		t.Errorf("defaults: got %d %s", rec.Code, rec.Body)
	}
}

// TestWebhookDurableOrder holds Durable and checks that no reply is written
// until it returns.
func TestWebhookDurableOrder(t *testing.T) {
	for _, tt := range []struct{ name, target, body string }{
		{"tencent", "/webhook/tencent?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg", `{"MsgId":"m-1"}`},
		{"push_ids", "/webhook/push-ids?app=prod", `{"PushID":"p-1"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			e.sink.block, e.sink.entered = make(chan struct{}), make(chan struct{}, 1)
			done := make(chan *whRecorder)
			go func() { done <- e.serve(httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))) }()
			whWaitDurable(t, e, done)
			if offered, _ := e.sink.state(); len(offered) != 1 {
				t.Fatalf("offered %v before Durable", offered)
			}
			select {
			case rec := <-done:
				t.Fatalf("replied %d while Durable was pending", rec.Code)
			case <-time.After(20 * time.Millisecond):
			}
			close(e.sink.block)
			if rec := <-done; rec.Code != http.StatusOK {
				t.Errorf("got %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestWebhookDurableFails(t *testing.T) {
	for _, tt := range []struct{ name, target, body, want string }{
		{"tencent", "/webhook/tencent?SdkAppid=1400000001&CallbackCommand=Push.OfflinePush", `{"Events":[{"PushID":"p-1"}]}`,
			`{"ActionStatus":"FAIL","ErrorInfo":"not saved, retry later","ErrorCode":1}`},
		{"push_ids", "/webhook/push-ids?app=prod", "p-1\np-2\n", `{"error":"not saved, retry later"}`},
	} {
		t.Run(tt.name+"/error", func(t *testing.T) {
			e := newWhEnv(t)
			e.sink.err = errors.New("disk full")
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "text/plain")
			rec := e.serve(req)
			if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != tt.want {
				t.Errorf("got %d %s", rec.Code, rec.Body)
			}
			if !strings.Contains(e.logs.String(), "disk full") {
				t.Errorf("Durable error not logged: %s", e.logs.String())
			}
		})
		t.Run(tt.name+"/timeout", func(t *testing.T) {
			e := newWhEnv(t)
			e.sink.block, e.sink.entered = make(chan struct{}), make(chan struct{}, 1)
			done := make(chan *whRecorder)
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "text/plain")
			go func() { done <- e.serve(req) }()
			whWaitDurable(t, e, done)
			e.clk.BlockUntil(1)
			e.clk.Advance(WebhookDefaultDurableTimeout - time.Second)
			select {
			case rec := <-done:
				t.Fatalf("replied %d before the timeout", rec.Code)
			case <-time.After(10 * time.Millisecond):
			}
			e.clk.Advance(time.Second)
			rec := <-done
			if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != tt.want {
				t.Errorf("got %d %s", rec.Code, rec.Body)
			}
			if !strings.Contains(e.logs.String(), "timed out") {
				t.Errorf("timeout not logged: %s", e.logs.String())
			}
			if n := e.clk.Waiters(); n != 0 {
				t.Errorf("%d timers left behind", n)
			}
		})
	}
}

// TestWebhookNoSecretsLogged makes requests that fail authentication or
// parsing, with debug logging on, and checks that no token, Sign or body
// content reaches the log or the reply.
func TestWebhookNoSecretsLogged(t *testing.T) {
	e := newWhEnv(t)
	e.set(func(e *whEnv) { e.callbackToken, e.bearerToken = "cb-secret-token", "bearer-secret-token" })
	sign := tencentSign("cb-secret-token", "1669872112")
	reqs := []*http.Request{
		httptest.NewRequest(http.MethodPost, "/webhook/tencent?SdkAppid=1400000001&RequestTime=1669872112&Sign=wrong-sign-value", strings.NewReader(`{"MsgId":"zqxj-marker"}`)),
		httptest.NewRequest(http.MethodPost, "/webhook/tencent?SdkAppid=1400000001&RequestTime=1669872112&Sign="+sign, strings.NewReader(`{"MsgId":"zqxj-marker"`)),
	}
	badJSON := httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", strings.NewReader(`{"PushID":"zqxj-marker"`))
	badJSON.Header.Set("Authorization", "Bearer bearer-secret-token")
	wrong := httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", strings.NewReader(`{"PushID":"zqxj-marker"}`))
	wrong.Header.Set("Authorization", "Bearer wrong-bearer-value")
	good := httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", strings.NewReader(`{"PushID":"zqxj marker"}`))
	good.Header.Set("Authorization", "Bearer bearer-secret-token")
	reqs = append(reqs, badJSON, wrong, good)
	var replies strings.Builder
	for _, r := range reqs {
		rec := e.serve(r)
		if rec.Code/100 != 4 {
			t.Errorf("%s: got %d", r.URL, rec.Code)
		}
		replies.WriteString(rec.Body.String())
	}
	for _, s := range []string{"cb-secret-token", "bearer-secret-token", sign, "wrong-sign-value", "wrong-bearer-value", "zqxj"} {
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("log contains %q:\n%s", s, e.logs.String())
		}
		if strings.Contains(replies.String(), s) {
			t.Errorf("replies contain %q:\n%s", s, replies.String())
		}
	}
}

func TestWebhookMetrics(t *testing.T) {
	e := newWhEnv(t)
	e.set(func(e *whEnv) { e.callbackToken, e.bearerToken = "xxxxyyyy", "tok" })
	post := func(target, body, auth string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		e.serve(req)
	}
	signed := "/webhook/tencent?SdkAppid=1400000001&RequestTime=1669872112&Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
	post(signed+"&CallbackCommand=C2C.CallbackAfterSendMsg", `{"MsgId":"m-1"}`, "")
	post(signed+"&CallbackCommand=C2C.CallbackAfterSendMsg", `{"MsgKey":"1_2_3"}`, "")
	post(signed+"&CallbackCommand=Push.OfflinePush", `{"Events":[{"PushID":"p-1"},{},{"PushID":"bad id"}]}`, "")
	post(signed+"&CallbackCommand=Push.AllMemberPush", `{"Events":[{"TaskId":"t-1","PushPlatform":3,"PushStage":1,"ErrCode":0}]}`, "")
	post(signed+"&CallbackCommand=Group.CallbackBeforeSendMsg", `{"MsgId":"m-2"}`, "")
	post(signed, `{`, "")
	post(strings.Replace(signed, "1400000001", "1", 1), `{}`, "")
	post("/webhook/tencent?SdkAppid=1400000001&RequestTime=1669872112&Sign=00", `{}`, "")
	post("/webhook/tencent?SdkAppid=1400000001", `{}`, "")
	e.clk.Advance(61 * time.Second)
	post(signed, `{}`, "")
	post("/webhook/push-ids?app=prod", `{"PushIDs":["a","b"]}`, "Bearer tok")
	post("/webhook/push-ids?app=prod", `{"PushIDs":["a","b"]}`, "Bearer nope")
	post("/webhook/push-ids?app=prod", `{"PushIDs":["a","b"]}`, "")
	post("/webhook/push-ids?app=nope", `{"PushIDs":["a","b"]}`, "Bearer tok")

	want := `
# HELP timpush_exporter_webhook_auth_failures_total Webhook requests rejected as unauthenticated, by endpoint and reason.
# TYPE timpush_exporter_webhook_auth_failures_total counter
timpush_exporter_webhook_auth_failures_total{endpoint="push_ids",reason="bad_token"} 1
timpush_exporter_webhook_auth_failures_total{endpoint="push_ids",reason="missing"} 1
timpush_exporter_webhook_auth_failures_total{endpoint="tencent",reason="bad_sign"} 1
timpush_exporter_webhook_auth_failures_total{endpoint="tencent",reason="missing"} 1
timpush_exporter_webhook_auth_failures_total{endpoint="tencent",reason="stale"} 1
# HELP timpush_exporter_webhook_events_without_time_total Push callback events whose EventTime was missing or not a time, given the time they were received instead.
# TYPE timpush_exporter_webhook_events_without_time_total counter
timpush_exporter_webhook_events_without_time_total 1
# HELP timpush_exporter_webhook_ignored_total Tencent callbacks, and the IDs and events in them, acknowledged without being used, by reason.
# TYPE timpush_exporter_webhook_ignored_total counter
timpush_exporter_webhook_ignored_total{reason="bad_event"} 3
timpush_exporter_webhook_ignored_total{reason="command"} 1
timpush_exporter_webhook_ignored_total{reason="invalid_id"} 1
timpush_exporter_webhook_ignored_total{reason="no_event"} 0
timpush_exporter_webhook_ignored_total{reason="no_id"} 2
# HELP timpush_exporter_webhook_requests_total Webhook requests answered, by endpoint and HTTP status code.
# TYPE timpush_exporter_webhook_requests_total counter
timpush_exporter_webhook_requests_total{code="200",endpoint="push_ids"} 1
timpush_exporter_webhook_requests_total{code="200",endpoint="tencent"} 5
timpush_exporter_webhook_requests_total{code="400",endpoint="tencent"} 1
timpush_exporter_webhook_requests_total{code="401",endpoint="push_ids"} 2
timpush_exporter_webhook_requests_total{code="401",endpoint="tencent"} 3
timpush_exporter_webhook_requests_total{code="404",endpoint="push_ids"} 1
timpush_exporter_webhook_requests_total{code="404",endpoint="tencent"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(e.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	offered, _ := e.sink.state()
	if len(offered) != 4 { // m-1, p-1, a, b
		t.Errorf("offered %v", offered)
	}
}

// TestQueryGet: queryGet answers as url.Values.Get of url.ParseQuery would.
func TestQueryGet(t *testing.T) {
	for _, q := range []string{
		"", "app=prod", "app=prod&app=other", "x=1&app=a%20b", "app=a+b", "app=%zz&app=ok", "app;x=1&app=ok",
		"app", "app=", "=x&app=y", "ap%70=enc", "APP=upper", "SdkAppid=1&sdkappid=2", "sdkappid=2", "SDKAPPID=3&sdkAppID=4",
		"&&app=x&&", "app=a=b", "%61pp=z",
	} {
		want, _ := url.ParseQuery(q)
		for _, key := range []string{"app", "SdkAppid"} {
			if got := queryGet(q, key, false); got != want.Get(key) {
				t.Errorf("queryGet(%q, %s) = %q, want %q", q, key, got, want.Get(key))
			}
		}
	}
	if got := queryGet("x=1&SDKAPPID=3&sdkAppID=4", "SdkAppid", true); got != "3" {
		t.Errorf("folded: got %q, want the first case-insensitive match", got)
	}
	if got := queryGet("sdkappid=2&SdkAppid=1", "SdkAppid", true); got != "1" {
		t.Errorf("folded: got %q, want the exact key first", got)
	}
}
