package source

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
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

// The members of a JSON body: a single PushID, a list, or both.
var (
	pushIDsNameOne  = wjFold("PushID")
	pushIDsNameList = wjFold("PushIDs")
)

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
	app, msg := w.appByName(queryGet(r.URL.RawQuery, "app", false))
	if msg != "" {
		w.reply(rw, ep, http.StatusNotFound, pushIDsError{msg})
		return
	}
	sc := getScratch()
	defer putScratch(sc)
	if status := w.readBody(rw, r, &sc.body); status != 0 {
		w.reply(rw, ep, status, pushIDsError{strings.ToLower(http.StatusText(status))})
		return
	}
	ids, err := parsePushIDs(r.Header.Get("Content-Type"), sc.body.Bytes(), sc.ids[:0])
	if err != nil {
		level.Debug(w.logger).Log("msg", "push-ids request with a bad body", "app", app, "err", err)
		w.reply(rw, ep, http.StatusBadRequest, pushIDsError{err.Error()})
		return
	}
	sc.ids = ids
	now := w.clock.Now()
	kept := w.sample(app, ids, now, sc.kept[:0])
	if err := w.deliver(r.Context(), sc.batch(app, kept, nil, len(ids))); err != nil {
		level.Warn(w.logger).Log("msg", "PushIDs from the push-ids endpoint not saved", "app", app, "ids", len(ids), "err", err)
		w.reply(rw, ep, http.StatusServiceUnavailable, pushIDsError{"not saved, retry later"})
		return
	}
	reply := append(sc.reply[:0], `{"accepted":`...)
	w.replyJSON(rw, ep, http.StatusOK, append(strconv.AppendInt(reply, int64(len(ids)), 10), "}\n"...))
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

// parsePushIDs reads a body, appending its IDs to ids: text/plain is one ID
// per line (blank lines and surrounding spaces, tabs and CRs ignored);
// anything else is JSON, {"PushID":"…"} and/or {"PushIDs":["…",…]}. Every ID
// must pass pushid.Validate — invalid UTF-8 and unpaired surrogate escapes
// in a JSON string fail it too, where encoding/json would have made them
// U+FFFD — and at least one must be present. Errors are short and never
// quote the body.
func parsePushIDs(contentType string, body []byte, ids [][]byte) ([][]byte, error) {
	var err error
	if isTextPlain(contentType) {
		for line := range bytes.SplitSeq(body, []byte{'\n'}) {
			if s := bytes.Trim(line, " \t\r"); len(s) > 0 {
				ids = append(ids, s)
			}
		}
	} else if ids, err = pushIDsFromJSON(body, ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errPushIDsEmpty
	}
	for i, s := range ids {
		if !pushid.ValidBytes(s) {
			return nil, fmt.Errorf("PushID %d: %w", i, pushid.Validate(string(s)))
		}
	}
	return ids, nil
}

// isTextPlain reports whether the Content-Type is text/plain (parameters
// allowed). Only a type that may be it is parsed.
func isTextPlain(contentType string) bool {
	const plain = "text/plain"
	if len(contentType) < len(plain) || !strings.EqualFold(contentType[:len(plain)], plain) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == plain
}

// pushIDsFromJSON appends the IDs of a JSON body: PushID first, then the
// elements of PushIDs. As with decoding into a struct, either may be absent
// or null, a null element is an empty (invalid) ID, another type makes the
// body invalid, and the last of duplicate members wins.
func pushIDsFromJSON(body []byte, ids [][]byte) ([][]byte, error) {
	var oneKind, listKind wjKind
	var one, list []byte
	err := wjWalkObject(body, func(key []byte, kind wjKind, val []byte) error {
		switch {
		case wjKeyIs(key, pushIDsNameOne):
			oneKind, one = kind, val
		case wjKeyIs(key, pushIDsNameList):
			listKind, list = kind, val
		}
		return nil
	})
	if err != nil || !wjKindIs(oneKind, wjString) || !wjKindIs(listKind, wjArray) {
		return nil, errPushIDsBadJSON
	}
	if oneKind == wjString {
		s, _ := wjUnquote(one, nil)
		ids = append(ids, s)
	}
	if listKind != wjArray {
		return ids, nil
	}
	err = wjWalkArray(list, func(kind wjKind, val []byte) error {
		switch kind {
		case wjString:
			s, _ := wjUnquote(val, nil)
			ids = append(ids, s)
		case wjNull:
			ids = append(ids, nil)
		default:
			return errPushIDsBadJSON
		}
		return nil
	})
	if err != nil {
		return nil, errPushIDsBadJSON
	}
	return ids, nil
}
