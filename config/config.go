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
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
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
		return nil, err
	}
	if err := errors.Join(cfg.validate(baseDir), cfg.validateErrorReasons()); err != nil {
		return nil, err
	}
	return cfg, nil
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
