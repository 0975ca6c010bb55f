package timapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// maxReplyBytes bounds what is read of a reply. A trace lists one element per
// device of the recipient, so real replies are a few KiB; anything near this
// size is not a reply we can use.
const maxReplyBytes = 4 << 20

// call runs one API call under the retry policy: every attempt waits on the
// limiter first; transient and rate-limited failures back off and retry up to
// the attempt budget; 70001 renews the UserSig and retries once at once;
// everything else returns immediately. decode receives the body of a reply
// whose envelope reported success.
func (c *Client) call(ctx context.Context, api string, req any, decode func([]byte) error) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("timapi: %s: encoding request: %w", api, err)
	}
	renewed, forceSig := false, false
	purpose := PurposeOf(ctx)
	for attempt := 1; ; attempt++ {
		done, err := c.lim.Wait(ctx)
		if err != nil {
			return fmt.Errorf("timapi: %s: waiting for the rate limiter: %w", api, err)
		}
		sig, err := c.signer.get(forceSig)
		if err != nil {
			done(time.Time{}, time.Time{}) // nothing was sent
			return err
		}
		forceSig = false
		c.metrics.called(c.app, purpose)
		start := c.clock.Now()
		e := c.attempt(ctx, api, body, sig, decode, done)
		if e != nil && ctx.Err() != nil {
			// Aborted by our caller (shutdown, deadline): says nothing about
			// Tencent, so its outcome is neither observed nor retried.
			return fmt.Errorf("timapi: %s: %w", api, ctx.Err())
		}
		label := ""
		if e != nil {
			label = e.Label()
		}
		c.metrics.observe(c.app, label, c.clock.Now().Sub(start))
		if e == nil {
			return nil
		}
		switch e.Class {
		case ClassUserSigExpired:
			if renewed {
				return e
			}
			// The UserSig was refused as expired although we believe it
			// valid (clock skew, or a host that slept): a fresh one fixes
			// it, and this retry does not use up the attempt budget.
			renewed, forceSig = true, true
			attempt--
			continue
		case ClassTransient, ClassRateLimited:
			if attempt >= c.attempts {
				return e
			}
			if err := c.sleep(ctx, c.backoff.delay(attempt, e)); err != nil {
				return fmt.Errorf("timapi: %s: %w", api, err)
			}
		default: // config, bad request, decode, unexpected reply: retrying at once cannot help
			return e
		}
	}
}

// wireTimes records when a request was written and when its reply began.
// The hooks run on the transport's goroutines, possibly after Do returned.
type wireTimes struct {
	mu            sync.Mutex
	sent, replied time.Time
}

func (w *wireTimes) trace(clk clock.Clock) *httptrace.ClientTrace {
	set := func(t *time.Time) {
		now := clk.Now()
		w.mu.Lock()
		*t = now
		w.mu.Unlock()
	}
	return &httptrace.ClientTrace{
		// Called once the request is in the connection's buffer: it may
		// leave a moment later, never earlier. A failed write counts as
		// sent, since part of it may have reached the server.
		WroteRequest:         func(httptrace.WroteRequestInfo) { set(&w.sent) },
		GotFirstResponseByte: func() { set(&w.replied) },
	}
}

func (w *wireTimes) get() (sent, replied time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent, w.replied
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt makes one HTTP request and classifies its outcome. It reports
// to done when the request was written and when the reply began.
func (c *Client) attempt(ctx context.Context, api string, body []byte, sig string, decode func([]byte) error, done func(sent, replied time.Time)) *Error {
	var times wireTimes
	defer func() { done(times.get()) }()
	ctx = httptrace.WithClientTrace(ctx, times.trace(c.clock))
	path := "/v4/timpush/" + api
	fail := func(class Class, status int, err error) *Error {
		return &Error{Class: class, HTTPStatus: status, Err: err, op: api}
	}
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	q := url.Values{}
	q.Set("sdkappid", c.sdkappid)
	q.Set("identifier", c.ident)
	q.Set("usersig", sig)
	q.Set("random", strconv.FormatUint(uint64(c.random()), 10))
	q.Set("contenttype", "json")
	u.RawQuery = q.Encode()

	// Built from the base URL (no secrets in it) so that even a failure here
	// cannot quote the signed URL; the full URL is set afterwards.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String(), bytes.NewReader(body))
	if err != nil {
		return fail(ClassTransient, 0, fmt.Errorf("POST %s: building request: %w", path, err))
	}
	req.URL = &u
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "timpush_exporter")

	resp, err := c.hc.Do(req)
	if err != nil {
		return fail(ClassTransient, 0, c.requestError(path, sig, err))
	}
	defer func() {
		// Drain so the keep-alive connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReplyBytes))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		// Tencent answers 200 unless something in between failed; the body
		// of such a reply (a proxy's error page) is not quoted.
		return fail(ClassTransient, resp.StatusCode, nil)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return fail(ClassTransient, resp.StatusCode, c.requestError(path, sig, err))
	}
	return c.parseReply(api, resp.StatusCode, data, sig, decode)
}

// parseReply classifies a complete HTTP 200 reply body: cut-off or non-JSON
// bodies are transient, JSON of the wrong shape is ClassUnexpectedReply, an
// error envelope is classified by its code, and a success is handed to
// decode.
func (c *Client) parseReply(api string, status int, data []byte, sig string, decode func([]byte) error) *Error {
	fail := func(class Class, err error) *Error {
		return &Error{Class: class, HTTPStatus: status, Err: err, op: api}
	}
	if len(data) > maxReplyBytes {
		return fail(ClassTransient, fmt.Errorf("%w: longer than %d bytes", ErrMalformedReply, maxReplyBytes))
	}
	if !json.Valid(data) {
		// In practice a proxy or a dropped connection cut the reply off:
		// worth another attempt.
		return fail(ClassTransient, fmt.Errorf("%w: not JSON or cut off (%d bytes)", ErrMalformedReply, len(data)))
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fail(ClassUnexpectedReply, fmt.Errorf("%w: %v", ErrUnexpectedReply, err))
	}
	if env.ErrorCode != 0 {
		code := int(env.ErrorCode)
		return &Error{Class: classOf(code), Code: code, Info: c.scrub(string(env.ErrorInfo), sig), HTTPStatus: status, op: api}
	}
	if strings.EqualFold(string(env.ActionStatus), "FAIL") {
		return fail(ClassTransient, fmt.Errorf("%w: ActionStatus FAIL without ErrorCode", ErrMalformedReply))
	}
	if err := decode(data); err != nil {
		// Well-formed JSON of the wrong shape: the API changed. Retrying at
		// once would get the same answer; the caller keeps the item.
		return fail(ClassUnexpectedReply, fmt.Errorf("%w: %v", ErrUnexpectedReply, err))
	}
	return nil
}

// requestError rebuilds an error of net/http without the request URL, which
// *url.Error quotes in full, UserSig included.
func (c *Client) requestError(path, sig string, err error) error {
	for {
		ue, ok := err.(*url.Error)
		if !ok {
			break
		}
		err = ue.Err
	}
	return &scrubbed{msg: c.scrub(fmt.Sprintf("POST %s: %v", path, err), sig), err: err}
}

// scrub removes the UserSig sent with the attempt and the secret key from
// text that is about to end up in an error, whatever its origin.
func (c *Client) scrub(s, sig string) string {
	if sig != "" {
		s = strings.ReplaceAll(s, sig, "<usersig>")
		s = strings.ReplaceAll(s, url.QueryEscape(sig), "<usersig>")
	}
	// Very short keys (test vectors) would mangle ordinary text.
	if k := c.signer.key; len(k) >= 16 {
		s = strings.ReplaceAll(s, k, "<secret>")
	}
	return s
}

// scrubbed carries a cleaned message but still unwraps to the cause, so that
// errors.Is(err, context.DeadlineExceeded) and net.Error checks keep working.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// backoff computes the sleep before the next attempt: exponential from base,
// capped at max, with full jitter so that many apps failing together do not
// retry in lockstep.
type backoff struct{ base, max time.Duration }

func (b backoff) delay(failed int, e *Error) time.Duration {
	base, floor := b.base, time.Duration(0)
	if e.Class == ClassRateLimited {
		// Tencent asked us to slow down: never come back sooner than 2 s.
		base = max(base, 2*time.Second)
		floor = base
	}
	ceil := min(base, b.max)
	for i := 1; i < failed && ceil < b.max; i++ {
		if ceil > b.max/2 { // doubling would pass the cap (or overflow)
			ceil = b.max
			break
		}
		ceil *= 2
	}
	ceil = max(ceil, floor)
	d := floor
	if span := ceil - floor; span > 0 {
		d += time.Duration(rand.Int64N(int64(span))) // [floor, ceil)
	}
	if e.Code == 70050 {
		// UserSig failures got the app rate-limited; the docs say to wait
		// about a minute before any call.
		d = max(d, time.Minute)
	}
	return d
}
