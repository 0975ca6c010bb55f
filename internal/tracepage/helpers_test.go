package tracepage

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// cst is the zone of the fixture times (Tencent's UTC+8).
var cst = time.FixedZone("CST", 8*3600)

var pushed = time.Date(2025, 3, 7, 10, 4, 47, 0, cst)

func ok(at time.Time) timapi.StageResult {
	return timapi.StageResult{Status: timapi.StatusSuccess, ErrorInfo: "success", EventTime: at}
}

// fixtureTrace has three instances: a Huawei device failure, an APNs push
// clicked six days later (as in Tencent's own example), and an online-only
// delivery.
func fixtureTrace(id string) *timapi.Trace {
	huawei := timapi.Instance{
		InstanceID: "101205908", PushTime: pushed, DeviceModel: "NOH-AN00", System: "Android",
		SystemVersion: "12", PushPlatform: 3, NotificationStatus: 1,
	}
	huawei.Stages[timapi.StageIM] = ok(pushed)
	huawei.Stages[timapi.StageOffline] = ok(pushed.Add(time.Second))
	huawei.Stages[timapi.StageChannel] = ok(pushed.Add(time.Second))
	huawei.Stages[timapi.StageDevice] = timapi.StageResult{Status: timapi.StatusFailure, ErrorCode: 80300007,
		ErrorInfo: "token invalid", EventTime: pushed.Add(12 * time.Second)}

	apns := timapi.Instance{
		InstanceID: "101205909", PushTime: pushed, DeviceModel: "iPhone15,2", System: "APNS",
		SystemVersion: "17.5.1", PushPlatform: 1, NotificationStatus: 0,
	}
	later := time.Date(2025, 3, 13, 16, 16, 29, 0, cst)
	for _, s := range []timapi.Stage{timapi.StageOffline, timapi.StageChannel, timapi.StageDevice, timapi.StageClick} {
		apns.Stages[s] = ok(later)
	}
	apns.Stages[timapi.StageIM] = ok(pushed)

	online := timapi.Instance{
		InstanceID: "101205910", PushTime: pushed, DeviceModel: "iPhone16,1", System: "iOS",
		SystemVersion: "18.1", PushPlatform: 0, NotificationStatus: 1, HasOnline: true,
	}
	online.Stages[timapi.StageIM] = ok(pushed)
	online.Stages[timapi.StageOnlineChannel] = ok(pushed.Add(400 * time.Millisecond))
	online.Stages[timapi.StageOnlineDevice] = ok(pushed.Add(2300 * time.Millisecond))
	return &timapi.Trace{PushID: id, Instances: []timapi.Instance{huawei, apns, online}}
}

// fakeTracer answers with a fixed trace or error; block makes it wait for
// the end of its context instead, as a query stuck behind the rate limiter.
type fakeTracer struct {
	trace *timapi.Trace
	err   error
	block bool
	calls atomic.Int32
	last  atomic.Value // string: the PushID of the last call
}

func (f *fakeTracer) Trace(ctx context.Context, pushID string) (*timapi.Trace, error) {
	f.calls.Add(1)
	f.last.Store(pushID)
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.trace == nil {
		return &timapi.Trace{PushID: pushID}, nil
	}
	t := *f.trace
	t.PushID = pushID
	return &t, nil
}

// newHandler serves the apps "demo" and "other", both answered by tr.
func newHandler(tr Tracer, mod func(*Options)) http.Handler {
	o := Options{
		Lookup: func(app string) (Tracer, *time.Location, bool) {
			if app == "demo" || app == "other" {
				return tr, cst, true
			}
			return nil, nil, false
		},
		Apps: func() []string { return []string{"demo", "other"} },
	}
	if mod != nil {
		mod(&o)
	}
	return New(o)
}

type response struct {
	status int
	header http.Header
	body   string
}

// get requests /trace with the query q; json selects the Accept header.
func get(t *testing.T, h http.Handler, q url.Values, json bool) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/trace?"+q.Encode(), nil)
	if json {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	return do(t, h, req)
}

func do(t *testing.T, h http.Handler, req *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{rec.Code, rec.Result().Header, string(body)}
}

func q(app, id string) url.Values {
	v := url.Values{}
	v.Set("app", app)
	v.Set("push_id", id)
	return v
}

// mustContain looks for text as a reader sees it (html/template writes "+"
// as "&#43;" and "'" as "&#39;").
func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	text := html.UnescapeString(body)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("body lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("body:\n%s", body)
	}
}

// mustContainRaw looks for exact bytes.
func mustContainRaw(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q", w)
		}
	}
}

// mustNotContain looks for exact bytes: markup must never appear unescaped.
func mustNotContain(t *testing.T, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("body contains %q", b)
		}
	}
}
