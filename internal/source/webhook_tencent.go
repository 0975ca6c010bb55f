package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Tencent Cloud Chat callback commands that carry an ID we take.
const (
	tencentC2CAfterSendMsg   = "C2C.CallbackAfterSendMsg"
	tencentGroupAfterSendMsg = "Group.CallbackAfterSendMsg"
	tencentOfflinePush       = "Push.OfflinePush"
)

// tencentSignWindow is how far RequestTime may be from now (replay guard).
const tencentSignWindow = 60 * time.Second

// tencentReply is the body Tencent expects back.
type tencentReply struct {
	ActionStatus string `json:"ActionStatus"`
	ErrorInfo    string `json:"ErrorInfo"`
	ErrorCode    int    `json:"ErrorCode"`
}

var tencentOK = tencentReply{ActionStatus: "OK", ErrorInfo: "", ErrorCode: 0}

func tencentFail(info string) tencentReply {
	return tencentReply{ActionStatus: "FAIL", ErrorInfo: info, ErrorCode: 1}
}

// tencentBody holds the fields of a callback body that matter here; the
// rest (and unknown fields) are ignored.
type tencentBody struct {
	CallbackCommand string         `json:"CallbackCommand"`
	MsgID           string         `json:"MsgId"`
	MsgKey          string         `json:"MsgKey"`
	Events          []tencentEvent `json:"Events"`
}

type tencentEvent struct {
	CallbackCommand string `json:"CallbackCommand"`
	PushID          string `json:"PushID"`
}

// serveTencent handles POST /webhook/tencent. Order of checks: method,
// signature (before the app lookup, so an unauthenticated caller learns
// nothing about the configured apps), app, body.
func (w *Webhook) serveTencent(rw http.ResponseWriter, r *http.Request) {
	const ep = webhookEndpointTencent
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.reply(rw, ep, http.StatusMethodNotAllowed, tencentFail("method not allowed"))
		return
	}
	q := r.URL.Query()
	if reason := w.checkTencentSign(q); reason != "" {
		w.authFailures.WithLabelValues(ep, reason).Inc()
		level.Debug(w.logger).Log("msg", "Tencent callback rejected", "reason", reason, "remote", r.RemoteAddr)
		w.reply(rw, ep, http.StatusUnauthorized, tencentFail(tencentAuthInfo[reason]))
		return
	}
	app, ok := w.appBySDKAppID(q)
	if !ok {
		level.Debug(w.logger).Log("msg", "Tencent callback for an unknown SdkAppid", "remote", r.RemoteAddr)
		w.reply(rw, ep, http.StatusNotFound, tencentFail("unknown SdkAppid"))
		return
	}
	body, status := w.readBody(rw, r)
	if status != 0 {
		w.reply(rw, ep, status, tencentFail(http.StatusText(status)))
		return
	}
	var b tencentBody
	if err := json.Unmarshal(body, &b); err != nil {
		level.Debug(w.logger).Log("msg", "Tencent callback with invalid JSON", "app", app, "bytes", len(body))
		w.reply(rw, ep, http.StatusBadRequest, tencentFail("invalid JSON"))
		return
	}
	ids, ignored := tencentIDs(app, tencentCommand(q, &b), &b, w.clock.Now())
	if err := w.take(r.Context(), ids); err != nil {
		level.Warn(w.logger).Log("msg", "PushIDs from a Tencent callback not saved", "app", app, "ids", len(ids), "err", err)
		w.reply(rw, ep, http.StatusServiceUnavailable, tencentFail("not saved, retry later"))
		return
	}
	// Counted only once acknowledged, so a retried callback is not counted twice.
	for reason, n := range ignored {
		w.ignored.WithLabelValues(reason).Add(float64(n))
	}
	w.reply(rw, ep, http.StatusOK, tencentOK)
}

// tencentAuthInfo is the ErrorInfo for each auth failure reason.
var tencentAuthInfo = map[string]string{
	webhookAuthMissing: "missing Sign or RequestTime",
	webhookAuthBadSign: "bad Sign",
	webhookAuthStale:   "stale RequestTime",
}

// checkTencentSign returns "" when the request is authentic (or no token is
// configured), else the auth failure reason.
func (w *Webhook) checkTencentSign(q url.Values) string {
	token := w.callbackToken()
	if token == "" {
		return ""
	}
	sign, rt := q.Get("Sign"), q.Get("RequestTime")
	if sign == "" || rt == "" {
		return webhookAuthMissing
	}
	if subtle.ConstantTimeCompare([]byte(sign), []byte(tencentSign(token, rt))) != 1 {
		return webhookAuthBadSign
	}
	sec, err := strconv.ParseInt(rt, 10, 64)
	if err != nil {
		return webhookAuthStale // signed, but not a time we can check
	}
	if d := w.clock.Now().Sub(time.Unix(sec, 0)); d > tencentSignWindow || d < -tencentSignWindow {
		return webhookAuthStale
	}
	return ""
}

// tencentSign is the Sign Tencent sends with a callback: lowercase hex
// SHA-256 (not HMAC) of token followed by the RequestTime string.
func tencentSign(token, requestTime string) string {
	sum := sha256.Sum256([]byte(token + requestTime))
	return hex.EncodeToString(sum[:])
}

// appBySDKAppID finds the app named by the SdkAppid query parameter.
// Tencent spells it "SdkAppid"; other spellings are accepted as well.
func (w *Webhook) appBySDKAppID(q url.Values) (string, bool) {
	v, found := q["SdkAppid"]
	if !found {
		for k, vs := range q {
			if strings.EqualFold(k, "SdkAppid") {
				v, found = vs, true
				break
			}
		}
	}
	if !found || len(v) == 0 {
		return "", false
	}
	id, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil {
		return "", false
	}
	for _, a := range w.apps() {
		if a.SDKAppID == id {
			return a.Name, true
		}
	}
	return "", false
}

// tencentCommand is the CallbackCommand from the query string, else from
// the body, else from the first event (Push.OfflinePush bodies have only
// Events at the top level).
func tencentCommand(q url.Values, b *tencentBody) string {
	if c := q.Get("CallbackCommand"); c != "" {
		return c
	}
	if b.CallbackCommand != "" {
		return b.CallbackCommand
	}
	if len(b.Events) > 0 {
		return b.Events[0].CallbackCommand
	}
	return ""
}

// tencentIDs extracts the PushIDs of a callback body and counts, by reason,
// what was acknowledged without an ID. IDs failing pushid.Validate are
// ignored rather than rejected: Tencent would only retry the same body.
func tencentIDs(app, cmd string, b *tencentBody, now time.Time) ([]pushid.ID, map[string]int) {
	var ids []pushid.ID
	ignored := map[string]int{}
	add := func(s string) {
		switch {
		case s == "":
			ignored[webhookIgnoredNoID]++
		case pushid.Validate(s) != nil:
			ignored[webhookIgnoredInvalidID]++
		default:
			ids = append(ids, pushid.ID{App: app, PushID: s, Source: pushid.SourceWebhook, Seen: now})
		}
	}
	switch cmd {
	case tencentC2CAfterSendMsg, tencentGroupAfterSendMsg:
		// Older bodies have only MsgKey, which is not a PushID: no_id.
		add(b.MsgID)
	case tencentOfflinePush:
		if len(b.Events) == 0 {
			ignored[webhookIgnoredNoID]++
		}
		for _, e := range b.Events {
			add(e.PushID)
		}
	default: // Push.AllMemberPush and everything else
		ignored[webhookIgnoredCommand]++
	}
	return ids, ignored
}
