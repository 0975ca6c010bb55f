// Package tracepage serves /trace: the trace of one push, queried at once
// through the app's rate limiter and shown as a timeline per instance (HTML)
// or as JSON (with "Accept: application/json"). It hides the validation of
// the input, the time budget of a query, the mapping of API failures to
// HTTP statuses, and the safe rendering of text that comes from Tencent and
// from users.
//
// Requests: GET (or POST, form-encoded) /trace?app=NAME&push_id=ID. app may
// be left out when exactly one app is configured. /trace without either
// parameter shows the empty form.
//
// Statuses: 200 with the trace (an empty trace is a 200 too: Tencent gives
// no error for unknown, too recent or expired PushIDs); 400 bad input; 404
// unknown app; 502 the API answered with an error or could not be reached;
// 503 the app's call budget did not free up, or the call did not finish,
// within Options.Wait, or Tencent said the app calls too often, or
// Options.MaxInFlight lookups of the app are already running (answered at
// once: waiting lookups would only crowd the app's budget). Every 503 has
// a Retry-After.
//
// JSON of a 200:
//
//	{"app": "demo", "push_id": "…", "instances": [{
//	   "instance_id": "…", "platform": "huawei", "system": "Android",
//	   "system_version": "12", "device_model": "NOH-AN00",
//	   "notification_enabled": true, "push_time": "2025-03-07T10:04:47+08:00",
//	   "stages": [{"stage": "im", "status": "success", "error_code": 0,
//	     "error_info": "success", "meaning": "", "event_time": "…",
//	     "delay_seconds": 0.0}, …]}]}
//
// stages always lists im, offline, channel, device, click, online_channel,
// online_device in that order; status is success, failure or not_reported;
// meaning is set for failures; event_time and delay_seconds are null when
// not reported (times are RFC 3339 in the app's zone). Any other status
// replies {"app", "push_id", "error": {"message", "error_code", "label",
// "meaning", "error_info", "hint"}}, where only message is always present.
package tracepage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Tracer queries the trace of one push. *timapi.Client implements it.
type Tracer interface {
	Trace(ctx context.Context, pushID string) (*timapi.Trace, error)
}

// Options configure the handler.
type Options struct {
	// Lookup returns the app's tracer for the page and its time zone; false
	// if the app is not configured.
	Lookup func(app string) (Tracer, *time.Location, bool)
	// Apps lists the configured app names, for the form and error messages.
	Apps func() []string
	// Wait bounds the wait for the app's rate-limit budget plus the call
	// (default DefaultWait); past it the reply is 503.
	Wait time.Duration
	// Describe, if set, gives the human meaning of a stage failure; when it
	// is nil or returns "", the page shows Tencent's ErrorInfo.
	Describe func(platform, stage string, code int, info string) string
	// MaxInFlight bounds the lookups of one app running at once (default
	// DefaultMaxInFlight); more get 503 at once.
	MaxInFlight int
	Logger      log.Logger
}

// DefaultWait is Options.Wait when it is zero.
const DefaultWait = 5 * time.Second

// DefaultMaxInFlight is Options.MaxInFlight when it is zero.
const DefaultMaxInFlight = 2

// maxForm bounds a POSTed form; a PushID is at most pushid.MaxLen bytes.
const maxForm = 16 << 10

// New returns the /trace handler.
func New(o Options) http.Handler {
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Apps == nil {
		o.Apps = func() []string { return nil }
	}
	if o.Lookup == nil {
		o.Lookup = func(string) (Tracer, *time.Location, bool) { return nil, nil, false }
	}
	return &handler{o: o, inFlight: map[string]int{}}
}

type handler struct {
	o Options

	mu       sync.Mutex
	inFlight map[string]int // lookups running, per app (configured apps only)
}

// acquire counts a lookup of app in, unless MaxInFlight already run.
func (h *handler) acquire(app string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight[app] >= h.o.MaxInFlight {
		return false
	}
	h.inFlight[app]++
	return true
}

func (h *handler) release(app string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight[app]--; h.inFlight[app] <= 0 {
		delete(h.inFlight, app)
	}
}

// retryAfter is the Retry-After of a 503: one wait's worth of seconds.
func (h *handler) retryAfter() string {
	return strconv.Itoa(int(math.Ceil(h.o.Wait.Seconds())))
}

// Problem is the "error" object of a failed request.
type Problem struct {
	Message   string `json:"message"`
	ErrorCode int    `json:"error_code,omitempty"` // Tencent's ErrorCode
	Label     string `json:"label,omitempty"`      // the error_code metric label: code, http_<status>, timeout, network, decode, unexpected_reply
	Meaning   string `json:"meaning,omitempty"`
	ErrorInfo string `json:"error_info,omitempty"` // Tencent's text, as received
	Hint      string `json:"hint,omitempty"`       // what to check
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed: use GET (or POST a form).", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	p := &view{Apps: h.o.Apps(), JSON: wantsJSON(r), Wait: h.o.Wait}
	if err := r.ParseForm(); err != nil {
		h.reply(w, p, http.StatusBadRequest, &Problem{Message: "The form could not be read."})
		return
	}
	_, hasApp := r.Form["app"]
	_, hasID := r.Form["push_id"]
	p.App = strings.TrimSpace(r.Form.Get("app"))
	p.PushID = strings.TrimSpace(r.Form.Get("push_id")) // pasted IDs often carry a blank
	if !hasApp && !hasID && !p.JSON {
		h.reply(w, p, http.StatusOK, nil) // just the form
		return
	}
	if p.App == "" && len(p.Apps) == 1 {
		p.App = p.Apps[0]
	}
	if p.App == "" {
		h.reply(w, p, http.StatusBadRequest, &Problem{Message: "Choose an app: " + appList(p.Apps) + "."})
		return
	}
	tracer, loc, ok := h.o.Lookup(p.App)
	if !ok {
		h.reply(w, p, http.StatusNotFound, &Problem{Message: fmt.Sprintf("Unknown app %q. %s.", clip(p.App), capitalize(appList(p.Apps)))})
		return
	}
	if err := pushid.Validate(p.PushID); err != nil {
		msg := "Enter a push_id: the MsgID of the message whose push you want to see."
		if p.PushID != "" {
			msg = fmt.Sprintf("This is not a PushID (%v).", err)
		}
		h.reply(w, p, http.StatusBadRequest, &Problem{Message: msg})
		return
	}
	if loc == nil {
		loc = time.UTC
	}
	p.Zone = zoneName(loc)

	if !h.acquire(p.App) {
		w.Header().Set("Retry-After", h.retryAfter())
		h.reply(w, p, http.StatusServiceUnavailable, &Problem{Message: fmt.Sprintf(
			"Budget busy, try again in a few seconds: %d lookups of this app are already running.", h.o.MaxInFlight)})
		return
	}
	defer h.release(p.App)
	ctx, cancel := context.WithTimeout(timapi.WithPurpose(r.Context(), timapi.PurposeTracePage), h.o.Wait)
	defer cancel()
	tr, err := tracer.Trace(ctx, p.PushID)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away; nobody to tell
		}
		status, prob := h.problem(ctx, err)
		level.Warn(h.o.Logger).Log("msg", "trace page query failed", "app", p.App, "push_id", p.PushID, "status", status, "err", err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", h.retryAfter())
		}
		h.reply(w, p, status, prob)
		return
	}
	if tr.PushID == "" {
		tr.PushID = p.PushID
	}
	res := buildResult(p.App, tr, loc, h.o.Describe)
	p.Result = &res
	p.Base = baseURL(r)
	p.Query = url.Values{"app": {p.App}, "push_id": {p.PushID}}.Encode()
	h.reply(w, p, http.StatusOK, nil)
}

// problem maps a failed query to a status and what the user is told. The
// text of err is logged, never shown: an *Error's parts are enough, and
// other errors have no business on a web page.
func (h *handler) problem(ctx context.Context, err error) (int, *Problem) {
	busy := &Problem{Message: fmt.Sprintf(
		"Budget busy, try again in a few seconds: the app's API call budget (shared with the background queries) "+
			"did not free up, or the API did not answer, within %s.", h.o.Wait)}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, busy
	}
	var ae *timapi.Error
	if !errors.As(err, &ae) {
		return http.StatusBadGateway, &Problem{Message: "The trace query failed; the exporter's log has the details."}
	}
	if ae.Label() == "timeout" {
		return http.StatusServiceUnavailable, busy
	}
	p := &Problem{Label: ae.Label(), ErrorCode: ae.Code, ErrorInfo: ae.Info, Hint: ae.Hint()}
	switch {
	case ae.Class == timapi.ClassRateLimited:
		// Tencent's side of "budget busy": the page makes one attempt
		// only, so the user is the one to try again.
		p.Meaning = timapi.Describe(ae.Code)
		p.Message = fmt.Sprintf("Budget busy, try again in a few seconds: the API answered with error %d.", ae.Code)
		return http.StatusServiceUnavailable, p
	case ae.Code != 0:
		p.Meaning = timapi.Describe(ae.Code)
		if p.Meaning == "" {
			p.Meaning = "an error code this exporter does not know"
		}
		p.Message = fmt.Sprintf("The API answered with error %d.", ae.Code)
	case ae.HTTPStatus != 0 && ae.HTTPStatus != http.StatusOK:
		p.Meaning = fmt.Sprintf("HTTP status %d from the API or a proxy in between", ae.HTTPStatus)
		p.Message = "The API could not be queried."
	case p.Label == "decode":
		p.Meaning = "the reply was cut off or not JSON"
		p.Message = "The API's reply could not be read."
	case ae.Class == timapi.ClassUnexpectedReply:
		p.Meaning = "the reply was JSON but not of the documented shape"
		p.Message = "The API's reply could not be read."
	default:
		p.Meaning = "the API could not be reached"
		p.Message = "The API could not be queried."
	}
	return http.StatusBadGateway, p
}

func appList(apps []string) string {
	if len(apps) == 0 {
		return "no apps are configured"
	}
	return "configured apps: " + strings.Join(apps, ", ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// clip bounds echoed input, so a megabyte of query string is not sent back.
func clip(s string) string {
	const max = 2 * pushid.MaxLen
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// zoneName names loc for the page header, e.g. "Asia/Shanghai (UTC+08:00)".
func zoneName(loc *time.Location) string {
	_, off := time.Now().In(loc).Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s (UTC%c%02d:%02d)", loc.String(), sign, off/3600, off%3600/60)
}

func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
