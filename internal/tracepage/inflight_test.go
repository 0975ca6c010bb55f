package tracepage

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// gateTracer holds every lookup until it is let go, and says when one
// started.
type gateTracer struct {
	started chan string
	finish  chan struct{}
}

func (g *gateTracer) Trace(ctx context.Context, pushID string) (*timapi.Trace, error) {
	g.started <- pushID
	select {
	case <-g.finish:
		return &timapi.Trace{PushID: pushID}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestThirdLookupIsTurnedAway: with two lookups of an app running, a third
// is answered 503 with Retry-After at once, without a call, instead of
// queueing for the app's budget (issue 13.4: 20 clients on /trace stopped
// the background queries). Another app is not affected, and a finished
// lookup makes room.
func TestThirdLookupIsTurnedAway(t *testing.T) {
	g := &gateTracer{started: make(chan string, 4), finish: make(chan struct{})}
	h := newHandler(g, func(o *Options) { o.Wait = time.Minute })
	results := make(chan response, 3)
	for range 2 {
		go func() { results <- get(t, h, q("demo", pid), true) }()
		<-g.started
	}

	start := time.Now()
	r := get(t, h, q("demo", pid), true)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "60" {
		t.Fatalf("third lookup: status %d, Retry-After %q; want 503 with Retry-After 60", r.status, r.header.Get("Retry-After"))
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("third lookup answered after %v, want at once", el)
	}
	mustContain(t, r.body, `"message":"Budget busy, try again in a few seconds: 2 lookups of this app are already running."`)
	select {
	case id := <-g.started:
		t.Fatalf("the turned-away lookup of %s reached the API", id)
	default:
	}

	go func() { results <- get(t, h, q("other", pid), true) }()
	<-g.started // another app's lookup runs
	close(g.finish)
	for range 3 {
		if r := <-results; r.status != http.StatusOK {
			t.Errorf("running lookup: status %d, want 200", r.status)
		}
	}
	go func() { <-g.started }()
	if r := get(t, h, q("demo", pid), true); r.status != http.StatusOK {
		t.Errorf("lookup after the others finished: status %d, want 200", r.status)
	}
}

func TestDefaultMaxInFlight(t *testing.T) {
	if h := New(Options{}).(*handler); h.o.MaxInFlight != 2 {
		t.Errorf("default MaxInFlight %d, want 2", h.o.MaxInFlight)
	}
}
