package fidelity

import (
	"bytes"
	"container/heap"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/simulator"
	"github.com/timpush/timpush_exporter/internal/source"
)

// handlerTransport serves the client's requests with the simulator's
// handler in the same goroutine: no sockets, and the simulator reads the
// simulated clock exactly when the call is made.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// noLimit lets every call through: the harness makes at most one call per
// simulated second itself, and the simulator counts any call over its
// limit (Result.OverLimit).
type noLimit struct{}

func (noLimit) Wait(context.Context) (func(sent, replied time.Time), error) {
	return func(time.Time, time.Time) {}, nil
}

// instantSink is the ledger as the webhook sees it, with nothing to wait
// for: the harness keeps no state file, and a checkpoint runs before each
// scrape.
type instantSink struct{ *ledger.Ledger }

func (instantSink) Durable(context.Context) error { return nil }

// newWebhook is the webhook's real handler over the ledger, with one app
// and no tokens.
func newWebhook(l *ledger.Ledger, clk clock.Clock) (http.Handler, error) {
	wh, err := source.NewWebhook(source.WebhookOptions{
		Apps:  func() []source.WebhookApp { return []source.WebhookApp{{Name: appName, SDKAppID: sdkAppID}} },
		Clock: clk,
	}, instantSink{l})
	if err != nil {
		return nil, err
	}
	return wh.Handler(), nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// scrapeURL is /metrics asking for the families whose names the rule files
// mention (a name[] for every identifier in them).
func scrapeURL(ruleFiles []string) (string, error) {
	names := map[string]bool{}
	for _, f := range ruleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		for _, m := range ruleWord.FindAll(b, -1) {
			names[string(m)] = true
		}
	}
	q := url.Values{}
	for n := range names {
		q.Add("name[]", n)
	}
	return "/metrics?" + q.Encode(), nil
}

var ruleWord = regexp.MustCompile(`[a-zA-Z_][a-zA-Z0-9_]*`)

// eventQueue holds callback events until they are delivered.
type eventQueue []simulator.PushEvent

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].DeliverAt.Before(q[j].DeliverAt) }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(simulator.PushEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (q *eventQueue) add(events ...simulator.PushEvent) {
	for _, e := range events {
		heap.Push(q, e)
	}
}

// due takes the events to deliver by t, in delivery order.
func (q *eventQueue) due(t time.Time) []simulator.PushEvent {
	var out []simulator.PushEvent
	for q.Len() > 0 && !(*q)[0].DeliverAt.After(t) {
		out = append(out, heap.Pop(q).(simulator.PushEvent))
	}
	return out
}

// gather sums a counter of app prod by one label.
func gather(g prometheus.Gatherer, name, label string) map[string]float64 {
	out := map[string]float64{}
	fams, err := g.Gather()
	if err != nil {
		return out
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
