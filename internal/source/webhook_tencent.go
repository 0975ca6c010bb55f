package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log/level"
)

// Tencent Cloud Chat callback commands that carry something we take.
const (
	tencentC2CAfterSendMsg   = "C2C.CallbackAfterSendMsg"
	tencentGroupAfterSendMsg = "Group.CallbackAfterSendMsg"
	tencentOfflinePush       = "Push.OfflinePush"   // events with a PushID
	tencentAllMemberPush     = "Push.AllMemberPush" // events with a TaskId, not traceable
)

// tencentSignWindow is how far RequestTime may be from now (replay guard).
const tencentSignWindow = 60 * time.Second

// tencentReply is the body Tencent expects back.
type tencentReply struct {
	ActionStatus string `json:"ActionStatus"`
	ErrorInfo    string `json:"ErrorInfo"`
	ErrorCode    int    `json:"ErrorCode"`
}

// tencentOK is the reply to every acknowledged callback, encoded once.
var tencentOK = []byte(`{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}` + "\n")

func tencentFail(info string) tencentReply {
	return tencentReply{ActionStatus: "FAIL", ErrorInfo: info, ErrorCode: 1}
}

// serveTencent handles POST /webhook/tencent. Order of checks: method,
// signature (before the app lookup, so an unauthenticated caller learns
// nothing about the configured apps), app, body. A body that is not JSON
// (or whose CallbackCommand, MsgId or Events has the wrong type) is 400;
// anything wrong inside an event only skips that ID or event, counted:
// Tencent would only send the same body again.
func (w *Webhook) serveTencent(rw http.ResponseWriter, r *http.Request) {
	const ep = webhookEndpointTencent
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.reply(rw, ep, http.StatusMethodNotAllowed, tencentFail("method not allowed"))
		return
	}
	q := r.URL.RawQuery
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
	sc := getScratch()
	defer putScratch(sc)
	if status := w.readBody(rw, r, &sc.body); status != 0 {
		w.reply(rw, ep, status, tencentFail(http.StatusText(status)))
		return
	}
	var b tencentBody
	if err := b.read(sc.body.Bytes()); err != nil {
		level.Debug(w.logger).Log("msg", "Tencent callback with invalid JSON", "app", app.Name, "bytes", sc.body.Len())
		w.reply(rw, ep, http.StatusBadRequest, tencentFail("invalid JSON"))
		return
	}
	now := w.clock.Now()
	t := tencentTake{app: app, now: now, sc: sc}
	t.body(queryGet(q, "CallbackCommand", false), &b)
	kept := w.sample(app.Name, sc.ids, now, sc.kept[:0])
	if err := w.deliver(r.Context(), sc.batch(app.Name, kept, sc.events, len(sc.ids))); err != nil {
		level.Warn(w.logger).Log("msg", "PushIDs and events from a Tencent callback not saved", "app", app.Name,
			"ids", len(sc.ids), "events", len(sc.events), "err", err)
		w.reply(rw, ep, http.StatusServiceUnavailable, tencentFail("not saved, retry later"))
		return
	}
	if t.badEvents > 0 {
		level.Debug(w.logger).Log("msg", "push callback events not counted", "app", app.Name,
			"events", t.badEvents, "first_problem", t.problem)
	}
	w.countIgnored(&t.ignored)
	w.eventsNoTime.Add(float64(t.noTime))
	w.replyJSON(rw, ep, http.StatusOK, tencentOK)
}

// tencentAuthInfo is the ErrorInfo for each auth failure reason.
var tencentAuthInfo = map[string]string{
	webhookAuthMissing: "missing Sign or RequestTime",
	webhookAuthBadSign: "bad Sign",
	webhookAuthStale:   "stale RequestTime",
}

// checkTencentSign returns "" when the request is authentic (or no token is
// configured), else the auth failure reason.
func (w *Webhook) checkTencentSign(rawQuery string) string {
	token := w.callbackToken()
	if token == "" {
		return ""
	}
	sign, rt := queryGet(rawQuery, "Sign", false), queryGet(rawQuery, "RequestTime", false)
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
func (w *Webhook) appBySDKAppID(rawQuery string) (WebhookApp, bool) {
	id, err := strconv.ParseInt(queryGet(rawQuery, "SdkAppid", true), 10, 64)
	if err != nil {
		return WebhookApp{}, false
	}
	for _, a := range w.apps() {
		if a.SDKAppID == id {
			return a, true
		}
	}
	return WebhookApp{}, false
}
