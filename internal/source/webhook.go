package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/clock"
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

// Reasons of timpush_exporter_webhook_ignored_total: what a Tencent callback
// carried that was acknowledged without being used.
const (
	ignoredCommand   = iota // a CallbackCommand that carries nothing we use
	ignoredNoID             // a body or event without the PushID it should carry
	ignoredInvalidID        // an ID that fails pushid.Validate (invalid UTF-8 included)
	ignoredBadEvent         // a push result event that cannot be counted
	ignoredNoEvent          // a Push.AllMemberPush body without events
	ignoredReasons
)

// ignoredReasonNames are the reason label values, by reason.
var ignoredReasonNames = [ignoredReasons]string{"command", "no_id", "invalid_id", "bad_event", "no_event"}

// whIgnored counts a request's ignored items by reason. They are added to
// the metric only once the request is acknowledged, so that a callback
// Tencent retries is not counted twice.
type whIgnored [ignoredReasons]int

// Values of the reason label of timpush_exporter_webhook_auth_failures_total.
const (
	webhookAuthMissing  = "missing"
	webhookAuthBadSign  = "bad_sign"
	webhookAuthStale    = "stale"
	webhookAuthBadToken = "bad_token"
)

// errWebhookDurableTimeout ends the wait for Sink.Durable.
var errWebhookDurableTimeout = errors.New("timed out waiting for the PushIDs to be saved")

// Webhook receives PushIDs and push result events over HTTP: Tencent Cloud
// Chat callbacks and a generic JSON / text endpoint. A request whose
// sampled PushIDs or events must survive a crash is answered 2xx only after
// the sink reported them saved; one that only adds to the received counts
// (no PushID sampled, no event) is answered at once, with no fsync.
type Webhook struct {
	opts   WebhookOptions
	sink   Sink
	clock  clock.Clock
	logger log.Logger

	requests     *prometheus.CounterVec
	ignored      *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	eventsNoTime prometheus.Counter

	// Resolved once: the counters every request adds to.
	ok        [2]prometheus.Counter // requests answered 200, by endpoint (webhookEndpoints)
	ignoredBy [ignoredReasons]prometheus.Counter
}

// webhookEndpoints indexes Webhook.ok.
var webhookEndpoints = [2]string{webhookEndpointTencent, webhookEndpointPushIDs}

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
		Help: "Tencent callbacks, and the IDs and events in them, acknowledged without being used, by reason.",
	}, []string{"reason"})
	w.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "timpush_exporter_webhook_auth_failures_total",
		Help: "Webhook requests rejected as unauthenticated, by endpoint and reason.",
	}, []string{"endpoint", "reason"})
	w.eventsNoTime = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "timpush_exporter_webhook_events_without_time_total",
		Help: "Push callback events whose EventTime was missing or not a time, given the time they were received instead.",
	})
	for i, name := range webhookEndpoints {
		w.ok[i] = w.requests.WithLabelValues(name, "200")
	}
	for r, name := range ignoredReasonNames {
		w.ignoredBy[r] = w.ignored.WithLabelValues(name)
	}
	for _, r := range []string{webhookAuthMissing, webhookAuthBadSign, webhookAuthStale} {
		w.authFailures.WithLabelValues(webhookEndpointTencent, r)
	}
	for _, r := range []string{webhookAuthMissing, webhookAuthBadToken} {
		w.authFailures.WithLabelValues(webhookEndpointPushIDs, r)
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.requests, w.ignored, w.authFailures, w.eventsNoTime} {
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

// countIgnored adds an acknowledged request's ignored items.
func (w *Webhook) countIgnored(ig *whIgnored) {
	for r, n := range ig {
		if n > 0 {
			w.ignoredBy[r].Add(float64(n))
		}
	}
}

// reply writes v as JSON with status and counts the request.
func (w *Webhook) reply(rw http.ResponseWriter, endpoint string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // cannot happen with the reply types used here
		level.Error(w.logger).Log("msg", "encoding webhook reply", "err", err)
		body = []byte(`{}`)
	}
	w.replyJSON(rw, endpoint, status, append(body, '\n'))
}

// replyJSON writes body, JSON and its newline, with status and counts the
// request.
func (w *Webhook) replyJSON(rw http.ResponseWriter, endpoint string, status int, body []byte) {
	if i := slices.Index(webhookEndpoints[:], endpoint); status == http.StatusOK && i >= 0 {
		w.ok[i].Inc()
	} else {
		w.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	}
	// Shared slices, not Set: one allocation less per header on the hot
	// path. net/http only reads them, and Add would copy them first.
	h := rw.Header()
	h["Content-Type"] = webhookContentType
	h["X-Content-Type-Options"] = webhookNoSniff
	h["Cache-Control"] = webhookNoStore
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}

// The headers of every reply.
var (
	webhookContentType = []string{"application/json"}
	webhookNoSniff     = []string{"nosniff"}
	webhookNoStore     = []string{"no-store"}
)

// queryGet is url.Values.Get of the raw query string, without building the
// map: the first value of key, "" if none. Pairs that url.ParseQuery skips
// (a semicolon, a bad escape) are skipped too. If fold, a key that equals
// key only case-insensitively is taken when no exact one exists.
func queryGet(rawQuery, key string, fold bool) string {
	var folded string
	foundFolded := false
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, ok := queryUnescape(k)
		if !ok || !strings.EqualFold(k, key) {
			continue
		}
		if v, ok = queryUnescape(v); !ok {
			continue
		}
		if k == key {
			return v
		}
		if fold && !foundFolded {
			folded, foundFolded = v, true
		}
	}
	return folded
}

// queryUnescape is url.QueryUnescape, without allocating for the usual
// strings that need no unescaping.
func queryUnescape(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// webhookSecretEqual compares a presented secret with the expected one in
// constant time; hashing first hides the expected length as well.
func webhookSecretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
