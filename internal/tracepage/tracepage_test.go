package tracepage

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const pid = "144115233406643804-1727580296-4026038328"

func TestHTMLTimeline(t *testing.T) {
	tr := &fakeTracer{trace: fixtureTrace("")}
	r := get(t, newHandler(tr, nil), q("demo", pid), false)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200\n%s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := tr.last.Load(); got != pid {
		t.Errorf("queried %v, want %s", got, pid)
	}
	mustContain(t, r.body,
		"Trace of <code>"+pid+"</code>", "3 instances", "times in CST (UTC+08:00)",
		"101205908", "101205909", "101205910",
		"huawei", "apns", "unknown", "(PushPlatform 3)",
		"Android 12", "NOH-AN00", "APNS 17.5.1", "iPhone15,2",
		"failed at Device arrival (80300007)", "clicked", "delivered",
		`<tr class="failure">`, "80300007", "token invalid",
		"+12s", "+6d 6h", "+2.3s", "+0.4s",
		"2025-03-07 10:04:47", "2025-03-13 16:16:29",
		`<span class="badge ok">on</span>`, "off or unknown",
		"no online route in reply", "not reported yet",
		// the form, filled in, to query another ID
		`<option selected>demo</option>`, `<option>other</option>`, `name="push_id" value="`+pid+`"`,
	)
}

func TestZoneIsNamed(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no tzdata")
	}
	if got := zoneName(loc); got != "Asia/Shanghai (UTC+08:00)" {
		t.Errorf("zoneName = %q", got)
	}
	if got := zoneName(time.FixedZone("X", -(3*3600 + 1800))); got != "X (UTC-03:30)" {
		t.Errorf("zoneName = %q", got)
	}
}

// TestJSONShape pins the documented JSON shape with a golden file.
func TestJSONShape(t *testing.T) {
	h := newHandler(&fakeTracer{trace: fixtureTrace("")}, func(o *Options) {
		o.Describe = func(platform, stage string, code int, info string) string {
			if platform == "huawei" && stage == "device" && code == 80300007 {
				return "token_invalid: the app was uninstalled or its token expired"
			}
			return ""
		}
	})
	r := get(t, h, q("demo", pid), true)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(r.body), "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, "trace.json", pretty.Bytes())

	// The same fields as a client would read them.
	var res struct {
		Instances []struct {
			Platform string
			Stages   []struct {
				Stage, Status, Meaning string
				ErrorCode              int      `json:"error_code"`
				DelaySeconds           *float64 `json:"delay_seconds"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.body), &res); err != nil {
		t.Fatal(err)
	}
	dev := res.Instances[0].Stages[timapi.StageDevice]
	if dev.Status != "failure" || dev.ErrorCode != 80300007 || !strings.HasPrefix(dev.Meaning, "token_invalid") ||
		dev.DelaySeconds == nil || *dev.DelaySeconds != 12 {
		t.Errorf("huawei device stage = %+v", dev)
	}
	if click := res.Instances[1].Stages[timapi.StageClick]; click.Status != "success" || *click.DelaySeconds != 540702 {
		t.Errorf("apns click stage = %+v", click)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestEmptyTrace(t *testing.T) {
	h := newHandler(&fakeTracer{}, nil)
	r := get(t, h, q("demo", "48374_2837546_1557481126"), false)
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustContain(t, r.body, "No trace for this PushID", "too recent", "older than 7 days", "0 instances")

	r = get(t, h, q("demo", "48374_2837546_1557481126"), true)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"instances":[]`) {
		t.Errorf("status %d, body %s; want 200 with \"instances\":[]", r.status, r.body)
	}
}

func TestBadInput(t *testing.T) {
	for _, tt := range []struct {
		name   string
		query  url.Values
		status int
		want   string
	}{
		{"unknown app", q("nope", pid), http.StatusNotFound, "Unknown app \"nope\". Configured apps: demo, other."},
		{"no app among two", url.Values{"push_id": {pid}}, http.StatusBadRequest, "Choose an app: configured apps: demo, other."},
		{"empty push_id", q("demo", ""), http.StatusBadRequest, "Enter a push_id"},
		{"blank push_id", q("demo", "   "), http.StatusBadRequest, "Enter a push_id"},
		{"push_id missing", url.Values{"app": {"demo"}}, http.StatusBadRequest, "Enter a push_id"},
		{"over 128 bytes", q("demo", strings.Repeat("7", 129)), http.StatusBadRequest, "129 bytes, longer than 128"},
		{"NUL", q("demo", "abc\x00def"), http.StatusBadRequest, "control character"},
		{"DEL", q("demo", "abc\x7fdef"), http.StatusBadRequest, "control character"},
		{"inner space", q("demo", "abc def"), http.StatusBadRequest, "control character or space"},
		{"invalid UTF-8", q("demo", "abc\xffdef"), http.StatusBadRequest, "UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &fakeTracer{trace: fixtureTrace("")}
			h := newHandler(tr, nil)
			r := get(t, h, tt.query, false)
			if r.status != tt.status {
				t.Errorf("HTML: status %d, want %d", r.status, tt.status)
			}
			mustContain(t, r.body, `class="box problem"`, `name="push_id"`) // the form stays usable

			r = get(t, h, tt.query, true)
			var got struct {
				Error Problem `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("JSON: %v in %s", err, r.body)
			}
			if r.status != tt.status || !strings.Contains(got.Error.Message, tt.want) {
				t.Errorf("JSON: status %d, message %q; want %d with %q", r.status, got.Error.Message, tt.status, tt.want)
			}
			if n := tr.calls.Load(); n != 0 {
				t.Errorf("bad input reached the tracer %d times", n)
			}
		})
	}
}

func TestFormAndDefaults(t *testing.T) {
	tr := &fakeTracer{trace: fixtureTrace("")}
	t.Run("bare /trace shows the form", func(t *testing.T) {
		r := get(t, newHandler(tr, nil), url.Values{}, false)
		if r.status != http.StatusOK {
			t.Errorf("status %d", r.status)
		}
		mustContain(t, r.body, `<form class="q" method="get">`, `<select name="app">`, "Paste the PushID")
		mustNotContain(t, r.body, `class="box problem"`)
	})
	t.Run("one app needs no app parameter", func(t *testing.T) {
		h := newHandler(tr, func(o *Options) { o.Apps = func() []string { return []string{"demo"} } })
		r := get(t, h, url.Values{"push_id": {pid}}, true)
		if r.status != http.StatusOK || !strings.Contains(r.body, `"app":"demo"`) {
			t.Errorf("status %d body %s", r.status, r.body)
		}
	})
	t.Run("blanks around a pasted ID are ignored", func(t *testing.T) {
		r := get(t, newHandler(tr, nil), q(" demo ", " "+pid+"\n"), true)
		if r.status != http.StatusOK || tr.last.Load() != pid {
			t.Errorf("status %d, queried %q", r.status, tr.last.Load())
		}
	})
	t.Run("POSTed form", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/trace", strings.NewReader(q("demo", pid).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := do(t, newHandler(tr, nil), req)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		mustContain(t, r.body, "Trace of <code>"+pid+"</code>")
	})
	t.Run("PUT is refused", func(t *testing.T) {
		r := do(t, newHandler(tr, nil), httptest.NewRequest(http.MethodPut, "/trace?"+q("demo", pid).Encode(), nil))
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") == "" {
			t.Errorf("status %d, Allow %q", r.status, r.header.Get("Allow"))
		}
	})
	t.Run("Accept with q=0 for JSON gets HTML", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/trace?"+q("demo", pid).Encode(), nil)
		req.Header.Set("Accept", "text/html, application/json;q=0")
		if r := do(t, newHandler(tr, nil), req); !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
		}
	})
}

func TestAPIErrors(t *testing.T) {
	const secret = "usersig=eJwtzM1OwkAUBeC-SECRET"
	for _, tt := range []struct {
		name    string
		err     error
		status  int
		want    []string
		wantErr Problem
	}{
		{
			name:   "70009 config",
			err:    &timapi.Error{Class: timapi.ClassConfig, Code: 70009, Info: "Fail to Parse SIG"},
			status: http.StatusBadGateway,
			want: []string{"502 Bad Gateway", "error 70009", "<code>70009</code>: UserSig verification failed",
				"Fail to Parse SIG", "check secret_key"},
			wantErr: Problem{Message: "The API answered with error 70009.", ErrorCode: 70009, Label: "70009",
				Meaning: "UserSig verification failed", ErrorInfo: "Fail to Parse SIG",
				Hint: "UserSig verification failed: check secret_key and sdkappid"},
		},
		{
			name:    "unknown code",
			err:     &timapi.Error{Class: timapi.ClassTransient, Code: 123456, Info: "strange"},
			status:  http.StatusBadGateway,
			want:    []string{"error 123456", "does not know"},
			wantErr: Problem{Message: "The API answered with error 123456.", ErrorCode: 123456, Label: "123456", Meaning: "an error code this exporter does not know", ErrorInfo: "strange", Hint: "a temporary error at Tencent: it is retried later"},
		},
		{
			name:    "gateway",
			err:     &timapi.Error{Class: timapi.ClassTransient, HTTPStatus: 502},
			status:  http.StatusBadGateway,
			want:    []string{"<code>http_502</code>: HTTP status 502"},
			wantErr: Problem{Message: "The API could not be queried.", Label: "http_502", Meaning: "HTTP status 502 from the API or a proxy in between", Hint: "the API or a proxy returned an HTTP error: usually temporary"},
		},
		{
			name:    "cut-off reply",
			err:     &timapi.Error{Class: timapi.ClassTransient, HTTPStatus: 200, Err: fmt.Errorf("%w: cut off", timapi.ErrMalformedReply)},
			status:  http.StatusBadGateway,
			want:    []string{"<code>decode</code>: the reply was cut off or not JSON"},
			wantErr: Problem{Message: "The API's reply could not be read.", Label: "decode", Meaning: "the reply was cut off or not JSON", Hint: "the reply was cut off or not JSON: a proxy or a network failure in between"},
		},
		{
			name:   "reply of the wrong shape",
			err:    &timapi.Error{Class: timapi.ClassUnexpectedReply, HTTPStatus: 200, Err: fmt.Errorf("%w: InstanceTrace is an object", timapi.ErrUnexpectedReply)},
			status: http.StatusBadGateway,
			want:   []string{"<code>unexpected_reply</code>: the reply was JSON but not of the documented shape"},
			wantErr: Problem{Message: "The API's reply could not be read.", Label: "unexpected_reply", Meaning: "the reply was JSON but not of the documented shape",
				Hint: "the reply did not have the documented shape: the API may have changed, please report it"},
		},
		{
			name:    "network error text is not shown",
			err:     &timapi.Error{Class: timapi.ClassTransient, Err: errors.New("dial tcp: " + secret)},
			status:  http.StatusBadGateway,
			want:    []string{"could not be reached"},
			wantErr: Problem{Message: "The API could not be queried.", Label: "network", Meaning: "the API could not be reached", Hint: "could not reach the API: check DNS, proxy and firewall for the region's domain"},
		},
		{
			name:    "foreign error text is not shown",
			err:     fmt.Errorf("something odd: %s", secret),
			status:  http.StatusBadGateway,
			want:    []string{"the exporter's log has the details"},
			wantErr: Problem{Message: "The trace query failed; the exporter's log has the details."},
		},
		{
			name:   "rate limited by Tencent",
			err:    &timapi.Error{Class: timapi.ClassRateLimited, Code: 60007, Info: "REST call frequency over the limit"},
			status: http.StatusServiceUnavailable,
			want:   []string{"Budget busy, try again in a few seconds", "<code>60007</code>: REST call frequency over the limit"},
			wantErr: Problem{Message: "Budget busy, try again in a few seconds: the API answered with error 60007.", ErrorCode: 60007, Label: "60007",
				Meaning: "REST call frequency over the limit", ErrorInfo: "REST call frequency over the limit",
				Hint: "Tencent rate-limited the app: lower its call rate or look for other clients using the same app"},
		},
		{
			name:   "API timeout",
			err:    &timapi.Error{Class: timapi.ClassTransient, Err: fmt.Errorf("POST: %w", errTimeout{})},
			status: http.StatusServiceUnavailable,
			want:   []string{"Budget busy, try again in a few seconds"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(&fakeTracer{err: tt.err}, nil)
			r := get(t, h, q("demo", pid), false)
			if r.status != tt.status {
				t.Errorf("HTML: status %d, want %d", r.status, tt.status)
			}
			mustContain(t, r.body, tt.want...)
			mustNotContain(t, r.body, "SECRET", "goroutine", ".go:")

			r = get(t, h, q("demo", pid), true)
			mustNotContain(t, r.body, "SECRET")
			var got struct {
				PushID string  `json:"push_id"`
				Error  Problem `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			if r.status != tt.status || got.PushID != pid {
				t.Errorf("JSON: status %d, push_id %q", r.status, got.PushID)
			}
			if tt.wantErr.Message != "" && got.Error != tt.wantErr {
				t.Errorf("JSON error\n got %+v\nwant %+v", got.Error, tt.wantErr)
			}
		})
	}
}

// errTimeout is a net.Error timing out, as an HTTP client reports it.
type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// TestBudgetBusy: a tracer stuck behind the rate limiter is given up on
// after Wait with a 503, not left to hang the page.
func TestBudgetBusy(t *testing.T) {
	tr := &fakeTracer{block: true}
	h := newHandler(tr, func(o *Options) { o.Wait = 20 * time.Millisecond })
	start := time.Now()
	r := get(t, h, q("demo", pid), false)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v with Wait 20ms", el)
	}
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	mustContain(t, r.body, "Budget busy, try again in a few seconds", "20ms")

	r = get(t, h, q("demo", pid), true)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"message":"Budget busy`) {
		t.Errorf("JSON: status %d body %s", r.status, r.body)
	}
}

func TestDefaultWait(t *testing.T) {
	if h := New(Options{}).(*handler); h.o.Wait != 5*time.Second {
		t.Errorf("default Wait %v, want 5s", h.o.Wait)
	}
}

// TestEscaping: ErrorInfo, device fields and PushIDs come from outside and
// must come out as text, never markup.
func TestEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	tr := fixtureTrace("")
	tr.Instances[0].Stages[timapi.StageDevice].ErrorInfo = evil
	tr.Instances[0].DeviceModel = `"><img src=x onerror=alert(2)>`
	tr.Instances[1].InstanceID = `</code><b>x</b>`
	id := `"><script>alert(3)</script>`
	h := newHandler(&fakeTracer{trace: tr}, nil)
	r := get(t, h, q("demo", id), false)
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mustNotContain(t, r.body, "<script>", "<img", "<b>x</b>")
	mustContainRaw(t, r.body, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;")
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	e := newHandler(&fakeTracer{err: &timapi.Error{Class: timapi.ClassBadRequest, Code: 90100, Info: evil}}, nil)
	r = get(t, e, q(evil, pid), false) // unknown app, echoed
	mustNotContain(t, r.body, "<script>")
	r = get(t, e, q("demo", pid), false) // ErrorInfo of an API error
	mustNotContain(t, r.body, "<script>")
	mustContainRaw(t, r.body, "&lt;script&gt;")
}

func TestFormatDelay(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "+0s"},
		{2300 * time.Millisecond, "+2.3s"},
		{59990 * time.Millisecond, "+59.9s"},
		{12 * time.Second, "+12s"},
		{-3 * time.Second, "-3s"},
		{4*time.Minute + 5*time.Second, "+4m 05s"},
		{3*time.Hour + 12*time.Minute + 40*time.Second, "+3h 12m"},
		{6*24*time.Hour + 6*time.Hour + 11*time.Minute, "+6d 6h"},
	} {
		if got := FormatDelay(tt.d); got != tt.want {
			t.Errorf("FormatDelay(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
