// Package config defines timpush_exporter's configuration file: its shape,
// defaults and validation, the loading of secret files, and the holder that
// reloads it at run time (Reloader).
//
// Decoding is strict: a key that names no field is an error with its line
// and the place it appeared (e.g. `line 7: unknown key "rate" in apps[0]`),
// and validation errors name the field (e.g. `apps[1].sample_ratio: must be
// > 0 and <= 1, got 1.5`). Secrets are config.Secret values, which marshal as
// "<secret>"; no error or warning produced here contains one.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	Apps    []App   `yaml:"apps"`
	Sources Sources `yaml:"sources"`
	// ErrorReasons are tried, in order, before the built-in error taxonomy.
	ErrorReasons []ErrorReason `yaml:"error_reasons"`

	// Warnings are problems that do not stop the exporter, such as a secret
	// file readable by others. Callers log them; they never hold a secret.
	Warnings []string `yaml:"-"`
}

// ErrEmpty is returned for a configuration with no YAML document in it.
var ErrEmpty = errors.New("config is empty: at least one app is required")

// Load reads and decodes the file at path. Relative paths in it (secret
// files, log globs, the webhook's web config) are resolved against the
// directory the file is in.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Decode(bytes.NewReader(data), filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if w := inlineSecretWarning(path, cfg); w != "" {
		cfg.Warnings = append(cfg.Warnings, w)
	}
	return cfg, nil
}

// Decode decodes one YAML document from r strictly, applies defaults and
// validates the result. Secret files are read, relative paths being
// resolved against baseDir (the current directory if empty).
func Decode(r io.Reader, baseDir string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, redactYAML(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, redactYAML(err)
		}
		return nil, fmt.Errorf("line %d: a second YAML document; the config must be one document", extra.Line)
	}
	// yaml.v3 applies Decoder.KnownFields only to types without an
	// UnmarshalYAML method, so strictness is checked on the node tree for
	// every level at once, with the place of each unknown key.
	if err := checkNode(&root, configType, ""); err != nil {
		return nil, err
	}
	cfg := &Config{}
	if err := root.Decode(cfg); err != nil {
		return nil, redactYAML(err)
	}
	if err := errors.Join(cfg.validate(baseDir), cfg.validateErrorReasons()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlQuotes finds the parts of yaml.v3's errors that quote the file's
// text outside of keys, and can hold a secret: the name of an alias (an
// inline secret_key: *abc… is the alias abc…) or anchor, and a value that
// does not fit an explicit tag. checkNode rejects secrets of the wrong shape
// before the decoder could quote them; these come earlier, or from where
// the decoder does not say which field it was decoding.
var yamlQuotes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`unknown anchor '(?s:.*)' referenced`),
		"unknown anchor referenced (a value that starts with * is an alias in YAML: quote it)"},
	{regexp.MustCompile(`anchor '(?s:.*)' value contains itself`), "an anchor's value contains itself"},
	{regexp.MustCompile("cannot decode (\\S+) `(?s:.*)` as a (\\S+)"), "cannot decode a $1 value as a $3"},
}

// redactYAML rewrites an error of yaml.v3 so that it quotes no value from
// the file (see yamlQuotes). Other errors keep their text.
func redactYAML(err error) error {
	msg := err.Error()
	for _, q := range yamlQuotes {
		msg = q.re.ReplaceAllString(msg, q.with)
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// String returns the configuration as YAML, secrets shown as <secret>.
func (c Config) String() string { return marshal(c) }

func marshal(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<error marshalling config: %v>", err)
	}
	return string(b)
}

// resolve makes a relative path relative to baseDir.
func resolve(baseDir, path string) string {
	if path == "" || baseDir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(baseDir, path)
}

// inlineSecretWarning warns when the config file itself holds a secret and
// its mode is loose (looseMode).
func inlineSecretWarning(path string, cfg *Config) string {
	inline := false
	for _, a := range cfg.Apps {
		inline = inline || a.SecretKeyFile == ""
	}
	if w := cfg.Sources.Webhook; w != nil {
		inline = inline || (w.TencentCallbackToken != "" && w.TencentCallbackTokenFile == "") ||
			(w.BearerToken != "" && w.BearerTokenFile == "")
	}
	fi, err := os.Stat(path)
	if !inline || err != nil {
		return ""
	}
	loose := looseMode(fi.Mode().Perm())
	if loose == "" {
		return ""
	}
	return fmt.Sprintf("config file %s holds inline secrets and is %s (mode %#o); "+
		"use *_file keys or chmod 600", path, loose, fi.Mode().Perm())
}

// Check loads the file at path as --config.check does: it returns the line
// that says it is valid, or an error that says why not; warn is called for
// each warning (never with a secret).
func Check(path string, warn func(string)) (string, error) {
	cfg, err := Load(path)
	if err != nil {
		return "", fmt.Errorf("%s: invalid: %w", path, err)
	}
	for _, w := range cfg.Warnings {
		warn(w)
	}
	return fmt.Sprintf("%s: OK (%d apps, %d file sources, webhook %v)", path, len(cfg.Apps), len(cfg.Sources.Files), cfg.Sources.Webhook != nil), nil
}
