package simulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tencentyun/tls-sig-api-v2-golang/tencentyun"
)

// Error codes, all taken from Tencent's public tables: the REST API common
// error codes (60000-79999) and the push service's private codes (9xxxx).
const (
	codeHTTPParse     = 60002 // HTTP parse error: wrong method or malformed URL (random, contenttype)
	codeJSONParse     = 60003 // HTTP request JSON parse error: empty body, not a JSON object
	codeAccount       = 60004 // account or signature missing from the URL (identifier, usersig)
	codeOverLimit     = 60007 // REST call frequency over the limit
	codeBadResource   = 60009 // request resource error: unknown path
	codeNoSDKAppID    = 60012 // the REST API needs an SDKAppID: sdkappid missing or not a number
	codeSigExpired    = 70001 // UserSig expired
	codeSigParse      = 70003 // UserSig could not be parsed
	codeSigVerify     = 70009 // UserSig verification failed (wrong key)
	codeSigIdentifier = 70013 // identifier in the request differs from the UserSig's
	codeSigSDKAppID   = 70014 // SDKAppID in the request differs from the UserSig's
	codeUnknownApp    = 70020 // SDKAppID not found (wrong data centre?): our unknown sdkappid
	codeNeedsAdmin    = 90009 // push service: the request needs an App administrator
	codeInvalidParams = 90100 // push service: invalid parameters (body fields)
	codeInternalRetry = 90102 // push service: internal error, try again later
)

// maxBody bounds request bodies; ours are a few dozen bytes.
const maxBody = 1 << 20

// Paths served.
const (
	PathTrace      = "/v4/timpush/normal_push_trace"
	PathStatistics = "/v4/timpush/normal_push_statistics"
	PathLoss       = "/v4/timpush/normal_push_loss"
)

type replyKind int

const (
	kindOK replyKind = iota
	kindBad
	kindAuth
	kindOverLimit
	kindFault // an error reply produced by an injected fault
)

// reply is an answer in the making.
type reply struct {
	kind      replyKind
	code      int
	body      []byte
	delivered func() // called once the complete reply was written; may be nil
}

func errReply(code int, info string) reply {
	b, _ := json.Marshal(struct {
		ActionStatus string
		ErrorCode    int
		ErrorInfo    string
	}{"FAIL", code, info})
	return reply{kind: kindBad, code: code, body: b}
}

func (r reply) as(k replyKind) reply { r.kind = k; return r }

func okReply(v any, delivered func()) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic("simulator: marshal reply: " + err.Error()) // our own types: cannot happen
	}
	return reply{kind: kindOK, body: b, delivered: delivered}
}

type endpoint func(s *Simulator, app int64, body map[string]json.RawMessage) reply

var endpoints = map[string]endpoint{
	PathTrace:      (*Simulator).trace,
	PathStatistics: (*Simulator).statistics,
	PathLoss:       (*Simulator).loss,
}

// Handler returns the HTTP handler of the fake API.
func (s *Simulator) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app, known := s.appOf(q)
	bucket := int64(0)
	if known {
		bucket = app.SDKAppID
	}
	s.mu.Lock()
	s.statsLocked(bucket).Calls++
	s.mu.Unlock()

	var f drawn
	rep, ok := s.gate(r, q, app, known)
	if ok {
		f = s.drawFaults()
		if f.stall && !s.stall(r) {
			s.tally(bucket, reply{kind: kindFault}, true, false)
			return // the client gave up; nothing is written
		}
		rep = s.answer(r, q, app, f)
	}
	if f.http502 {
		s.tally(bucket, reply{kind: kindFault}, true, false)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, badGatewayHTML) //nolint:errcheck // client's problem
		return
	}
	body := rep.body
	if f.cut {
		body = s.cut(body)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(body)
	s.tally(bucket, rep, f.any(), f.cut)
	if err == nil && !f.cut && rep.kind == kindOK && rep.delivered != nil {
		rep.delivered()
	}
}

// appOf looks the app up by the sdkappid parameter.
func (s *Simulator) appOf(q url.Values) (App, bool) {
	id, err := strconv.ParseInt(q.Get("sdkappid"), 10, 64)
	if err != nil {
		return App{}, false
	}
	a, ok := s.apps[id]
	return a, ok
}

// gate runs the checks Tencent's gateway makes before anything else: the
// method, the path, the app, the rate limit. ok means the call passed.
func (s *Simulator) gate(r *http.Request, q url.Values, app App, known bool) (reply, bool) {
	switch {
	case r.Method != http.MethodPost:
		return errReply(codeHTTPParse, "HTTP parse error: POST only"), false
	case endpoints[r.URL.Path] == nil:
		return errReply(codeBadResource, "request resource error: unknown command"), false
	}
	if _, err := strconv.ParseUint(q.Get("sdkappid"), 10, 64); err != nil {
		return errReply(codeNoSDKAppID, "the REST API needs a valid sdkappid"), false
	}
	if !known {
		return errReply(codeUnknownApp, "SDKAppID not found, UserSig verification failed").as(kindAuth), false
	}
	if !s.admit(app.SDKAppID) {
		return errReply(codeOverLimit, "REST call frequency over the limit").as(kindOverLimit), false
	}
	return reply{}, true
}

// answer produces the reply of a call that passed the gate: an injected
// error, a URL/UserSig/body error, or the endpoint's answer.
func (s *Simulator) answer(r *http.Request, q url.Values, app App, f drawn) reply {
	switch {
	case f.http502:
		return reply{kind: kindFault}
	case f.internal:
		return errReply(codeInternalRetry, "internal error, please try again later").as(kindFault)
	case f.rateLimit:
		return errReply(codeOverLimit, "REST call frequency over the limit").as(kindFault)
	case f.sigExpired:
		return errReply(codeSigExpired, "UserSig expired").as(kindFault)
	}
	if _, err := strconv.ParseUint(q.Get("random"), 10, 32); err != nil {
		return errReply(codeHTTPParse, "HTTP parse error: random must be a 32-bit unsigned integer")
	}
	if q.Get("contenttype") != "json" {
		return errReply(codeHTTPParse, "HTTP parse error: contenttype must be json")
	}
	ident, sig := q.Get("identifier"), q.Get("usersig")
	if ident == "" || sig == "" {
		return errReply(codeAccount, "identifier or usersig missing").as(kindAuth)
	}
	if rep, bad := s.verify(app, ident, sig); bad {
		return rep
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return errReply(codeHTTPParse, "HTTP parse error: unreadable or oversized body")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return errReply(codeJSONParse, "HTTP request JSON parse error")
	}
	return endpoints[r.URL.Path](s, app.SDKAppID, fields)
}

// verify checks the UserSig with the Clock's time, then that the caller is
// the App administrator.
func (s *Simulator) verify(app App, ident, sig string) (reply, bool) {
	err := tencentyun.VerifyUserSig(uint64(app.SDKAppID), app.SecretKey, ident, sig, s.sigClock.Now())
	code, info := 0, ""
	switch {
	case err == nil:
	case errors.Is(err, tencentyun.ErrExpired):
		code, info = codeSigExpired, "UserSig expired"
	case errors.Is(err, tencentyun.ErrIdentifierNotMatch):
		code, info = codeSigIdentifier, "identifier does not match the UserSig"
	case errors.Is(err, tencentyun.ErrSdkAppIDNotMatch):
		// Also what the library reports when the compressed document is not JSON.
		code, info = codeSigSDKAppID, "SDKAppID does not match the UserSig"
	case errors.Is(err, tencentyun.ErrSigNotMatch), errors.Is(err, tencentyun.ErrUserBufTypeNotMatch),
		errors.Is(err, tencentyun.ErrUserBufNotMatch):
		code, info = codeSigVerify, "UserSig verification failed"
	default: // base64 or zlib
		code, info = codeSigParse, "UserSig could not be parsed"
	}
	if code == 0 && ident != app.Identifier {
		code, info = codeNeedsAdmin, "the request needs App administrator permission"
	}
	if code == 0 {
		return reply{}, false
	}
	return errReply(code, info).as(kindAuth), true
}

// tally updates the counters after a reply.
func (s *Simulator) tally(bucket int64, rep reply, faulted, cut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statsLocked(bucket)
	if faulted {
		st.FaultsInjected++
	}
	if rep.code == codeOverLimit {
		st.RateLimitedReplies++
	}
	switch rep.kind {
	case kindOK:
		if !cut {
			st.OK++
		}
	case kindBad:
		st.BadRequests++
	case kindAuth:
		st.AuthFailures++
	case kindOverLimit:
		st.OverLimit++
	}
}

// window holds the arrival times of an app's recent calls (at most the
// limit's count of them).
type window struct{ times []time.Time }

// admit records a call of app arriving now and reports whether it is within
// the limit. Every arrival counts, including rejected ones: a client that
// keeps calling while over the limit stays over it.
func (s *Simulator) admit(app int64) bool {
	if !s.limited {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now() // under the lock, so arrivals are recorded in order
	w := s.windows[app]
	if w == nil {
		w = &window{}
		s.windows[app] = w
	}
	start := now.Add(-s.limitW) // the window is (now-1s, now]
	i := 0
	for i < len(w.times) && !w.times[i].After(start) {
		i++
	}
	kept := copy(w.times, w.times[i:])
	w.times = w.times[:kept]
	ok := len(w.times) < s.limitN
	w.times = append(w.times, now)
	if len(w.times) > s.limitN {
		w.times = w.times[:copy(w.times, w.times[len(w.times)-s.limitN:])]
	}
	return ok
}
