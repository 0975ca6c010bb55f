package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const exampleFile = "../examples/timpush_exporter.yml"

// The example must pass --config.check once its secret files exist: its
// /etc/timpush/ paths are pointed at a directory holding such files.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	refs := regexp.MustCompile(`(?m)^\s*\w+_file: /etc/timpush/(\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(refs) != 4 {
		t.Fatalf("found %d *_file keys under /etc/timpush/, want 4 (two keys, two tokens)", len(refs))
	}
	for _, m := range refs {
		writeFile(t, filepath.Join(dir, m[1]), "secret-of-"+m[1]+"\n", 0o600)
	}
	text := strings.ReplaceAll(string(data), "/etc/timpush/", dir+"/")

	cfg, err := Decode(strings.NewReader(text), filepath.Dir(exampleFile))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", exampleFile, err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	if len(cfg.Apps) != 2 || cfg.Apps[0].SecretKey != "secret-of-prod.key" || cfg.Apps[1].SampleRatio != 0.1 {
		t.Errorf("apps = %+v", cfg.Apps)
	}
	if w := cfg.Sources.Webhook; w == nil || w.BearerToken != "secret-of-webhook-token" || w.TencentCallbackToken != "secret-of-callback-token" {
		t.Errorf("webhook = %+v", w)
	}
}

// Every key appears in the example, set or in a comment.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{configType, reflect.TypeFor[Sources](), appType, fileSourceType, webhookType} {
		for key := range yamlFields(typ) {
			if !regexp.MustCompile(`(?m)^[\s#-]*` + key + `:`).Match(data) {
				t.Errorf("%s does not show the key %s (%s)", exampleFile, key, typ.Name())
			}
		}
	}
}
