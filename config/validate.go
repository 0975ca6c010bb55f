package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/common/config"
)

// maxSecretFileSize bounds what is read as a key or token.
const maxSecretFileSize = 64 << 10

// checker collects validation errors and warnings, so that one run reports
// every problem. Messages start with the field's place in the file.
type checker struct {
	baseDir  string
	errs     []error
	warnings []string
}

func (c *checker) errorf(field, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %w", field, fmt.Errorf(format, args...)))
}

// validate checks the whole configuration, fills in what is derived (file
// sources' app, secrets read from files, resolved paths) and sets Warnings.
func (cfg *Config) validate(baseDir string) error {
	c := &checker{baseDir: baseDir}
	if len(cfg.Apps) == 0 {
		c.errorf("apps", "at least one app is required")
	}
	names := map[string]int{}
	ids := map[int64]int{}
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		path := fmt.Sprintf("apps[%d]", i)
		a.validate(path, c)
		if j, dup := names[a.Name]; dup && a.Name != "" {
			c.errorf(path+".name", "%q is already used by apps[%d]", a.Name, j)
		} else {
			names[a.Name] = i
		}
		if j, dup := ids[a.SDKAppID]; dup && a.SDKAppID > 0 {
			c.errorf(path+".sdkappid", "%d is already used by apps[%d]", a.SDKAppID, j)
		} else {
			ids[a.SDKAppID] = i
		}
	}
	cfg.Sources.validate(cfg.Apps, c)
	cfg.Warnings = c.warnings
	return errors.Join(c.errs...)
}

func (s *Sources) validate(apps []App, c *checker) {
	paths := map[string]int{}
	for i := range s.Files {
		f := &s.Files[i]
		path := fmt.Sprintf("sources.files[%d]", i)
		f.validate(path, apps, c)
		if j, dup := paths[f.Path]; dup && f.Path != "" {
			c.errorf(path+".path", "%q is already used by sources.files[%d]", f.Path, j)
		} else {
			paths[f.Path] = i
		}
	}
	if s.Webhook != nil {
		s.Webhook.validate("sources.webhook", c)
	}
	if len(s.Files) == 0 && s.Webhook == nil {
		c.warnings = append(c.warnings, "sources: no files and no webhook configured, so no PushIDs will be read")
	}
}

// secret checks a secret given inline (key) or in a file (key+"_file") and
// reads the file into *inline. Messages name files, never their contents.
func (c *checker) secret(path, key string, inline *config.Secret, file *string, required bool) {
	fileKey := key + "_file"
	switch {
	case *inline != "" && *file != "":
		c.errorf(path, "%s and %s are mutually exclusive, set one", key, fileKey)
		return
	case *inline == "" && *file == "":
		if required {
			c.errorf(path, "one of %s and %s is required", key, fileKey)
		}
		return
	case *file == "":
		return
	}
	*file = resolve(c.baseDir, *file)
	fi, err := os.Stat(*file)
	if err != nil {
		c.errorf(path+"."+fileKey, "%v", err)
		return
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSecretFileSize { // a FIFO or device could block the load
		c.errorf(path+"."+fileKey, "%s is not a regular file of at most %d bytes", *file, maxSecretFileSize)
		return
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		c.errorf(path+"."+fileKey, "%v", err)
		return
	}
	value := strings.TrimSpace(string(data))
	if value == "" {
		c.errorf(path+"."+fileKey, "%s is empty", *file)
		return
	}
	*inline = config.Secret(value)
	if loose := looseMode(fi.Mode().Perm()); loose != "" {
		c.warnings = append(c.warnings, fmt.Sprintf("%s.%s %s is %s (mode %#o); chmod 600 it (640 or 440 if a group must read it)",
			path, fileKey, *file, loose, fi.Mode().Perm()))
	}
}

// looseMode says what is wrong with the permissions of a file holding a
// secret, or "" when nothing is. Reading by the file's group is allowed: a
// Kubernetes Secret volume mounted with a pod fsGroup is always at least
// group-readable (the kubelet adds g+r whatever defaultMode says), and that
// group is the one the exporter runs in, so it is how a non-root pod reads
// its secrets. Anyone else reading it, or anyone but the owner writing it
// (and so choosing the secret), is worth a warning.
func looseMode(perm os.FileMode) string {
	var what []string
	if perm&0o004 != 0 {
		what = append(what, "readable by others")
	}
	if perm&0o022 != 0 {
		what = append(what, "writable by group or others")
	}
	return strings.Join(what, " and ")
}
