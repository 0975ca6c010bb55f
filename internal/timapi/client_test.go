package timapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tencentyun/tls-sig-api-v2-golang/tencentyun"

	"github.com/timpush/timpush_exporter/internal/clock"
)

func TestRequestShape(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk)
	o, lim, obs := testOptions(api, clk)
	o.BaseURL = api.URL + "/" // a trailing slash is tolerated
	randoms := []uint32{7, 4294967295}
	var n atomic.Int32
	o.Random = func() uint32 { return randoms[n.Add(1)-1] }
	c := mustNew(t, o)
	for _, id := range []string{"144115233406643804-1727580296-4026038328", "48374_2837546_1557481126"} {
		if _, err := c.Trace(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	reqs := api.requests()
	if len(reqs) != 2 || lim.n.Load() != 2 || obs.attempts(t) != 2 {
		t.Fatalf("%d requests, %d waits, %d observed", len(reqs), lim.n.Load(), obs.attempts(t))
	}
	for i, r := range reqs {
		if r.method != http.MethodPost || r.path != "/v4/timpush/normal_push_trace" {
			t.Errorf("request %d: %s %s", i, r.method, r.path)
		}
		q := r.query
		keys := make([]string, 0, len(q))
		for k, v := range q {
			keys = append(keys, k)
			if len(v) != 1 {
				t.Errorf("request %d: %s given %d times", i, k, len(v))
			}
		}
		sort.Strings(keys)
		if got := strings.Join(keys, ","); got != "contenttype,identifier,random,sdkappid,usersig" {
			t.Errorf("request %d: query keys %s", i, got)
		}
		if q.Get("sdkappid") != "1400000000" || q.Get("identifier") != testIdent || q.Get("contenttype") != "json" {
			t.Errorf("request %d: query %v", i, q)
		}
		if err := tencentyun.VerifyUserSig(testAppID, testKey, testIdent, q.Get("usersig"), time.Now()); err != nil {
			t.Errorf("request %d: usersig: %v", i, err)
		}
		if got := q.Get("random"); got != strconv.FormatUint(uint64(randoms[i]), 10) {
			t.Errorf("request %d: random = %s, want %d", i, got, randoms[i])
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
	}
	if reqs[0].body != `{"PushID":"144115233406643804-1727580296-4026038328"}` {
		t.Errorf("body = %s", reqs[0].body)
	}
}

func TestRandomDefaultIsFreshPerAttempt(t *testing.T) {
	api := newFakeAPI(t, nil, reply{status: 502}, okReply(`{}`))
	o, _, _ := testOptions(api, nil)
	o.Clock, o.BaseBackoff, o.MaxBackoff = nil, time.Nanosecond, time.Nanosecond
	c := mustNew(t, o)
	for range 2 {
		if _, err := c.Trace(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, r := range api.requests() {
		v := r.query.Get("random")
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			t.Errorf("random %q is not a uint32: %v", v, err)
		}
		seen[v] = true
	}
	if n := len(api.requests()); n != 3 || len(seen) != n {
		t.Errorf("%d requests with %d distinct random values", n, len(seen))
	}
}

func TestNewValidation(t *testing.T) {
	valid := Options{SDKAppID: 1, Identifier: "admin", SecretKey: testKey, BaseURL: "https://adminapisgp.im.qcloud.com", Limiter: &countingLimiter{}}
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"sdkappid", func(o *Options) { o.SDKAppID = 0 }, "sdkappid"},
		{"identifier", func(o *Options) { o.Identifier = "" }, "identifier"},
		{"secret", func(o *Options) { o.SecretKey = "" }, "secret key is empty"},
		{"limiter", func(o *Options) { o.Limiter = nil }, "Limiter"},
		{"attempts", func(o *Options) { o.MaxAttempts = -1 }, "negative"},
		{"backoff", func(o *Options) { o.BaseBackoff = -time.Second }, "negative"},
		{"ttl", func(o *Options) { o.UserSigTTL = time.Second }, "TTL"},
		{"url scheme", func(o *Options) { o.BaseURL = "ftp://x" }, "base URL"},
		{"url empty", func(o *Options) { o.BaseURL = "" }, "base URL"},
		{"url query", func(o *Options) { o.BaseURL = "https://x/?a=b" }, "base URL"},
		{"url junk", func(o *Options) { o.BaseURL = "http://bad host" }, "base URL"},
	}
	if _, err := New(valid); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatal("error contains the secret key")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := mustNew(t, Options{SDKAppID: 1, Identifier: "a", SecretKey: "k", BaseURL: "https://h", Limiter: &countingLimiter{}})
	if c.attempts != 5 || c.backoff.base != time.Second || c.backoff.max != 30*time.Second || c.signer.ttl != 24*time.Hour {
		t.Errorf("defaults: attempts %d backoff %+v ttl %v", c.attempts, c.backoff, c.signer.ttl)
	}
	if _, ok := c.clock.(clock.Real); !ok {
		t.Errorf("clock = %T", c.clock)
	}
	tr, ok := c.hc.Transport.(*http.Transport)
	if c.hc.Timeout != 10*time.Second || !ok || tr.TLSHandshakeTimeout != 5*time.Second ||
		tr.ResponseHeaderTimeout != 10*time.Second || tr.DisableKeepAlives || tr.MaxIdleConnsPerHost < 1 {
		t.Errorf("default HTTP client: %+v", c.hc)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	defer target.Close()
	api := newFakeAPI(t, nil)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.String(), http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	o, _, _ := testOptions(api, nil)
	o.BaseURL, o.Clock, o.MaxAttempts = redirect.URL, nil, 1
	_, err := mustNew(t, o).Trace(context.Background(), "p")
	if e := asError(t, err); e.Label() != "http_307" {
		t.Errorf("label = %s", e.Label())
	}
	if followed.Load() {
		t.Error("redirect was followed: the UserSig went to another URL")
	}
}

func TestRegionBaseURL(t *testing.T) {
	want := map[string]string{
		"china":          "https://console.tim.qq.com",
		"singapore":      "https://adminapisgp.im.qcloud.com",
		"seoul":          "https://adminapikr.im.qcloud.com",
		"frankfurt":      "https://adminapiger.im.qcloud.com",
		"silicon-valley": "https://adminapiusa.im.qcloud.com",
		"jakarta":        "https://adminapiidn.im.qcloud.com",
		"tokyo":          "https://adminapijpn.im.qcloud.com",
		" Singapore ":    "https://adminapisgp.im.qcloud.com",
	}
	for region, url := range want {
		got, err := RegionBaseURL(region)
		if err != nil || got != url {
			t.Errorf("RegionBaseURL(%q) = %q, %v; want %q", region, got, err, url)
		}
	}
	if _, err := RegionBaseURL("mars"); err == nil || !strings.Contains(err.Error(), "mars") {
		t.Errorf("unknown region: %v", err)
	}
}

func TestEmptyPushIDIsRejectedLocally(t *testing.T) {
	api := newFakeAPI(t, nil)
	o, lim, _ := testOptions(api, nil)
	o.Clock = nil
	if _, err := mustNew(t, o).Trace(context.Background(), ""); err == nil {
		t.Fatal("no error")
	}
	if len(api.requests()) != 0 || lim.n.Load() != 0 {
		t.Error("an empty PushID reached the API or the limiter")
	}
}

func TestClassStringAndDescribe(t *testing.T) {
	want := []string{"transient", "rate_limited", "usersig_expired", "config", "bad_request", "decode"}
	for i, w := range want {
		if got := Class(i).String(); got != w {
			t.Errorf("Class(%d) = %s, want %s", i, got, w)
		}
	}
	if Class(99).String() != "class_99" {
		t.Error(Class(99).String())
	}
	for code := range codeInfo {
		if Describe(code) == "" {
			t.Errorf("Describe(%d) empty", code)
		}
		if h := (&Error{Class: classOf(code), Code: code}).Hint(); h == "" || strings.HasSuffix(h, ".") {
			t.Errorf("Hint(%d) = %q", code, h)
		}
	}
	if Describe(12345) != "" || classOf(12345) != ClassTransient {
		t.Error("unknown code")
	}
	if got := (&Error{Code: 70009}).Hint(); got != "UserSig verification failed: check secret_key and sdkappid" {
		t.Errorf("Hint(70009) = %q", got)
	}
}

// asError asserts that err is an *Error.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	return e
}

// TestReportsWhenCallsReachedTheWire: each attempt tells the limiter when
// its request was written and when the reply began, so that the pacer can
// space calls by when they reached Tencent; a request that never left the
// process reports neither, one cut off before any reply only the first.
func TestReportsWhenCallsReachedTheWire(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk)
	o, lim, _ := testOptions(api, clk)
	o.MaxAttempts = 1
	if _, err := mustNew(t, o).Trace(context.Background(), "p1"); err != nil {
		t.Fatal(err)
	}
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangUp.Close()
	o.BaseURL = hangUp.URL
	if _, err := mustNew(t, o).Trace(context.Background(), "p2"); err == nil {
		t.Fatal("a connection closed without a reply gave no error")
	}
	refused := httptest.NewServer(http.NotFoundHandler())
	o.BaseURL = refused.URL
	refused.Close() // nothing listens there any more
	if _, err := mustNew(t, o).Trace(context.Background(), "p3"); err == nil {
		t.Fatal("a refused connection gave no error")
	}

	got := lim.done()
	if len(got) != 3 {
		t.Fatalf("%d outcomes reported for 3 attempts", len(got))
	}
	if got[0].sent.IsZero() || got[0].replied.IsZero() {
		t.Errorf("answered call reported sent %v, replied %v; want both", got[0].sent, got[0].replied)
	}
	if got[1].sent.IsZero() || !got[1].replied.IsZero() {
		t.Errorf("call cut off reported sent %v, replied %v; want only sent", got[1].sent, got[1].replied)
	}
	if !got[2].sent.IsZero() || !got[2].replied.IsZero() {
		t.Errorf("refused call reported sent %v, replied %v; want neither", got[2].sent, got[2].replied)
	}
}
