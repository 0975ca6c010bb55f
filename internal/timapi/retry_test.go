package timapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pacer"
)

const okBody = `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","InstanceTrace":[]}`

func TestErrorClasses(t *testing.T) {
	const max = 3
	type tc struct {
		name         string
		replies      []reply
		wantAttempts int
		wantClass    Class
		wantLabel    string
		wantErr      bool
	}
	tests := []tc{
		{"ok", []reply{okReply(okBody)}, 1, 0, "", false},
		{"502 then ok", []reply{{status: 502}, okReply(okBody)}, 2, 0, "", false},
		{"http 502", []reply{{status: 502}}, max, ClassTransient, "http_502", true},
		{"http 404", []reply{{status: 404, body: "not found"}}, max, ClassTransient, "http_404", true},
		{"cut-off JSON", []reply{okReply(`{"ActionStatus":"OK","ErrorCode":0,"InstanceTr`)}, max, ClassTransient, "decode", true},
		{"HTML from a proxy", []reply{okReply(`<html>busy</html>`)}, max, ClassTransient, "decode", true},
		{"empty body", []reply{okReply(``)}, max, ClassTransient, "decode", true},
		{"FAIL without code", []reply{okReply(`{"ActionStatus":"FAIL","ErrorCode":0}`)}, max, ClassTransient, "decode", true},
		{"valid JSON, wrong shape", []reply{okReply(`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":"none"}`)}, 1, ClassUnexpectedReply, "unexpected_reply", true},
		{"InstanceTrace an object", []reply{okReply(`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":{"InstanceId":"1"}}`)}, 1, ClassUnexpectedReply, "unexpected_reply", true},
		{"a stage a string", []reply{okReply(`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":[{"IMCommitStat":{"IMStat":"ok"}}]}`)}, 1, ClassUnexpectedReply, "unexpected_reply", true},
		{"envelope wrong shape", []reply{okReply(`["OK"]`)}, 1, ClassUnexpectedReply, "unexpected_reply", true},
		{"code out of range", []reply{okReply(`{"ActionStatus":"FAIL","ErrorCode":1e300}`)}, max, ClassTransient, "out_of_range", true},
		{"unknown code", []reply{codeReply(12345)}, max, ClassTransient, "12345", true},
		{"code as string", []reply{okReply(`{"ActionStatus":"FAIL","ErrorCode":"60007"}`)}, max, ClassRateLimited, "60007", true},
		{"code without FAIL", []reply{okReply(`{"ActionStatus":"OK","ErrorCode":90045}`)}, 1, ClassConfig, "90045", true},
		{"70001 twice", []reply{codeReply(70001)}, 2, ClassUserSigExpired, "70001", true},
		{"70001 then ok", []reply{codeReply(70001), okReply(okBody)}, 2, 0, "", false},
		{"70001 after transients", []reply{{status: 500}, {status: 500}, codeReply(70001), okReply(okBody)}, 4, 0, "", false},
	}
	for _, code := range []int{60008, 90102, 91000} {
		tests = append(tests, tc{"code " + strconv.Itoa(code), []reply{codeReply(code)}, max, ClassTransient, strconv.Itoa(code), true})
	}
	for _, code := range []int{60007, 60011, 60018, 60019, 70050} {
		tests = append(tests, tc{"code " + strconv.Itoa(code), []reply{codeReply(code)}, max, ClassRateLimited, strconv.Itoa(code), true})
	}
	for _, code := range []int{60006, 60010, 60016, 60020, 60021, 70003, 70009, 70013, 70014, 70016, 70020, 90009, 90045} {
		tests = append(tests, tc{"code " + strconv.Itoa(code), []reply{codeReply(code)}, 1, ClassConfig, strconv.Itoa(code), true})
	}
	for _, code := range []int{90100, 90103, 90001} {
		tests = append(tests, tc{"code " + strconv.Itoa(code), []reply{codeReply(code)}, 1, ClassBadRequest, strconv.Itoa(code), true})
	}
	for _, code := range []int{60002, 60003} {
		tests = append(tests, tc{"code " + strconv.Itoa(code), []reply{codeReply(code)}, 1, ClassDecode, strconv.Itoa(code), true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(testStart)
			api := newFakeAPI(t, clk, tt.replies...)
			o, lim, obs := testOptions(api, clk)
			o.MaxAttempts = max
			c := mustNew(t, o)
			var err error
			drive(t, clk, func() { _, err = c.Trace(context.Background(), "p") })

			reqs := api.requests()
			if len(reqs) != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", len(reqs), tt.wantAttempts)
			}
			if got := lim.n.Load(); got != int64(len(reqs)) {
				t.Errorf("limiter waited %d times for %d requests", got, len(reqs))
			}
			if n := obs.attempts(t); n != len(reqs) {
				t.Errorf("observed %d attempts of %d", n, len(reqs))
			}
			failed := 0
			for _, n := range obs.errors(t) {
				failed += n
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if failed != len(reqs)-1 {
					t.Errorf("%d attempts counted as errors, want all but the last of %d", failed, len(reqs))
				}
				return
			}
			e := asError(t, err)
			if e.Class != tt.wantClass || e.Label() != tt.wantLabel {
				t.Errorf("class %s label %s, want %s %s (%v)", e.Class, e.Label(), tt.wantClass, tt.wantLabel, e)
			}
			if got := obs.errors(t); len(got) != 1 || got[tt.wantLabel] != len(reqs) {
				t.Errorf("errors counted %v, want every one of %d attempts as %q", got, len(reqs), tt.wantLabel)
			}
			if e.Hint() == "" || !strings.Contains(e.Error(), "normal_push_trace") || !strings.Contains(e.Error(), e.Class.String()) {
				t.Errorf("Error() = %q, Hint() = %q", e.Error(), e.Hint())
			}
		})
	}
}

func TestUserSigRenewedOnceOn70001(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, codeReply(70001))
	o, _, _ := testOptions(api, clk)
	c := mustNew(t, o)
	gens := 0
	c.signer.gen = countingGen(&gens)
	_, err := c.Trace(context.Background(), "p")
	if e := asError(t, err); e.Class != ClassUserSigExpired {
		t.Fatalf("err = %v", err)
	}
	if gens != 2 || len(api.requests()) != 2 {
		t.Errorf("%d UserSigs for %d requests, want a renewal before the single retry", gens, len(api.requests()))
	}
	// The retry went out at once: no back-off timer was needed.
	if at := api.requests(); !at[1].at.Equal(at[0].at) {
		t.Errorf("retry after %v, want immediately", at[1].at.Sub(at[0].at))
	}
}

func TestBackoffFloors(t *testing.T) {
	tests := []struct {
		reply   reply
		minWait time.Duration
	}{
		{codeReply(70050), time.Minute},
		{codeReply(60007), 2 * time.Second},
		{codeReply(60019), 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.reply.body, func(t *testing.T) {
			clk := clock.NewFake(testStart)
			api := newFakeAPI(t, clk, tt.reply, okReply(okBody))
			o, _, _ := testOptions(api, clk)
			o.BaseBackoff, o.MaxBackoff = time.Millisecond, 10*time.Millisecond // floors must win
			c := mustNew(t, o)
			var err error
			drive(t, clk, func() { _, err = c.Trace(context.Background(), "p") })
			if err != nil {
				t.Fatal(err)
			}
			reqs := api.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			if gap := reqs[1].at.Sub(reqs[0].at); gap < tt.minWait {
				t.Errorf("retried after %v, want at least %v", gap, tt.minWait)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: time.Second, max: 30 * time.Second}
	transient, limited, e70050 := &Error{Class: ClassTransient}, &Error{Class: ClassRateLimited, Code: 60007}, &Error{Class: ClassRateLimited, Code: 70050}
	for range 200 {
		for n := 1; n <= 70; n++ {
			ceil := min(30*time.Second, time.Second<<min(n-1, 20))
			if d := b.delay(n, transient); d < 0 || d > ceil {
				t.Fatalf("transient delay(%d) = %v, want [0, %v]", n, d, ceil)
			}
			lceil := min(30*time.Second, 2*time.Second<<min(n-1, 20))
			if d := b.delay(n, limited); d < 2*time.Second || d > lceil {
				t.Fatalf("rate-limited delay(%d) = %v, want [2s, %v]", n, d, lceil)
			}
			if d := b.delay(n, e70050); d < time.Minute {
				t.Fatalf("70050 delay(%d) = %v", n, d)
			}
		}
	}
	huge := backoff{base: time.Hour, max: time.Duration(math.MaxInt64)}
	for n := 1; n < 100; n++ {
		if d := huge.delay(n, transient); d < 0 {
			t.Fatalf("overflow: delay(%d) = %v", n, d)
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.delay(5, transient)] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct delays in 50: no jitter?", len(seen))
	}
}

func TestStallBeyondTimeout(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, reply{stall: true})
	o, lim, obs := testOptions(api, clk)
	o.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	o.MaxAttempts = 2
	c := mustNew(t, o)
	var err error
	drive(t, clk, func() { _, err = c.Trace(context.Background(), "p") })
	e := asError(t, err)
	if e.Class != ClassTransient || e.Label() != "timeout" || len(api.requests()) != 2 || lim.n.Load() != 2 {
		t.Errorf("err %v label %s after %d requests", e, e.Label(), len(api.requests()))
	}
	if got := obs.errors(t); len(got) != 1 || got["timeout"] != 2 {
		t.Errorf("errors counted %v, want 2 timeouts", got)
	}
}

func TestNetworkError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	clk := clock.NewFake(testStart)
	o, _, _ := testOptions(&fakeAPI{Server: dead}, clk)
	o.MaxAttempts = 2
	c := mustNew(t, o)
	var err error
	drive(t, clk, func() { _, err = c.Trace(context.Background(), "p") })
	e := asError(t, err)
	if e.Label() != "network" || e.Class != ClassTransient {
		t.Errorf("label %s class %s", e.Label(), e.Class)
	}
	msg := e.Error()
	if !strings.Contains(msg, "POST /v4/timpush/normal_push_trace: dial tcp") || strings.Contains(msg, "?") || strings.Contains(msg, "usersig") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk, reply{status: 502})
	o, _, obs := testOptions(api, clk)
	o.BaseBackoff = time.Hour
	c := mustNew(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Trace(ctx, "p")
		done <- err
	}()
	clk.BlockUntil(1) // sleeping after the first 502 (unless jitter gave 0)
	cancel()
	err := <-done
	var e *Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &e) {
		t.Fatalf("err = %v, want a wrapped context.Canceled that is not an *Error", err)
	}
	if got := obs.attempts(t); got != len(api.requests()) {
		t.Errorf("observed %d attempts for %d requests", got, len(api.requests()))
	}
}

func TestContextCancelledDuringRequest(t *testing.T) {
	api := newFakeAPI(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api.onRequest = func(int, recorded) reply {
		cancel() // the caller gives up while the request is at the server
		return reply{stall: true}
	}
	o, _, obs := testOptions(api, nil)
	o.Clock = nil
	c := mustNew(t, o)
	_, err := c.Trace(ctx, "p")
	if !errors.Is(err, context.Canceled) || len(api.requests()) != 1 {
		t.Fatalf("err = %v after %d requests", err, len(api.requests()))
	}
	if got := obs.attempts(t); got != 0 {
		t.Errorf("an attempt aborted by the caller was observed: %d", got)
	}
	if got := obs.calls(t); got["other"] != 1 {
		t.Errorf("calls counted %v, want the aborted one: it took a slot", got)
	}
}

// TestPacerNeverExceeded runs concurrent calls that fail and retry through a
// real pacer at 1 call/s, and checks the fake-clock arrival times.
func TestPacerNeverExceeded(t *testing.T) {
	clk := clock.NewFake(testStart)
	api := newFakeAPI(t, clk)
	api.onRequest = func(i int, _ recorded) reply {
		if i%3 == 2 {
			return okReply(okBody)
		}
		return []reply{{status: 503}, codeReply(60008), codeReply(70001), codeReply(60007)}[i%4]
	}
	o, _, _ := testOptions(api, clk)
	o.Limiter = pacer.New(1, clk)
	o.BaseBackoff, o.MaxBackoff = time.Millisecond, 10*time.Millisecond
	c := mustNew(t, o)
	var mu sync.Mutex
	var errs []error
	call := func() {
		_, err := c.Trace(context.Background(), "p")
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	drive(t, clk, call, call, call, call)
	reqs := api.requests()
	if len(reqs) < 8 {
		t.Fatalf("only %d requests (errors %v)", len(reqs), errs)
	}
	at := make([]time.Time, len(reqs))
	for i, r := range reqs {
		at[i] = r.at
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Errorf("requests %d and %d only %v apart", i-1, i, gap)
		}
	}
}
