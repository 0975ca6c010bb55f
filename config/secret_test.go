package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fileSecret = "file-secret-VALUE-42"

func TestSecretKeyFile(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		warnings []string // %s is the key file's path
	}{
		{name: "private", mode: 0o600},
		{name: "owner read-only", mode: 0o400},
		// A Kubernetes Secret volume with an fsGroup: the kubelet makes it
		// group-readable whatever defaultMode says.
		{name: "group-readable (Kubernetes fsGroup)", mode: 0o440},
		{name: "group-readable", mode: 0o640},
		{
			name:     "world-readable",
			mode:     0o644,
			warnings: []string{"apps[0].secret_key_file %s is readable by others (mode 0644); chmod 600 it (640 or 440 if a group must read it)"},
		},
		{
			name:     "group-writable",
			mode:     0o660,
			warnings: []string{"apps[0].secret_key_file %s is writable by group or others (mode 0660); chmod 600 it (640 or 440 if a group must read it)"},
		},
		{
			name:     "world-writable",
			mode:     0o602,
			warnings: []string{"apps[0].secret_key_file %s is writable by group or others (mode 0602); chmod 600 it (640 or 440 if a group must read it)"},
		},
		{
			name: "world-readable and group-writable",
			mode: 0o664,
			warnings: []string{"apps[0].secret_key_file %s is readable by others and writable by group or others (mode 0664); " +
				"chmod 600 it (640 or 440 if a group must read it)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "keys", "prod.key")
			writeFile(t, key, "\n  "+fileSecret+" \r\n", tt.mode)
			cfgPath := filepath.Join(dir, "timpush_exporter.yml")
			writeFile(t, cfgPath, "apps:\n  - {name: prod, sdkappid: 1, identifier: admin, secret_key_file: keys/prod.key}\n"+
				"sources: {files: [{path: push.log}]}\n", 0o644)

			cfg, err := Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.Apps[0]
			if a.SecretKey != fileSecret {
				t.Errorf("SecretKey = %q, want the file's trimmed contents", a.SecretKey)
			}
			if a.SecretKeyFile != key {
				t.Errorf("SecretKeyFile = %q, want %q", a.SecretKeyFile, key)
			}
			if got, want := cfg.Sources.Files[0].Path, filepath.Join(dir, "push.log"); got != want {
				t.Errorf("files[0].path = %q, want %q", got, want)
			}
			var want []string
			for _, w := range tt.warnings {
				want = append(want, fmt.Sprintf(w, key))
			}
			if !reflect.DeepEqual(cfg.Warnings, want) {
				t.Errorf("Warnings = %q, want %q", cfg.Warnings, want)
			}
		})
	}
}

func TestInlineSecretInReadableConfigWarns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yml")
	const body = "apps: [{name: a, sdkappid: 1, identifier: x, secret_key: " + fileSecret + "}]\n" +
		"sources: {webhook: {listen_address: ':9847'}}\n"
	for _, tt := range []struct {
		mode os.FileMode
		want []string
	}{
		{0o600, nil},
		{0o640, nil},
		{0o644, []string{"config file " + path + " holds inline secrets and is readable by others (mode 0644); use *_file keys or chmod 600"}},
		{0o620, []string{"config file " + path + " holds inline secrets and is writable by group or others (mode 0620); use *_file keys or chmod 600"}},
	} {
		writeFile(t, path, body, tt.mode)
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg.Warnings, tt.want) {
			t.Errorf("mode %#o: Warnings = %q, want %q", tt.mode, cfg.Warnings, tt.want)
		}
	}
}

func TestSecretsMarshalRedacted(t *testing.T) {
	const in = `
apps:
  - {name: a, sdkappid: 1, identifier: x, secret_key: ` + fileSecret + `-key}
sources:
  webhook:
    listen_address: ":9847"
    tencent_callback_token: ` + fileSecret + `-callback
    bearer_token: ` + fileSecret + `-bearer
`
	cfg, err := Decode(strings.NewReader(in), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Apps[0].SecretKey != fileSecret+"-key" || cfg.Sources.Webhook.BearerToken != fileSecret+"-bearer" {
		t.Fatal("secrets not decoded")
	}
	dump := cfg.String()
	for _, want := range []string{"secret_key: <secret>", "tencent_callback_token: <secret>", "bearer_token: <secret>"} {
		if !strings.Contains(dump, want) {
			t.Errorf("Config.String() lacks %q:\n%s", want, dump)
		}
	}
	printed := []string{
		dump,
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v", *cfg, cfg),
		fmt.Sprint(cfg.Apps[0]), fmt.Sprintf("%+v", cfg.Apps), fmt.Sprintf("%v", cfg.Sources.Webhook),
	}
	for _, s := range printed {
		if strings.Contains(s, fileSecret) {
			t.Errorf("printed config shows a secret:\n%s", s)
		}
	}
}

// No error or warning shows a secret, whichever way the configuration is wrong.
func TestErrorsNeverShowSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "open.key"), fileSecret+"\n", 0o644)
	writeFile(t, filepath.Join(dir, "token"), fileSecret+"\n", 0o644)
	const app = "apps:\n  - {name: a, sdkappid: 1, identifier: x, "
	tests := []struct{ name, in string }{
		{"inline key and other errors", app + "secret_key: " + fileSecret + ", rate_limit: 0, region: x, endpoint: 'ftp://u:" + fileSecret + "@h'}\n"},
		{"inline key and key file", app + "secret_key: " + fileSecret + ", secret_key_file: open.key}\n"},
		{"world-readable key file, invalid app", app + "secret_key_file: open.key, sample_ratio: 2}\n"},
		{"secret in a non-string place", app + "secret_key: [" + fileSecret + "]}\n"},
		{"secret as an unknown key", app + "secret_key: k, " + fileSecret + ": 1}\n"},
		{"secret in an endpoint", app + "secret_key: k, endpoint: 'http://u:" + fileSecret + "@h:80/%zz'}\n"},
		{"tokens", app + "secret_key: k}\nsources:\n  webhook: {listen_address: x, bearer_token: " + fileSecret +
			", bearer_token_file: token, tencent_callback_token_file: token}\n"},
		{"valid, with warnings", app + "secret_key_file: open.key}\nsources:\n  webhook: {listen_address: ':1', bearer_token_file: token}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Decode(strings.NewReader(tt.in), dir)
			var out []string
			if err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, cfg.Warnings...)
			}
			if len(out) == 0 {
				t.Fatal("want an error or a warning to check")
			}
			for _, s := range out {
				// A key named like the secret is the one case that must be shown.
				if strings.Contains(s, fileSecret) && !strings.Contains(s, `unknown key "`+fileSecret) {
					t.Errorf("message shows a secret: %s", s)
				}
			}
		})
	}
}
