package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretMarker is in every secret these tests write: an error showing any
// part of a secret around it shows the marker.
const secretMarker = "S3cr3T"

// secretDoc is a config whose secret field key holds value verbatim.
func secretDoc(key, value string) string {
	app := "apps:\n  - name: a\n    sdkappid: 1\n    identifier: x\n"
	switch key {
	case "secret_key":
		return app + "    secret_key: " + value + "\n    rate_limit: 1\n"
	default:
		return app + "    secret_key: k\nsources:\n  webhook:\n    listen_address: ':9847'\n    " +
			key + ": " + value + "\n    max_body_bytes: 1024\n"
	}
}

// requireNoSecret fails t if msg shows value, value less its first
// character (YAML reads *x as the alias x, !x as the tag !x), or the marker.
func requireNoSecret(t *testing.T, msg, value string) {
	t.Helper()
	for _, s := range []string{value, value[1:], secretMarker} {
		if s != "" && strings.Contains(msg, s) {
			t.Fatalf("error shows the secret %q:\n%s", value, msg)
		}
	}
}

// TestYAMLErrorsNeverShowSecrets: yaml.v3 quotes anchors, tags and values
// back in its errors ("unknown anchor 'abc…' referenced"); an inline secret
// that YAML reads as one of them reached the log and the /-/reload caller
// (issue 13.8).
func TestYAMLErrorsNeverShowSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, key := range []string{"secret_key", "tencent_callback_token", "bearer_token"} {
		for _, first := range []string{"*", "&", "!", "!!", "!!int ", "!!binary ", "|", ">", "%", "@", "`", `"`, "'", "{", "[", "? ", "- ", "#", "<<: "} {
			for _, rest := range []string{secretMarker + "abc", secretMarker + `"x`, secretMarker + "'", secretMarker + "}", secretMarker + ": x", secretMarker + "]\n  - *" + secretMarker} {
				value := first + rest
				t.Run(key+" "+value, func(t *testing.T) {
					path := filepath.Join(dir, "c.yml")
					if err := os.WriteFile(path, []byte(secretDoc(key, value)), 0o600); err != nil {
						t.Fatal(err)
					}
					if _, err := Load(path); err != nil {
						requireNoSecret(t, err.Error(), value)
					}
				})
			}
		}
	}
}

// FuzzSecretInYAML: whatever text surrounds it on its line, a secret value
// never appears in Decode's error.
func FuzzSecretInYAML(f *testing.F) {
	for _, first := range []string{"*", "&", "!", "!!int ", "|", ">", "%", "@", "`", `"`, "'", "{", "[", "", "? "} {
		f.Add(uint8(0), first, "")
		f.Add(uint8(1), first, `"`)
		f.Add(uint8(2), first, "'x")
		f.Add(uint8(0), first, "]}")
	}
	keys := []string{"secret_key", "tencent_callback_token", "bearer_token"}
	f.Fuzz(func(t *testing.T, key uint8, before, after string) {
		// One line: a secret spread over lines can turn into keys, which
		// errors do name.
		before, after = strings.NewReplacer("\n", "", "\r", "").Replace(before), strings.NewReplacer("\n", "", "\r", "").Replace(after)
		value := before + secretMarker + after
		_, err := Decode(strings.NewReader(secretDoc(keys[int(key)%len(keys)], value)), "")
		if err != nil && strings.Contains(err.Error(), secretMarker) {
			t.Fatalf("error shows the secret %q:\n%s", value, err)
		}
	})
}
