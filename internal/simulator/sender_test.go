package simulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

const callbackToken = "callback-token-do-not-leak"

// post is one callback POST as the app's server saw it.
type post struct {
	at     time.Time // the fake clock's time when it arrived
	query  url.Values
	events []json.RawMessage
}

// callbackServer records the POSTs it gets; the first fail of them are
// answered 503.
type callbackServer struct {
	t     *testing.T
	clock *clock.Fake
	posts chan post

	mu   sync.Mutex
	fail int
}

func newCallbackServer(t *testing.T, fc *clock.Fake, fail int) (*callbackServer, *httptest.Server) {
	cs := &callbackServer{t: t, clock: fc, posts: make(chan post, 1000), fail: fail}
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)
	return cs, srv
}

func (cs *callbackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Events []json.RawMessage }
	b, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil {
		cs.t.Errorf("bad callback: %s %s %q", r.Method, r.Header.Get("Content-Type"), b)
	}
	cs.posts <- post{cs.clock.Now(), r.URL.Query(), body.Events}
	cs.mu.Lock()
	failing := cs.fail > 0
	cs.fail--
	cs.mu.Unlock()
	if failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`) //nolint:errcheck
}

// drain returns the POSTs received so far.
func (cs *callbackServer) drain() []post {
	var out []post
	for {
		select {
		case p := <-cs.posts:
			out = append(out, p)
		default:
			return out
		}
	}
}

func newSender(s *Simulator, srv *httptest.Server, cfg CallbackConfig) *CallbackSender {
	cfg.URL, cfg.SDKAppID, cfg.Token = srv.URL+"/webhook/tencent", testApp, callbackToken
	return s.NewCallbackSender(cfg)
}

// eventJSON is how one event appears in a body.
func eventJSON(t *testing.T, e PushEvent) string {
	t.Helper()
	var body struct{ Events []json.RawMessage }
	if err := json.Unmarshal(CallbackBody([]PushEvent{e}), &body); err != nil {
		t.Fatal(err)
	}
	return string(body.Events[0])
}

// TestCallbackSenderDeliversWhenDue steps the clock a second at a time:
// every event arrives once, signed, at the first step at or after its
// DeliverAt, redelivered copies included.
func TestCallbackSenderDeliversWhenDue(t *testing.T) {
	cfg := testConfig()
	cfg.Faults.CallbackRedelivery = 0.2
	s, fc := newSim(t, cfg)
	cs, srv := newCallbackServer(t, fc, 0)
	snd := newSender(s, srv, CallbackConfig{})
	var want, got []string // event@step
	for i := range 600 {
		if i < 30 { // a push a second for 30 s
			id := s.NewPush(testApp)
			for _, e := range s.PushEvents(testApp, id) {
				step := e.DeliverAt.Truncate(time.Second)
				if step.Before(e.DeliverAt) {
					step = step.Add(time.Second)
				}
				want = append(want, eventJSON(t, e)+"@"+step.Sub(t0).String())
			}
			if n := snd.AddPush(id); n != len(s.PushEvents(testApp, id)) {
				t.Fatalf("AddPush queued %d events", n)
			}
		}
		if err := snd.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, p := range cs.drain() {
			if rt := p.query.Get("RequestTime"); rt != itoa(p.at.Unix()) || p.query.Get("Sign") != CallbackSign(callbackToken, rt) {
				t.Fatalf("query %v at %v", p.query, p.at)
			}
			if p.query.Get("SdkAppid") != itoa(testApp) || p.query.Get("CallbackCommand") != CallbackOfflinePush {
				t.Fatalf("query %v", p.query)
			}
			for _, e := range p.events {
				got = append(got, string(e)+"@"+p.at.Sub(t0).String())
			}
		}
		fc.Advance(time.Second)
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("delivered %d events, want %d:\n%s\nwant\n%s", len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := snd.Stats(); st.Delivered != len(want) || st.Failures != 0 || st.Pending != 0 || st.Posts == 0 {
		t.Errorf("stats %+v", st)
	}
}

// someEvents returns n events of the simulator's pushes, all due at at.
func someEvents(s *Simulator, n int, at time.Time) []PushEvent {
	var out []PushEvent
	for len(out) < n {
		out = append(out, s.PushEvents(testApp, s.NewPush(testApp))...)
	}
	out = out[:n]
	for i := range out {
		out[i].DeliverAt = at
	}
	return out
}

func TestCallbackSenderBatches(t *testing.T) {
	s, fc := newSim(t, testConfig())
	cs, srv := newCallbackServer(t, fc, 0)
	snd := newSender(s, srv, CallbackConfig{})
	snd.Add(someEvents(s, 250, t0.Add(time.Second))...)
	if err := snd.SendDue(context.Background()); err != nil || len(cs.drain()) != 0 {
		t.Fatalf("posted before due: %v", err)
	}
	fc.Advance(time.Second)
	if err := snd.SendDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range cs.drain() {
		sizes = append(sizes, len(p.events))
	}
	if len(sizes) != 3 || sizes[0] != MaxCallbackEvents || sizes[1] != MaxCallbackEvents || sizes[2] != 50 {
		t.Errorf("batch sizes %v, want [100 100 50]", sizes)
	}
	if st := snd.Stats(); st != (CallbackStats{Posts: 3, Delivered: 250}) {
		t.Errorf("stats %+v", st)
	}
}

func TestCallbackSenderRetries(t *testing.T) {
	s, fc := newSim(t, testConfig())
	cs, srv := newCallbackServer(t, fc, 2)
	snd := newSender(s, srv, CallbackConfig{RetryAfter: 30 * time.Second})
	events := someEvents(s, 5, t0)
	snd.Add(events...)
	send := func(wantPosts int, wantErr bool) []post {
		t.Helper()
		err := snd.SendDue(context.Background())
		posts := cs.drain()
		if len(posts) != wantPosts || (err != nil) != wantErr {
			t.Fatalf("at +%v: %d posts, error %v", fc.Now().Sub(t0), len(posts), err)
		}
		if err != nil && (strings.Contains(err.Error(), callbackToken) || strings.Contains(err.Error(), "Sign")) {
			t.Fatalf("error leaks the signature: %v", err)
		}
		return posts
	}
	first := send(1, true)
	fc.Advance(29 * time.Second)
	send(0, false) // not yet
	fc.Advance(time.Second)
	send(1, true)
	fc.Advance(30 * time.Second)
	last := send(1, false)
	if len(last[0].events) != 5 || strings.Join(rawStrings(last[0].events), ",") != strings.Join(rawStrings(first[0].events), ",") {
		t.Errorf("the retried POST carried other events")
	}
	if st := snd.Stats(); st != (CallbackStats{Posts: 3, Failures: 2, Delivered: 5}) {
		t.Errorf("stats %+v", st)
	}

	// A receiver that never answers 2xx: the events go after MaxAttempts.
	cs.mu.Lock()
	cs.fail = 1 << 30
	cs.mu.Unlock()
	snd = newSender(s, srv, CallbackConfig{RetryAfter: time.Second, MaxAttempts: 2})
	snd.Add(events...)
	send(1, true)
	fc.Advance(time.Second)
	send(1, true)
	fc.Advance(time.Hour)
	send(0, false)
	if st := snd.Stats(); st != (CallbackStats{Posts: 2, Failures: 2, Dropped: 5}) {
		t.Errorf("stats %+v", st)
	}
}

func rawStrings(r []json.RawMessage) []string {
	out := make([]string, len(r))
	for i, m := range r {
		out[i] = string(m)
	}
	return out
}

func TestCallbackSenderUnreachable(t *testing.T) {
	s, fc := newSim(t, testConfig())
	_, srv := newCallbackServer(t, fc, 0)
	snd := newSender(s, srv, CallbackConfig{})
	srv.Close()
	snd.Add(someEvents(s, 3, t0)...)
	err := snd.SendDue(context.Background())
	if err == nil || strings.Contains(err.Error(), "Sign") || strings.Contains(err.Error(), callbackToken) {
		t.Fatalf("error %v", err)
	}
	if st := snd.Stats(); st != (CallbackStats{Posts: 1, Failures: 1, Pending: 3}) {
		t.Errorf("stats %+v", st)
	}
}

// TestCallbackSenderRun: Run waits on the Clock for each event's time.
func TestCallbackSenderRun(t *testing.T) {
	s, fc := newSim(t, testConfig())
	cs, srv := newCallbackServer(t, fc, 0)
	snd := newSender(s, srv, CallbackConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { snd.Run(ctx); close(done) }()
	var want int
	for want == 0 {
		want = snd.AddPush(s.NewPush(testApp))
	}
	for got := 0; got < want; {
		fc.BlockUntil(1)
		d, _ := fc.NextDeadline()
		fc.Set(d)
		p := <-cs.posts
		if p.at.Before(d) {
			t.Fatalf("posted at %v, before the deadline %v", p.at, d)
		}
		got += len(p.events)
	}
	// Once Run waits for a later event, the last POST has been settled.
	snd.Add(someEvents(s, 1, fc.Now().Add(time.Hour))...)
	fc.BlockUntil(1)
	if st := snd.Stats(); st.Delivered != want || st.Failures != 0 || st.Pending != 1 {
		t.Errorf("stats %+v", st)
	}
	cancel()
	<-done
}
