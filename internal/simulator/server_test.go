package simulator

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGoodCall(t *testing.T) {
	s, _ := newSim(t, testConfig())
	id := s.NewPush(testApp)
	r := traceCall(t, s, goodQuery(t), id)
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	var tr traceResp
	r.decode(t, &tr)
	if tr.ActionStatus != "OK" || tr.ErrorCode != 0 || len(tr.InstanceTrace) == 0 {
		t.Fatalf("reply %s", r.body)
	}
	if got := s.Stats(testApp); got != (Stats{Calls: 1, OK: 1}) {
		t.Errorf("stats %+v", got)
	}
}

func TestProtocolErrors(t *testing.T) {
	trace := `{"PushID":"x"}`
	window := func(start, end int64) string { return fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, start, end) }
	now := t0.Unix()
	set := func(k, v string) func(*testing.T, url.Values) {
		return func(_ *testing.T, q url.Values) { q.Set(k, v) }
	}
	del := func(k string) func(*testing.T, url.Values) {
		return func(_ *testing.T, q url.Values) { q.Del(k) }
	}
	sig := func(app int64, key, ident string, expire int) func(*testing.T, url.Values) {
		return func(t *testing.T, q url.Values) { q.Set("usersig", userSig(t, app, key, ident, expire)) }
	}
	tests := []struct {
		name    string
		method  string
		path    string
		query   func(*testing.T, url.Values)
		body    string
		advance time.Duration
		code    int
		bucket  int64
		want    Stats
	}{
		{name: "GET", method: http.MethodGet, code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "unknown command", path: "/v4/timpush/nope", code: 60009, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "no sdkappid", query: del("sdkappid"), code: 60012, bucket: 0, want: Stats{BadRequests: 1}},
		{name: "sdkappid not a number", query: set("sdkappid", "abc"), code: 60012, want: Stats{BadRequests: 1}},
		{name: "sdkappid case-sensitive", query: func(_ *testing.T, q url.Values) { q["SdkAppId"] = q["sdkappid"]; q.Del("sdkappid") }, code: 60012, want: Stats{BadRequests: 1}},
		{name: "unknown sdkappid", query: set("sdkappid", "1400009999"), code: 70020, want: Stats{AuthFailures: 1}},
		{name: "no identifier", query: del("identifier"), code: 60004, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "no usersig", query: del("usersig"), code: 60004, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "no random", query: del("random"), code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "random over 32 bits", query: set("random", "4294967296"), code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "random negative", query: set("random", "-1"), code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "no contenttype", query: del("contenttype"), code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "contenttype xml", query: set("contenttype", "xml"), code: 60002, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "usersig expired", query: sig(testApp, testKey, testAdmin, 60), advance: 2 * time.Minute, code: 70001, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "usersig wrong key", query: sig(testApp, otherKey, testAdmin, yearSecs), code: 70009, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "usersig for another identifier", query: set("identifier", "bob"), code: 70013, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "usersig for another sdkappid", query: sig(otherApp, otherKey, testAdmin, yearSecs), code: 70014, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "usersig garbage", query: set("usersig", "!!not-a-sig!!"), code: 70003, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "not the administrator", query: func(t *testing.T, q url.Values) {
			q.Set("identifier", "bob")
			q.Set("usersig", userSig(t, testApp, testKey, "bob", yearSecs))
		}, code: 90009, bucket: testApp, want: Stats{AuthFailures: 1}},
		{name: "empty body", body: "-", code: 60003, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "body not JSON", body: "PushID=x", code: 60003, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "body an array", body: `["x"]`, code: 60003, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "body null", body: `null`, code: 60003, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "no PushID", body: `{}`, code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "PushID a number", body: `{"PushID":5}`, code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "PushID empty", body: `{"PushID":""}`, code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "statistics without EndTime", path: PathStatistics, body: `{"StartTime":1}`, code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "statistics start after end", path: PathStatistics, body: window(now, now-1), code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "statistics over 30 days", path: PathStatistics, body: window(now-31*86400, now), code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "statistics time a string", path: PathStatistics, body: `{"StartTime":"1","EndTime":2}`, code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "loss over 7 days", path: PathLoss, body: window(now-8*86400, now), code: 90100, bucket: testApp, want: Stats{BadRequests: 1}},
		{name: "statistics 30 days ok", path: PathStatistics, body: window(now-30*86400, now), code: 0, bucket: testApp, want: Stats{OK: 1}},
		{name: "loss 7 days ok", path: PathLoss, body: window(now-7*86400, now), code: 0, bucket: testApp, want: Stats{OK: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, fc := newSim(t, testConfig())
			q := goodQuery(t)
			if tt.query != nil {
				tt.query(t, q)
			}
			fc.Advance(tt.advance)
			method, path, body := http.MethodPost, PathTrace, trace
			if tt.method != "" {
				method = tt.method
			}
			if tt.path != "" {
				path = tt.path
			}
			switch tt.body {
			case "":
			case "-":
				body = ""
			default:
				body = tt.body
			}
			r := do(t, s, method, path, q, body)
			if r.status != http.StatusOK {
				t.Fatalf("HTTP status %d, want 200", r.status)
			}
			var e errResp
			r.decode(t, &e)
			if e.ErrorCode != tt.code {
				t.Fatalf("ErrorCode %d (%s), want %d", e.ErrorCode, e.ErrorInfo, tt.code)
			}
			wantStatus := "FAIL"
			if tt.code == 0 {
				wantStatus = "OK"
			}
			if e.ActionStatus != wantStatus || (tt.code != 0 && e.ErrorInfo == "") {
				t.Errorf("reply %s", r.body)
			}
			tt.want.Calls = 1
			if got := s.Stats(tt.bucket); got != tt.want {
				t.Errorf("Stats(%d) = %+v, want %+v", tt.bucket, got, tt.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 1
	s, fc := newSim(t, cfg)
	q := goodQuery(t)
	step := func(d time.Duration, want int) {
		t.Helper()
		fc.Advance(d)
		if got := traceCall(t, s, q, "p").code(t); got != want {
			t.Fatalf("at +%v: ErrorCode %d, want %d", fc.Now().Sub(t0), got, want)
		}
	}
	step(0, 0)
	step(500*time.Millisecond, 60007) // 2 calls within 1 s
	if st := s.Stats(testApp); st.OverLimit != 1 || st.Calls != 2 || st.RateLimitedReplies != 1 || st.OK != 1 {
		t.Fatalf("stats %+v", st)
	}
	step(time.Second, 0) // 1 s after the rejected call
	step(time.Second, 0) // exactly 1 s apart is fine
	step(time.Second, 0)
	step(999*time.Millisecond, 60007)
	step(500*time.Millisecond, 60007) // the rejected arrival still counts
	step(time.Second, 0)
	// Other apps have their own window.
	q2 := goodQuery(t)
	q2.Set("sdkappid", fmt.Sprint(otherApp))
	q2.Set("usersig", userSig(t, otherApp, otherKey, testAdmin, yearSecs))
	if got := traceCall(t, s, q2, "p").code(t); got != 0 {
		t.Fatalf("other app: %d", got)
	}
	if st := s.Stats(testApp); st.OverLimit != 3 || st.Calls != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateLimitAboveOne(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 2
	s, fc := newSim(t, cfg)
	q := goodQuery(t)
	codes := []int{}
	for range 3 {
		codes = append(codes, traceCall(t, s, q, "p").code(t))
		fc.Advance(100 * time.Millisecond)
	}
	if fmt.Sprint(codes) != "[0 0 60007]" {
		t.Fatalf("codes %v", codes)
	}
}

func TestStartClose(t *testing.T) {
	s := New(testConfig()) // real clock
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	id := s.NewPush(testApp)
	resp, err := http.Post(base+PathTrace+"?"+goodQuery(t).Encode(), "application/json", strings.NewReader(`{"PushID":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ActionStatus":"OK"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(base+PathTrace, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("server still answers after Close")
	}
}

func TestConcurrentUse(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{HTTP502: 0.1, CutJSON: 0.1, Internal90102: 0.1}
	s, fc := newSim(t, cfg)
	q := goodQuery(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				id := s.NewPush(testApp)
				traceCall(t, s, q, id)
				s.SetDeviceFailure(3, float64(j%10)/10)
				if i == 0 {
					fc.Advance(time.Second)
				}
				_ = s.Revealed()
				_ = s.Stats(testApp)
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(testApp); st.Calls != 400 {
		t.Fatalf("stats %+v", st)
	}
}
