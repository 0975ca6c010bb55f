package timapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tencentyun/tls-sig-api-v2-golang/tencentyun"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// Limiter is satisfied by *pacer.Pacer. Every HTTP attempt (retries
// included) calls Wait first, and reports through the returned function
// when its request was written and when the first byte of the reply came
// back (zero times for what did not happen), so that the limiter can space
// the next calls by when this one reached the server.
type Limiter interface {
	Wait(ctx context.Context) (done func(sent, replied time.Time), err error)
}

// Options configures a Client. Zero values select the documented defaults.
type Options struct {
	SDKAppID   int64
	Identifier string // App administrator account
	SecretKey  string // never logged, never in an error string
	// BaseURL is scheme and host, e.g. "https://adminapisgp.im.qcloud.com"
	// (see RegionBaseURL) or a test server's URL.
	BaseURL string
	// Location is the zone of PushTime/EventTime strings; nil means
	// Asia/Shanghai (UTC+8 fixed if the zone database is missing).
	Location *time.Location
	// HTTPClient nil means an own client with bounded timeouts and
	// keep-alive, which does not follow redirects.
	HTTPClient *http.Client
	Limiter    Limiter       // required
	Clock      clock.Clock   // nil => clock.Real{}; back-off sleeps and UserSig age
	Random     func() uint32 // nil => crypto/rand; the `random` query parameter
	// Metrics, shared by every client of the process, counts this client's
	// attempts under the label app=App. nil: not counted.
	Metrics *Metrics
	App     string // the app's name; required with Metrics
	// MaxAttempts bounds the HTTP attempts of one call (default 5). A 70001
	// renewal retry comes on top of it.
	MaxAttempts int
	BaseBackoff time.Duration // default 1s; doubled per attempt, full jitter
	MaxBackoff  time.Duration // default 30s
	// UserSigTTL is the validity of generated UserSigs (default 24h, at
	// least 1 minute); renewed when less than half remains.
	UserSigTTL time.Duration
}

// Defaults of Options.
const (
	DefaultMaxAttempts = 5
	DefaultBaseBackoff = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultUserSigTTL  = 24 * time.Hour
)

// Client calls the push REST API of one app. It is safe for concurrent use;
// pacing between concurrent callers is the Limiter's job.
type Client struct {
	base     *url.URL
	sdkappid string
	ident    string
	loc      *time.Location
	hc       *http.Client
	lim      Limiter
	clock    clock.Clock
	random   func() uint32
	metrics  *Metrics
	app      string
	attempts int
	backoff  backoff
	signer   *signer
}

// New checks o and returns a client. Its errors never contain the secret key.
func New(o Options) (*Client, error) {
	switch {
	case o.SDKAppID <= 0:
		return nil, errors.New("timapi: sdkappid must be a positive number")
	case o.Identifier == "":
		return nil, errors.New("timapi: identifier (App administrator) is empty")
	case o.SecretKey == "":
		return nil, errors.New("timapi: secret key is empty")
	case o.Limiter == nil:
		return nil, errors.New("timapi: a Limiter is required")
	case o.MaxAttempts < 0 || o.BaseBackoff < 0 || o.MaxBackoff < 0:
		return nil, errors.New("timapi: attempts and back-off must not be negative")
	case o.UserSigTTL != 0 && o.UserSigTTL < time.Minute:
		return nil, fmt.Errorf("timapi: UserSig TTL %s is shorter than 1m", o.UserSigTTL)
	case o.Metrics != nil && o.App == "":
		return nil, errors.New("timapi: Metrics need the App name")
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" ||
		base.RawQuery != "" || base.User != nil {
		return nil, fmt.Errorf("timapi: base URL %q must be http(s)://host[:port]", o.BaseURL)
	}
	c := &Client{
		base:     base,
		sdkappid: fmt.Sprint(o.SDKAppID),
		ident:    o.Identifier,
		loc:      o.Location,
		hc:       o.HTTPClient,
		lim:      o.Limiter,
		clock:    o.Clock,
		random:   o.Random,
		metrics:  o.Metrics,
		app:      o.App,
		attempts: o.MaxAttempts,
		backoff:  backoff{base: o.BaseBackoff, max: o.MaxBackoff},
	}
	if c.loc == nil {
		c.loc = defaultLocation()
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.random == nil {
		c.random = cryptoRandom
	}
	c.metrics.initApp(c.app)
	if c.attempts == 0 {
		c.attempts = DefaultMaxAttempts
	}
	if c.backoff.base == 0 {
		c.backoff.base = DefaultBaseBackoff
	}
	if c.backoff.max == 0 {
		c.backoff.max = DefaultMaxBackoff
	}
	ttl := o.UserSigTTL
	if ttl == 0 {
		ttl = DefaultUserSigTTL
	}
	c.signer = &signer{
		sdkappid: o.SDKAppID, identifier: o.Identifier, key: o.SecretKey,
		ttl: ttl, clock: c.clock, gen: tencentyun.GenUserSig,
	}
	return c, nil
}

// defaultLocation is where Tencent's zone-less times are read. The docs give
// no zone; the example and the console are in China time. China has had no
// DST since 1991, so a fixed +8 is exact when tzdata is unavailable (e.g. a
// scratch container).
func defaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}

func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		// A redirect would carry the UserSig to wherever Location points,
		// and the API never redirects: treat 3xx as an HTTP error instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func cryptoRandom() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return binary.BigEndian.Uint32(b[:])
}

// Trace fetches the trace of one push (v4/timpush/normal_push_trace).
//
// Failures are *Error after the retry policy of their Class has run, except
// when ctx ends: then the error wraps ctx.Err() and is not an *Error.
func (c *Client) Trace(ctx context.Context, pushID string) (*Trace, error) {
	if pushID == "" {
		return nil, errors.New("timapi: empty PushID")
	}
	var t *Trace
	err := c.call(ctx, "normal_push_trace", map[string]string{"PushID": pushID}, func(body []byte) error {
		var err error
		t, err = decodeTrace(pushID, body, c.loc)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// RegionBaseURL maps a region name of the configuration to the API's base
// URL (reference §1).
func RegionBaseURL(region string) (string, error) {
	host, ok := regionHosts[strings.ToLower(strings.TrimSpace(region))]
	if !ok {
		return "", fmt.Errorf("timapi: unknown region %q (want one of china, singapore, seoul, frankfurt, silicon-valley, jakarta, tokyo)", region)
	}
	return "https://" + host, nil
}

var regionHosts = map[string]string{
	"china":          "console.tim.qq.com",
	"singapore":      "adminapisgp.im.qcloud.com",
	"seoul":          "adminapikr.im.qcloud.com",
	"frankfurt":      "adminapiger.im.qcloud.com",
	"silicon-valley": "adminapiusa.im.qcloud.com",
	"jakarta":        "adminapiidn.im.qcloud.com",
	"tokyo":          "adminapijpn.im.qcloud.com",
}
