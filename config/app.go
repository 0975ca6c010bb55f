package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones in scratch images too

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// App is one Tencent Cloud Chat application whose pushes are traced.
type App struct {
	Name          string        `yaml:"name"`            // required, unique: the app label
	SDKAppID      int64         `yaml:"sdkappid"`        // required, unique
	Region        string        `yaml:"region"`          // picks the API domain (RegionHost)
	Endpoint      string        `yaml:"endpoint"`        // base URL overriding Region
	Identifier    string        `yaml:"identifier"`      // an App administrator account
	SecretKey     config.Secret `yaml:"secret_key"`      // inline, or read from SecretKeyFile
	SecretKeyFile string        `yaml:"secret_key_file"` // resolved to a path from the current directory
	RateLimit     float64       `yaml:"rate_limit"`      // trace queries per second
	SampleRatio   float64       `yaml:"sample_ratio"`    // share of PushIDs traced; see SampleAuto
	// SampleAuto is set by `sample_ratio: auto`: the ratio then follows the
	// incoming rate so that the calls fill rate_limit (SampleRatio unused).
	SampleAuto   bool             `yaml:"-"`
	QueryDelay   model.Duration   `yaml:"query_delay"`   // first query, after the PushID was seen
	RequeryAfter []model.Duration `yaml:"requery_after"` // later queries, after it was seen; empty: none
	Timezone     string           `yaml:"timezone"`      // of PushTime/EventTime; see Location
	MaxPending   int              `yaml:"max_pending"`   // bound of the pending set
	// StatisticsInterval is how often the unsampled totals and loss reasons
	// are polled; 0 turns polling off.
	StatisticsInterval model.Duration `yaml:"statistics_interval"`
	// TracePageShare is the most of the rate_limit calls that /trace page
	// lookups take while background queries wait too, in (0, 1).
	TracePageShare float64 `yaml:"trace_page_share"`

	loc *time.Location // Timezone, loaded by validation
}

// DefaultApp holds the defaults of an app's optional keys.
var DefaultApp = App{
	Region:       "china",
	RateLimit:    1,
	SampleRatio:  1,
	QueryDelay:   model.Duration(time.Minute),
	RequeryAfter: []model.Duration{model.Duration(5 * time.Minute), model.Duration(30 * time.Minute)},
	Timezone:     "Asia/Shanghai",
	MaxPending:   100000,

	StatisticsInterval: model.Duration(10 * time.Minute),
	TracePageShare:     0.5,
}

// Limits enforced by validation.
const (
	MaxRateLimit = 100                 // rate_limit, calls per second
	MaxAge       = 7 * 24 * time.Hour  // Tencent keeps traces 7 days
	appNameChars = `^[a-zA-Z0-9_.-]+$` // an app name is a label value
)

// MinStatisticsInterval is the shortest statistics_interval other than 0
// (off): each poll costs two calls of the app's rate budget.
const MinStatisticsInterval = time.Minute

var appNameRE = regexp.MustCompile(appNameChars)

// regions maps a region to the domain of its REST API
// (../shared/reference/tencent-chat-push.md §1), in the order errors list them.
var regions = []struct{ name, host string }{
	{"china", "console.tim.qq.com"},
	{"singapore", "adminapisgp.im.qcloud.com"},
	{"seoul", "adminapikr.im.qcloud.com"},
	{"frankfurt", "adminapiger.im.qcloud.com"},
	{"silicon-valley", "adminapiusa.im.qcloud.com"},
	{"jakarta", "adminapiidn.im.qcloud.com"},
	{"tokyo", "adminapijpn.im.qcloud.com"},
}

// RegionHost returns the REST API domain of a region.
func RegionHost(region string) (string, bool) {
	for _, r := range regions {
		if r.name == region {
			return r.host, true
		}
	}
	return "", false
}

// BaseURL is where the app's REST calls go, without a trailing slash:
// Endpoint if set, otherwise https://<the region's domain>.
func (a *App) BaseURL() string {
	if a.Endpoint != "" {
		return strings.TrimRight(a.Endpoint, "/")
	}
	host, ok := RegionHost(a.Region)
	if !ok {
		host, _ = RegionHost(DefaultApp.Region)
	}
	return "https://" + host
}

// Location is the zone of the app's PushTime/EventTime strings. It is loaded
// once by validation; for an App that was never validated it is loaded on
// each call, an empty or unknown Timezone giving DefaultApp's zone.
func (a *App) Location() *time.Location {
	if a.loc != nil {
		return a.loc
	}
	if loc, err := time.LoadLocation(a.Timezone); err == nil && a.Timezone != "" {
		return loc
	}
	loc, err := time.LoadLocation(DefaultApp.Timezone)
	if err != nil { // cannot happen: time/tzdata is embedded
		return time.FixedZone("UTC+8", 8*3600)
	}
	return loc
}

// String returns the app as YAML, its secret shown as <secret>.
func (a App) String() string { return marshal(a) }

// UnmarshalYAML starts from DefaultApp and rejects unknown keys.
func (a *App) UnmarshalYAML(value *yaml.Node) error {
	if err := checkNode(value, appType, "app"); err != nil {
		return err
	}
	*a = DefaultApp
	a.RequeryAfter = slices.Clone(DefaultApp.RequeryAfter)
	value, a.SampleAuto = withoutAutoRatio(value)
	type plain App
	return value.Decode((*plain)(a))
}

// withoutAutoRatio returns n without a `sample_ratio: auto` entry, and
// whether it had one; a number is left for the decoder.
func withoutAutoRatio(n *yaml.Node) (*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		return n, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "sample_ratio" && v.Kind == yaml.ScalarNode && v.Value == "auto" {
			c := *n
			c.Content = append(slices.Clone(n.Content[:i]), n.Content[i+2:]...)
			return &c, true
		}
	}
	return n, false
}

// validate checks the app's own keys and reads its secret file; path is
// where it is in the file, e.g. "apps[0]".
func (a *App) validate(path string, c *checker) {
	switch {
	case a.Name == "":
		c.errorf(path+".name", "required")
	case !appNameRE.MatchString(a.Name):
		c.errorf(path+".name", "%q must match %s", a.Name, appNameChars)
	}
	if a.SDKAppID <= 0 {
		c.errorf(path+".sdkappid", "required, must be > 0, got %d", a.SDKAppID)
	}
	if _, ok := RegionHost(a.Region); !ok {
		names := make([]string, len(regions))
		for i, r := range regions {
			names[i] = r.name
		}
		c.errorf(path+".region", "unknown region %q, want one of %s", a.Region, strings.Join(names, ", "))
	}
	if a.Endpoint != "" {
		if err := checkEndpoint(a.Endpoint); err != nil {
			c.errorf(path+".endpoint", "%v", err)
		}
	}
	if a.Identifier == "" {
		c.errorf(path+".identifier", "required")
	}
	c.secret(path, "secret_key", &a.SecretKey, &a.SecretKeyFile, true)
	if !(a.RateLimit > 0 && a.RateLimit <= MaxRateLimit) {
		c.errorf(path+".rate_limit", "must be > 0 and <= %d, got %g", MaxRateLimit, a.RateLimit)
	}
	if !a.SampleAuto && !(a.SampleRatio > 0 && a.SampleRatio <= 1) {
		c.errorf(path+".sample_ratio", "must be > 0 and <= 1, got %g", a.SampleRatio)
	}
	if a.QueryDelay < 0 || time.Duration(a.QueryDelay) >= MaxAge {
		c.errorf(path+".query_delay", "must be >= 0 and < 7d, got %s", a.QueryDelay)
	}
	a.validateRequery(path, c)
	a.validateTimezone(path, c)
	if a.MaxPending <= 0 {
		c.errorf(path+".max_pending", "must be > 0, got %d", a.MaxPending)
	}
	if a.StatisticsInterval != 0 && time.Duration(a.StatisticsInterval) < MinStatisticsInterval {
		c.errorf(path+".statistics_interval", "must be 0 (off) or >= %s, got %s", model.Duration(MinStatisticsInterval), a.StatisticsInterval)
	}
	if !(a.TracePageShare > 0 && a.TracePageShare < 1) {
		c.errorf(path+".trace_page_share", "must be > 0 and < 1, got %g", a.TracePageShare)
	}
}

func (a *App) validateRequery(path string, c *checker) {
	prev, prevName := a.QueryDelay, "query_delay"
	for i, d := range a.RequeryAfter {
		field := fmt.Sprintf("%s.requery_after[%d]", path, i)
		switch {
		case d <= prev:
			c.errorf(field, "must be greater than %s (%s), got %s", prevName, prev, d)
		case time.Duration(d) >= MaxAge:
			c.errorf(field, "must be < 7d, got %s", d)
		}
		prev, prevName = d, fmt.Sprintf("requery_after[%d]", i)
	}
}

func (a *App) validateTimezone(path string, c *checker) {
	if a.Timezone == "" { // time.LoadLocation("") would silently mean UTC
		c.errorf(path+".timezone", "required, e.g. %s", DefaultApp.Timezone)
		return
	}
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		c.errorf(path+".timezone", "%v", err)
		return
	}
	a.loc = loc
}

// checkEndpoint accepts an http(s) base URL with a host and no credentials,
// query or fragment. Errors do not repeat the URL: it might hold a password.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an http:// or https:// URL, got scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("must have a host, e.g. http://127.0.0.1:8080")
	case u.User != nil:
		return errors.New("must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("must not have a query or fragment, got %q", u.Redacted())
	}
	return nil
}
