package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// pushIDsError is the body of every non-2xx reply of /webhook/push-ids.
type pushIDsError struct {
	Error string `json:"error"`
}

// pushIDsAccepted is the body of a 200 reply of /webhook/push-ids.
type pushIDsAccepted struct {
	Accepted int `json:"accepted"`
}

// pushIDsJSON is the JSON body: a single PushID, a list, or both.
type pushIDsJSON struct {
	PushID  *string  `json:"PushID"`
	PushIDs []string `json:"PushIDs"`
}

var (
	errPushIDsBadJSON = errors.New("invalid JSON")
	errPushIDsEmpty   = errors.New("no PushIDs")
)

// servePushIDs handles POST /webhook/push-ids?app=NAME. Order of checks:
// method, bearer token (before the app lookup, so an unauthenticated caller
// learns nothing about the configured apps), app, body. A body with any
// invalid ID is rejected whole: nothing is taken.
func (w *Webhook) servePushIDs(rw http.ResponseWriter, r *http.Request) {
	const ep = webhookEndpointPushIDs
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.reply(rw, ep, http.StatusMethodNotAllowed, pushIDsError{"method not allowed"})
		return
	}
	if reason := w.checkBearer(r); reason != "" {
		w.authFailures.WithLabelValues(ep, reason).Inc()
		level.Debug(w.logger).Log("msg", "push-ids request rejected", "reason", reason, "remote", r.RemoteAddr)
		rw.Header().Set("WWW-Authenticate", `Bearer realm="timpush_exporter"`)
		w.reply(rw, ep, http.StatusUnauthorized, pushIDsError{"unauthorized"})
		return
	}
	app, msg := w.appByName(r.URL.Query().Get("app"))
	if msg != "" {
		w.reply(rw, ep, http.StatusNotFound, pushIDsError{msg})
		return
	}
	body, status := w.readBody(rw, r)
	if status != 0 {
		w.reply(rw, ep, status, pushIDsError{strings.ToLower(http.StatusText(status))})
		return
	}
	raw, err := parsePushIDs(r.Header.Get("Content-Type"), body)
	if err != nil {
		level.Debug(w.logger).Log("msg", "push-ids request with a bad body", "app", app, "err", err)
		w.reply(rw, ep, http.StatusBadRequest, pushIDsError{err.Error()})
		return
	}
	ids := make([]pushid.ID, len(raw))
	now := w.clock.Now()
	for i, s := range raw {
		ids[i] = pushid.ID{App: app, PushID: s, Source: pushid.SourceWebhook, Seen: now}
	}
	if err := w.take(r.Context(), ids); err != nil {
		level.Warn(w.logger).Log("msg", "PushIDs from the push-ids endpoint not saved", "app", app, "ids", len(ids), "err", err)
		w.reply(rw, ep, http.StatusServiceUnavailable, pushIDsError{"not saved, retry later"})
		return
	}
	w.reply(rw, ep, http.StatusOK, pushIDsAccepted{len(ids)})
}

// checkBearer returns "" when the request carries the configured bearer
// token (or none is configured), else the auth failure reason.
func (w *Webhook) checkBearer(r *http.Request) string {
	token := w.bearerToken()
	if token == "" {
		return ""
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return webhookAuthMissing
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return webhookAuthBadToken
	}
	if !webhookSecretEqual(strings.TrimSpace(cred), token) {
		return webhookAuthBadToken
	}
	return ""
}

// appByName resolves the app query parameter. It may be omitted when exactly
// one app is configured. On failure it returns the message for the 404.
func (w *Webhook) appByName(name string) (string, string) {
	apps := w.apps()
	if name == "" {
		if len(apps) == 1 {
			return apps[0].Name, ""
		}
		return "", "app parameter required: not exactly one app configured"
	}
	for _, a := range apps {
		if a.Name == name {
			return a.Name, ""
		}
	}
	return "", "unknown app"
}

// parsePushIDs decodes a body: text/plain is one ID per line (blank lines
// and surrounding spaces, tabs and CRs ignored); anything else is JSON. Every
// ID must pass pushid.Validate and at least one must be present. Errors are
// short and never quote the body.
func parsePushIDs(contentType string, body []byte) ([]string, error) {
	var ids []string
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == "text/plain" {
		for line := range bytes.SplitSeq(body, []byte{'\n'}) {
			if s := strings.Trim(string(line), " \t\r"); s != "" {
				ids = append(ids, s)
			}
		}
	} else {
		var b pushIDsJSON
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, errPushIDsBadJSON
		}
		if b.PushID != nil {
			ids = append(ids, *b.PushID)
		}
		ids = append(ids, b.PushIDs...)
	}
	if len(ids) == 0 {
		return nil, errPushIDsEmpty
	}
	for i, s := range ids {
		if err := pushid.Validate(s); err != nil {
			return nil, fmt.Errorf("PushID %d: %w", i, err)
		}
	}
	return ids, nil
}
