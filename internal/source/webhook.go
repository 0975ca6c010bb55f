package source

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
)

// WebhookApp is one configured app as the webhook listener sees it.
type WebhookApp struct {
	Name     string
	SDKAppID int64
}

// WebhookOptions configures a Webhook. The func-valued fields are read on
// every request, so a configuration reload takes effect without rebuilding
// the handlers.
type WebhookOptions struct {
	Apps          func() []WebhookApp // current apps (config may be reloaded)
	CallbackToken func() string       // "" => Tencent callbacks need no signature
	BearerToken   func() string       // "" => the JSON endpoint is open
	MaxBodyBytes  func() int64        // nil or <= 0 => WebhookDefaultMaxBodyBytes
	Clock         clock.Clock         // nil => clock.Real
	Logger        log.Logger          // nil => no logging
	Registerer    prometheus.Registerer
	// DurableTimeout bounds the wait for Sink.Durable before a request is
	// answered 503. Zero means WebhookDefaultDurableTimeout.
	DurableTimeout time.Duration
}

// Defaults used when the corresponding option is unset.
const (
	WebhookDefaultMaxBodyBytes   = 1 << 20
	WebhookDefaultDurableTimeout = 10 * time.Second
)

// Values of the endpoint label.
const (
	webhookEndpointTencent = "tencent"
	webhookEndpointPushIDs = "push_ids"
)

// Values of the reason label of timpush_exporter_webhook_ignored_total.
const (
	webhookIgnoredCommand   = "command"    // a CallbackCommand that carries no PushID we use
	webhookIgnoredNoID      = "no_id"      // a body or event without an ID
	webhookIgnoredInvalidID = "invalid_id" // an ID from Tencent that fails pushid.Validate
)

// Values of the reason label of timpush_exporter_webhook_auth_failures_total.
const (
	webhookAuthMissing  = "missing"
	webhookAuthBadSign  = "bad_sign"
	webhookAuthStale    = "stale"
	webhookAuthBadToken = "bad_token"
)

// errWebhookDurableTimeout ends the wait for Sink.Durable.
var errWebhookDurableTimeout = errors.New("timed out waiting for the PushIDs to be saved")

// Webhook receives PushIDs over HTTP: Tencent Cloud Chat callbacks and a
// generic JSON / text endpoint. A request is answered 2xx only after the IDs
// it carried have been offered to the sink and the sink reported them saved.
type Webhook struct {
	opts   WebhookOptions
	sink   Sink
	clock  clock.Clock
	logger log.Logger

	requests     *prometheus.CounterVec
	ignored      *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

// NewWebhook returns the webhook handlers, registering their metrics with
// o.Registerer (if set).
func NewWebhook(o WebhookOptions, sink Sink) (*Webhook, error) {
	if sink == nil {
		return nil, errors.New("webhook: nil sink")
	}
	if o.Apps == nil {
		return nil, errors.New("webhook: Apps is required")
	}
	if o.DurableTimeout <= 0 {
		o.DurableTimeout = WebhookDefaultDurableTimeout
	}
	w := &Webhook{opts: o, sink: sink, clock: o.Clock, logger: o.Logger}
	if w.clock == nil {
		w.clock = clock.Real{}
	}
	if w.logger == nil {
		w.logger = log.NewNopLogger()
	}
	w.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "timpush_exporter_webhook_requests_total",
		Help: "Webhook requests answered, by endpoint and HTTP status code.",
	}, []string{"endpoint", "code"})
	w.ignored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "timpush_exporter_webhook_ignored_total",
		Help: "Tencent callbacks or events acknowledged without taking a PushID, by reason.",
	}, []string{"reason"})
	w.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "timpush_exporter_webhook_auth_failures_total",
		Help: "Webhook requests rejected as unauthenticated, by endpoint and reason.",
	}, []string{"endpoint", "reason"})
	for _, r := range []string{webhookIgnoredCommand, webhookIgnoredNoID, webhookIgnoredInvalidID} {
		w.ignored.WithLabelValues(r)
	}
	for _, r := range []string{webhookAuthMissing, webhookAuthBadSign, webhookAuthStale} {
		w.authFailures.WithLabelValues(webhookEndpointTencent, r)
	}
	for _, r := range []string{webhookAuthMissing, webhookAuthBadToken} {
		w.authFailures.WithLabelValues(webhookEndpointPushIDs, r)
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.requests, w.ignored, w.authFailures} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("webhook: registering metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Handler returns the listener's routes: POST /webhook/tencent,
// POST /webhook/push-ids and GET /-/healthy.
func (w *Webhook) Handler() http.Handler {
	mux := http.NewServeMux()
	// No method in these patterns: the handlers answer 405 themselves, so
	// the reply is JSON and counted.
	mux.HandleFunc("/webhook/tencent", w.serveTencent)
	mux.HandleFunc("/webhook/push-ids", w.servePushIDs)
	mux.HandleFunc("GET /-/healthy", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(rw, "Healthy\n")
	})
	return mux
}

func (w *Webhook) apps() []WebhookApp { return w.opts.Apps() }

func (w *Webhook) callbackToken() string {
	if w.opts.CallbackToken == nil {
		return ""
	}
	return w.opts.CallbackToken()
}

func (w *Webhook) bearerToken() string {
	if w.opts.BearerToken == nil {
		return ""
	}
	return w.opts.BearerToken()
}

func (w *Webhook) maxBodyBytes() int64 {
	if w.opts.MaxBodyBytes != nil {
		if n := w.opts.MaxBodyBytes(); n > 0 {
			return n
		}
	}
	return WebhookDefaultMaxBodyBytes
}

// readBody reads the request body up to the configured limit. On failure it
// returns the status to answer: 413 over the limit, 400 otherwise.
func (w *Webhook) readBody(rw http.ResponseWriter, r *http.Request) ([]byte, int) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.maxBodyBytes()))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	return body, 0
}

// take offers ids to the sink and waits until the sink has saved them, at
// most DurableTimeout (measured on the injected clock).
func (w *Webhook) take(ctx context.Context, ids []pushid.ID) error {
	if len(ids) == 0 {
		return nil
	}
	sampled, received := Sample(w.sink, ids)
	w.sink.Offer(Batch{IDs: sampled, Received: received})

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := w.clock.NewTimer(w.opts.DurableTimeout)
	defer timer.Stop()
	done := make(chan struct{})
	defer close(done) // runs first: the goroutine is gone before cancel
	go func() {
		select {
		case <-timer.C():
			cancel(errWebhookDurableTimeout)
		case <-done:
		}
	}()
	if err := w.sink.Durable(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, ctx.Err()) {
			return cause
		}
		return err
	}
	return nil
}

// reply writes v as JSON with status and counts the request.
func (w *Webhook) reply(rw http.ResponseWriter, endpoint string, status int, v any) {
	w.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	body, err := json.Marshal(v)
	if err != nil { // cannot happen with the reply types used here
		level.Error(w.logger).Log("msg", "encoding webhook reply", "err", err)
		body = []byte(`{}`)
	}
	h := rw.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	_, _ = rw.Write(append(body, '\n'))
}

// webhookSecretEqual compares a presented secret with the expected one in
// constant time; hashing first hides the expected length as well.
func webhookSecretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
