package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// Sources are where PushIDs come from.
type Sources struct {
	Files   []FileSource `yaml:"files"`
	Webhook *Webhook     `yaml:"webhook"` // nil: no webhook listener
}

// Formats of a file source's lines, and where reading starts.
const (
	FormatPlain    = "plain" // the whole line, trimmed, is the PushID
	FormatRegex    = "regex" // the named group push_id of Regex
	FormatJSON     = "json"  // the string at JSONField of a JSON object per line
	StartEnd       = "end"
	StartBeginning = "beginning"
)

// FileSource is a glob of log files to tail.
type FileSource struct {
	Path string `yaml:"path"` // a filepath.Match glob, relative ones resolved at load
	// App is the app whose PushIDs the lines hold. It is filled in when
	// omitted and only one app is configured, and may stay empty only when
	// Regex has a named group app (which then names the app on each line;
	// lines that name no configured app are the source's to skip).
	App          string `yaml:"app"`
	Format       string `yaml:"format"`
	Regex        string `yaml:"regex"`
	JSONField    string `yaml:"json_field"` // dotted path, e.g. "Push.MsgId"
	Start        string `yaml:"start"`      // for a file with no saved position
	MaxLineBytes int    `yaml:"max_line_bytes"`

	re *regexp.Regexp // Regex, compiled by validation
}

// DefaultFileSource holds the defaults of a file source's optional keys.
var DefaultFileSource = FileSource{
	Format:       FormatPlain,
	JSONField:    "PushID",
	Start:        StartEnd,
	MaxLineBytes: 64 << 10,
}

// Webhook is the listener for Tencent callbacks and the generic JSON endpoint.
type Webhook struct {
	ListenAddress            string        `yaml:"listen_address"`
	TencentCallbackTokenFile string        `yaml:"tencent_callback_token_file"`
	TencentCallbackToken     config.Secret `yaml:"tencent_callback_token"` // set: callbacks must be signed
	BearerTokenFile          string        `yaml:"bearer_token_file"`
	// BearerToken, when set, is required in "Authorization: Bearer …" on
	// the JSON endpoint. It cannot be combined with basic_auth_users in
	// WebConfigFile: both need that one header, so every request would be
	// refused. Use one of them.
	BearerToken   config.Secret `yaml:"bearer_token"`
	MaxBodyBytes  int64         `yaml:"max_body_bytes"`
	WebConfigFile string        `yaml:"web_config_file"` // exporter-toolkit web config (TLS, basic auth)
	// MaxConnections caps the listener's concurrent connections; more wait
	// in the kernel's queue, holding no descriptor, but for one taken and
	// waiting for a slot (issue 13.3).
	MaxConnections int `yaml:"max_connections"`
}

// DefaultWebhookMaxConnections is max_connections' default: Tencent sends
// at most 1000 callbacks a second by default, and even at a second each
// (a slow disk delaying the durable reply) they need no more connections
// than this. It stays well below the open-files limit of a typical service
// (Go raises the soft limit to the hard one, often 524288 under systemd).
const DefaultWebhookMaxConnections = 1024

// DefaultWebhook holds the defaults of the webhook's optional keys.
var DefaultWebhook = Webhook{MaxBodyBytes: 1 << 20, MaxConnections: DefaultWebhookMaxConnections}

// UnmarshalYAML starts from DefaultFileSource and rejects unknown keys.
func (f *FileSource) UnmarshalYAML(value *yaml.Node) error {
	if err := checkNode(value, fileSourceType, "file source"); err != nil {
		return err
	}
	*f = DefaultFileSource
	type plain FileSource
	return value.Decode((*plain)(f))
}

// UnmarshalYAML starts from DefaultWebhook and rejects unknown keys.
func (w *Webhook) UnmarshalYAML(value *yaml.Node) error {
	if err := checkNode(value, webhookType, "webhook"); err != nil {
		return err
	}
	*w = DefaultWebhook
	type plain Webhook
	return value.Decode((*plain)(w))
}

// Regexp is Regex compiled, nil for other formats (or an invalid Regex in a
// FileSource that was never validated).
func (f *FileSource) Regexp() *regexp.Regexp {
	if f.re != nil || f.Format != FormatRegex {
		return f.re
	}
	re, _ := regexp.Compile(f.Regex)
	return re
}

// String returns the webhook as YAML, its tokens shown as <secret>.
func (w Webhook) String() string { return marshal(w) }

func (f *FileSource) validate(path string, apps []App, c *checker) {
	if f.Path == "" {
		c.errorf(path+".path", "required")
	} else if _, err := filepath.Match(f.Path, ""); err != nil {
		c.errorf(path+".path", "%q: %v", f.Path, err)
	}
	f.Path = resolve(c.baseDir, f.Path)
	switch f.Format {
	case FormatPlain, FormatJSON:
		if f.Regex != "" {
			c.errorf(path+".regex", "only used with format regex, format is %q", f.Format)
		}
	case FormatRegex:
		f.validateRegex(path, c)
	default:
		c.errorf(path+".format", "unknown format %q, want one of regex, json, plain", f.Format)
	}
	if f.Format == FormatJSON && (f.JSONField == "" || slices.Contains(strings.Split(f.JSONField, "."), "")) {
		c.errorf(path+".json_field", "must be a dotted path such as Push.MsgId, got %q", f.JSONField)
	}
	f.validateApp(path, apps, c)
	if f.Start != StartEnd && f.Start != StartBeginning {
		c.errorf(path+".start", "unknown start %q, want end or beginning", f.Start)
	}
	if f.MaxLineBytes <= 0 {
		c.errorf(path+".max_line_bytes", "must be > 0, got %d", f.MaxLineBytes)
	}
}

func (f *FileSource) validateRegex(path string, c *checker) {
	if f.Regex == "" {
		c.errorf(path+".regex", "required with format regex")
		return
	}
	re, err := regexp.Compile(f.Regex)
	if err != nil {
		c.errorf(path+".regex", "%v", err)
		return
	}
	if re.SubexpIndex("push_id") < 0 {
		c.errorf(path+".regex", "must have a named group push_id, e.g. (?P<push_id>[0-9A-Za-z_-]+)")
		return
	}
	f.re = re
}

func (f *FileSource) validateApp(path string, apps []App, c *checker) {
	if f.App != "" {
		for _, a := range apps {
			if a.Name == f.App {
				return
			}
		}
		c.errorf(path+".app", "unknown app %q", f.App)
		return
	}
	switch {
	case len(apps) == 1:
		f.App = apps[0].Name
	case f.re != nil && f.re.SubexpIndex("app") >= 0:
		// Each line names its app.
	case len(apps) > 1:
		c.errorf(path+".app", "required when more than one app is configured (or a regex group app)")
	}
}

func (w *Webhook) validate(path string, c *checker) {
	if w.ListenAddress == "" {
		c.errorf(path+".listen_address", "required, e.g. 127.0.0.1:9847")
	} else if _, port, err := net.SplitHostPort(w.ListenAddress); err != nil {
		c.errorf(path+".listen_address", "%v", err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		// 0 asks the kernel for a free port, as --web.listen-address does;
		// the listener logs the port it got ("Listening on", listener=webhook).
		c.errorf(path+".listen_address", "port must be a number from 0 to 65535, got %q", port)
	}
	c.secret(path, "tencent_callback_token", &w.TencentCallbackToken, &w.TencentCallbackTokenFile, false)
	c.secret(path, "bearer_token", &w.BearerToken, &w.BearerTokenFile, false)
	if w.MaxBodyBytes <= 0 {
		c.errorf(path+".max_body_bytes", "must be > 0, got %d", w.MaxBodyBytes)
	}
	if w.MaxConnections <= 0 {
		c.errorf(path+".max_connections", "must be > 0, got %d", w.MaxConnections)
	}
	if w.WebConfigFile != "" {
		w.WebConfigFile = resolve(c.baseDir, w.WebConfigFile)
		w.validateWebConfig(path, c)
	}
}

// maxWebConfigSize bounds what is read of a web config file.
const maxWebConfigSize = 1 << 20

// validateWebConfig checks what of the web config file concerns this
// listener. Its basic_auth_users and bearer_token both need the one
// Authorization header, so together every request would get 401: that is
// an error. Basic auth alone is a warning, as Tencent's callbacks send no
// Authorization header and would all be refused. The rest of the file is
// the toolkit's to check when the listener starts.
func (w *Webhook) validateWebConfig(path string, c *checker) {
	field := path + ".web_config_file"
	fi, err := os.Stat(w.WebConfigFile)
	if err != nil {
		c.errorf(field, "%v", err)
		return
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxWebConfigSize {
		c.errorf(field, "%s is not a regular file of at most %d bytes", w.WebConfigFile, maxWebConfigSize)
		return
	}
	data, err := os.ReadFile(w.WebConfigFile)
	if err != nil {
		c.errorf(field, "%v", err)
		return
	}
	users, err := basicAuthUsers(data)
	if err != nil {
		c.errorf(field, "%s: %v", w.WebConfigFile, err)
		return
	}
	switch {
	case users > 0 && w.BearerToken != "":
		c.errorf(path, "bearer_token (or bearer_token_file) and basic_auth_users in web_config_file %s cannot be used together: "+
			"both need the Authorization header, so every request would get 401; keep one of them", w.WebConfigFile)
	case users > 0:
		c.warnings = append(c.warnings, fmt.Sprintf("%s %s sets basic_auth_users: Tencent's callbacks send no Authorization header, "+
			"so /webhook/tencent will refuse them (authenticate them with tencent_callback_token instead)", field, w.WebConfigFile))
	}
}

// basicAuthUsers is how many users the web config's basic_auth_users has.
// Only the YAML's structure is read, so no error can quote a value (a
// password hash or an inline TLS key) of the file.
func basicAuthUsers(data []byte) (int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return 0, errors.New("not valid YAML")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return 0, nil // empty, or not a mapping: the toolkit will say
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == "basic_auth_users" && top[i+1].Kind == yaml.MappingNode {
			return len(top[i+1].Content) / 2, nil
		}
	}
	return 0, nil
}
