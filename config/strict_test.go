package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const strictApp = `
  - name: prod
    sdkappid: 1
    identifier: administrator
    secret_key: k
`

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" for success
	}{
		{
			name: "every unknown key reported",
			in:   "apps:" + strictApp + "    colour: blue\nextra: 1\n",
			want: "line 6: unknown key \"colour\" in apps[0]\nline 7: unknown key \"extra\" at top level",
		},
		{
			name: "unknown key in the second app",
			in:   "apps:" + strictApp + strictApp + "    sdkapp_id: 2\n",
			want: `line 11: unknown key "sdkapp_id" in apps[1]`,
		},
		{
			name: "unknown key in sources",
			in:   "apps:" + strictApp + "sources:\n  file: []\n",
			want: `line 7: unknown key "file" in sources`,
		},
		{
			name: "unknown key in flow style",
			in:   "apps: [{name: a, sdkappid: 1, identifier: x, secret_key: k, sdk: 1}]\n",
			want: `line 1: unknown key "sdk" in apps[0]`,
		},
		{
			name: "unknown key behind a merge key",
			in:   "base: &base\n  region: seoul\n  tz: UTC\napps:\n  - <<: *base\n    name: a\n    sdkappid: 1\n    identifier: x\n    secret_key: k\n",
			want: `line 1: unknown key "base" at top level` + "\n" + `line 3: unknown key "tz" in apps[0]`,
		},
		{
			name: "merge keys and aliases of known keys",
			in:   "apps:\n  - &a\n    name: a\n    sdkappid: 1\n    identifier: x\n    secret_key: k\n  - <<: *a\n    name: b\n    sdkappid: 2\n",
		},
		{
			name: "bad duration in requery_after",
			in:   "apps:" + strictApp + "    requery_after: [5m, soon]\n",
			want: `line 6: apps[0].requery_after[1]: not a valid duration string: "soon"`,
		},
		{
			name: "duplicate key",
			in:   "apps:" + strictApp + "    name: again\n",
			want: "yaml: unmarshal errors:\n  line 6: mapping key \"name\" already defined at line 2",
		},
		{
			name: "top level not a mapping",
			in:   "[1, 2]\n",
			want: "line 1: top level: want a mapping of keys to values, got !!seq",
		},
		{
			name: "apps not a list",
			in:   "apps: 3\n",
			want: "line 1: apps: want a list, got !!int",
		},
		{
			name: "app not a mapping",
			in:   "apps: [prod]\n",
			want: "line 1: apps[0]: want a mapping of keys to values, got !!str",
		},
		{
			name: "secret not a string",
			in:   "apps:" + strictApp + "    secret_key_file: [a, b]\n",
			want: "line 6: apps[0].secret_key_file: want a string, got !!seq",
		},
		{
			name: "requery_after not a list",
			in:   "apps:" + strictApp + "    requery_after: 5m\n",
			want: "line 6: apps[0].requery_after: want a list, got !!str",
		},
		{
			name: "duration not a scalar",
			in:   "apps:" + strictApp + "    query_delay: {m: 5}\n",
			want: "line 6: apps[0].query_delay: want a duration such as 5m, got !!map",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.in), "")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Decode error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// A key with no value keeps its default, except a list, which becomes empty.
func TestDecodeNullValues(t *testing.T) {
	cfg, err := Decode(strings.NewReader("apps:"+strictApp+"    rate_limit:\n    query_delay:\n    requery_after:\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Apps[0]
	if a.RateLimit != DefaultApp.RateLimit || a.QueryDelay != DefaultApp.QueryDelay || len(a.RequeryAfter) != 0 {
		t.Errorf("rate_limit, query_delay, requery_after = %g, %s, %v; want %g, %s, []",
			a.RateLimit, a.QueryDelay, a.RequeryAfter, DefaultApp.RateLimit, DefaultApp.QueryDelay)
	}
}

// Types decoded on their own (not through Decode) are strict too.
func TestUnmarshalYAMLStrict(t *testing.T) {
	tests := []struct {
		name string
		in   string
		into any
		want string
	}{
		{"app", "name: a\nrate: 1\n", &App{}, `line 2: unknown key "rate" in app`},
		{"file source", "path: x\nformt: json\n", &FileSource{}, `line 2: unknown key "formt" in file source`},
		{"webhook", "listen: x\n", &Webhook{}, `line 1: unknown key "listen" in webhook`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := yaml.Unmarshal([]byte(tt.in), tt.into)
			if err == nil || err.Error() != tt.want {
				t.Errorf("yaml.Unmarshal error = %v, want %q", err, tt.want)
			}
		})
	}
}

// A "billion laughs" document built from merge keys ends quickly: the key
// check walks each alias target once and the decoder limits alias expansion.
func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apps:\n  - &a0 {name: a, sdkappid: 1, identifier: x, secret_key: k}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	start := time.Now()
	_, err := Decode(strings.NewReader(b.String()), "")
	if err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Errorf("Decode(alias bomb) error = %v, want excessive aliasing", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Decode(alias bomb) took %s", d)
	}
}
