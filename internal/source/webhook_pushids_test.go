package source

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

func TestPushIDsEndpoint(t *testing.T) {
	long := strings.Repeat("x", pushid.MaxLen+1)
	maxID := strings.Repeat("y", pushid.MaxLen)
	tests := []struct {
		name        string
		method      string // default POST
		target      string // default /webhook/push-ids?app=prod
		contentType string
		auth        string // Authorization header
		bearer      string // configured bearer token
		oneApp      bool   // configure only "prod"
		body        string
		wantCode    int
		wantBody    string
		want        []string // PushIDs offered
		authReason  string   // push_ids auth failure counted
	}{
		{name: "single", contentType: "application/json", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "list", body: `{"PushIDs":["a-1","a-2","a-1"]}`,
			wantCode: 200, wantBody: `{"accepted":3}`, want: []string{"a-1", "a-2", "a-1"}},
		{name: "both fields", body: `{"PushID":"a-0","PushIDs":["a-1"],"Other":1}`,
			wantCode: 200, wantBody: `{"accepted":2}`, want: []string{"a-0", "a-1"}},
		{name: "form content type is JSON", contentType: "application/x-www-form-urlencoded", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "128 bytes", body: `{"PushID":"` + maxID + `"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{maxID}},
		{name: "text", contentType: "text/plain", body: "a-1\n\na-2\r\n  \n\ta-3 \na-4",
			wantCode: 200, wantBody: `{"accepted":4}`, want: []string{"a-1", "a-2", "a-3", "a-4"}},
		{name: "text with charset", contentType: "text/plain; charset=utf-8", body: "a-1\n",
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "bearer", bearer: "s3cret", auth: "Bearer s3cret", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "bearer lowercase scheme", bearer: "s3cret", auth: "bearer s3cret", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "app omitted, one app", oneApp: true, target: "/webhook/push-ids", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},
		{name: "other app", target: "/webhook/push-ids?app=staging", body: `{"PushID":"a-1"}`,
			wantCode: 200, wantBody: `{"accepted":1}`, want: []string{"a-1"}},

		{name: "bad JSON", body: `{"PushID":`, wantCode: 400, wantBody: `{"error":"invalid JSON"}`},
		{name: "JSON wrong type", body: `{"PushIDs":"a-1"}`, wantCode: 400, wantBody: `{"error":"invalid JSON"}`},
		{name: "JSON array", body: `["a-1"]`, wantCode: 400, wantBody: `{"error":"invalid JSON"}`},
		{name: "empty body", body: ``, wantCode: 400, wantBody: `{"error":"invalid JSON"}`},
		{name: "empty object", body: `{}`, wantCode: 400, wantBody: `{"error":"no PushIDs"}`},
		{name: "empty list", body: `{"PushIDs":[]}`, wantCode: 400, wantBody: `{"error":"no PushIDs"}`},
		{name: "empty text", contentType: "text/plain", body: "\n \r\n", wantCode: 400, wantBody: `{"error":"no PushIDs"}`},
		{name: "empty ID", body: `{"PushID":""}`, wantCode: 400, wantBody: `{"error":"PushID 0: invalid PushID: empty"}`},
		{name: "long ID", body: `{"PushIDs":["a-1","` + long + `"]}`, wantCode: 400,
			wantBody: `{"error":"PushID 1: invalid PushID: 129 bytes, longer than 128"}`},
		{name: "long ID text", contentType: "text/plain", body: "a-1\n" + long + "\n", wantCode: 400,
			wantBody: `{"error":"PushID 1: invalid PushID: 129 bytes, longer than 128"}`},
		{name: "control char", body: `{"PushIDs":["a-1","a\u0001b"]}`, wantCode: 400,
			wantBody: `{"error":"PushID 1: invalid PushID: contains a control character or space"}`},
		{name: "NUL in text", contentType: "text/plain", body: "a\x00b\n", wantCode: 400,
			wantBody: `{"error":"PushID 0: invalid PushID: contains a control character or space"}`},
		{name: "space inside", contentType: "text/plain", body: "a b\n", wantCode: 400,
			wantBody: `{"error":"PushID 0: invalid PushID: contains a control character or space"}`},
		{name: "invalid UTF-8", contentType: "text/plain", body: "a\xffb\n", wantCode: 400,
			wantBody: `{"error":"PushID 0: invalid PushID: not valid UTF-8"}`},
		{name: "too large", body: `{"PushID":"` + strings.Repeat("z", 70<<10) + `"}`, wantCode: 413,
			wantBody: `{"error":"request entity too large"}`},
		{name: "bearer wrong", bearer: "s3cret", auth: "Bearer nope", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "bad_token"},
		{name: "bearer prefix of token", bearer: "s3cret", auth: "Bearer s3cre", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "bad_token"},
		{name: "bearer wrong scheme", bearer: "s3cret", auth: "Basic s3cret", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "bad_token"},
		{name: "bearer no credentials", bearer: "s3cret", auth: "Bearer", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "bad_token"},
		{name: "bearer missing", bearer: "s3cret", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "missing"},
		{name: "bearer missing, unknown app", bearer: "s3cret", target: "/webhook/push-ids?app=nope", body: `{"PushID":"a-1"}`,
			wantCode: 401, wantBody: `{"error":"unauthorized"}`, authReason: "missing"},
		{name: "unknown app", target: "/webhook/push-ids?app=nope", body: `{"PushID":"a-1"}`,
			wantCode: 404, wantBody: `{"error":"unknown app"}`},
		{name: "app omitted, two apps", target: "/webhook/push-ids", body: `{"PushID":"a-1"}`,
			wantCode: 404, wantBody: `{"error":"app parameter required: not exactly one app configured"}`},
		{name: "GET", method: http.MethodGet, wantCode: 405, wantBody: `{"error":"method not allowed"}`},
		{name: "PUT", method: http.MethodPut, body: `{"PushID":"a-1"}`, wantCode: 405, wantBody: `{"error":"method not allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			e.set(func(e *whEnv) {
				e.bearerToken = tt.bearer
				if tt.oneApp {
					e.apps = e.apps[:1]
				}
			})
			method, target := tt.method, tt.target
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/webhook/push-ids?app=prod"
			}
			req := httptest.NewRequest(method, target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := e.serve(req)
			if rec.Code != tt.wantCode || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			switch tt.wantCode {
			case 401:
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			case 405:
				if rec.Header().Get("Allow") != http.MethodPost {
					t.Errorf("Allow: %q", rec.Header().Get("Allow"))
				}
			}
			offered, _ := e.sink.state()
			var got []string
			for _, id := range offered {
				got = append(got, id.PushID)
				if id.Source != pushid.SourceWebhook || !id.Seen.Equal(whNow) {
					t.Errorf("offered %+v", id)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("offered %q, want %q", got, tt.want)
			}
			for _, r := range []string{"missing", "bad_token"} {
				want := map[bool]float64{true: 1}[r == tt.authReason]
				if got := testutil.ToFloat64(e.w.authFailures.WithLabelValues("push_ids", r)); got != want {
					t.Errorf("auth failures %s = %v, want %v", r, got, want)
				}
			}
			if got := testutil.ToFloat64(e.w.requests.WithLabelValues("push_ids", fmt.Sprint(tt.wantCode))); got != 1 {
				t.Errorf("requests{code=%d} = %v", tt.wantCode, got)
			}
		})
	}
}

// TestPushIDsApp checks the app of offered IDs and that a reload of the
// apps or the token takes effect on the next request.
func TestPushIDsApp(t *testing.T) {
	e := newWhEnv(t)
	post := func(target, auth string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(`{"PushID":"a-1"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return e.serve(req).Code
	}
	if c := post("/webhook/push-ids?app=staging", ""); c != 200 {
		t.Fatalf("got %d", c)
	}
	e.set(func(e *whEnv) { e.apps, e.bearerToken = []WebhookApp{{Name: "dev", SDKAppID: 3}}, "t2" })
	if c := post("/webhook/push-ids?app=staging", "Bearer t2"); c != 404 {
		t.Errorf("removed app: got %d", c)
	}
	if c := post("/webhook/push-ids", ""); c != 401 {
		t.Errorf("new token not required: got %d", c)
	}
	if c := post("/webhook/push-ids", "Bearer t2"); c != 200 {
		t.Errorf("got %d", c)
	}
	offered, _ := e.sink.state()
	if len(offered) != 2 || offered[0].App != "staging" || offered[1].App != "dev" {
		t.Errorf("offered %+v", offered)
	}
}
