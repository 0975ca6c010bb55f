package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

func TestExtract(t *testing.T) {
	long := strings.Repeat("x", pushid.MaxLen+1)
	for _, tt := range []struct {
		name, format, field string
		re                  *regexp.Regexp
		line                string
		id, app, reason     string
	}{
		{name: "regex", format: FormatRegex, re: testRegex, line: "ts msg_id=abc-1 more", id: "abc-1"},
		{name: "regex app", format: FormatRegex, re: testRegex, line: "msg_id=abc app=test", id: "abc", app: "test"},
		{name: "regex no match", format: FormatRegex, re: testRegex, line: "nothing", reason: ReasonNoID},
		{name: "regex too long", format: FormatRegex, re: testRegex, line: "msg_id=" + long, reason: ReasonInvalidID},
		{name: "regex empty group", format: FormatRegex, re: regexp.MustCompile(`id=(?P<push_id>\S*)`), line: "id=", reason: ReasonInvalidID},
		{name: "regex optional group", format: FormatRegex, re: regexp.MustCompile(`id=(?P<push_id>\S+)?`), line: "id=", reason: ReasonNoID},
		{name: "regex lets through junk", format: FormatRegex, re: regexp.MustCompile(`id=(?P<push_id>\S+)`), line: "id=a\xffb", reason: ReasonInvalidID},
		{name: "json", format: FormatJSON, line: `{"PushID":"p-1","x":[1,2]}`, id: "p-1"},
		{name: "json nested", format: FormatJSON, field: "a.b", line: ` {"a":{"b":"p-2"}} `, id: "p-2"},
		{name: "json number", format: FormatJSON, line: `{"PushID":-1.5e3}`, id: "-1.5e3"},
		{name: "json escaped", format: FormatJSON, line: `{"PushID":"p\u002d3"}`, id: "p-3"},
		{name: "json control", format: FormatJSON, line: `{"PushID":"p\n3"}`, reason: ReasonInvalidID},
		{name: "json empty string", format: FormatJSON, line: `{"PushID":""}`, reason: ReasonInvalidID},
		{name: "json missing", format: FormatJSON, line: `{"pushid":"p"}`, reason: ReasonNoID},
		{name: "json null", format: FormatJSON, line: `{"PushID":null}`, reason: ReasonNoID},
		{name: "json object value", format: FormatJSON, line: `{"PushID":{}}`, reason: ReasonNoID},
		{name: "json not an object", format: FormatJSON, line: `["PushID"]`, reason: ReasonNoID},
		{name: "json path through a string", format: FormatJSON, field: "a.b", line: `{"a":"b"}`, reason: ReasonNoID},
		{name: "json broken", format: FormatJSON, line: `{"PushID":"p"`, reason: ReasonBadJSON},
		{name: "json text", format: FormatJSON, line: `PushID=p`, reason: ReasonBadJSON},
		{name: "json blank", format: FormatJSON, line: "  ", reason: ReasonNoID},
		{name: "json spaces", format: FormatJSON, line: " { \"x\" : [ {\"PushID\":1} , \"}\" ] ,\t\"PushID\" :\r\"p-5\" } ", id: "p-5"},
		{name: "json key in a value", format: FormatJSON, line: `{"x":"PushID","y":{"PushID":"p"}}`, reason: ReasonNoID},
		{name: "json case differs", format: FormatJSON, line: `{"pushID":"a","PUSHID":"b"}`, reason: ReasonNoID},
		{name: "json case differs, exact first", format: FormatJSON, line: `{"PushID":"a","pushid":"b"}`, id: "a"},
		{name: "json duplicate key, last wins", format: FormatJSON, line: `{"PushID":"a","x":1,"PushID":"b"}`, id: "b"},
		{name: "json duplicate key, last not an ID", format: FormatJSON, line: `{"PushID":"a","PushID":null}`, reason: ReasonNoID},
		{name: "json escaped key", format: FormatJSON, line: `{"Push\u0049D":"p-6"}`, id: "p-6"},
		{name: "json escaped quote in key", format: FormatJSON, field: `a"b`, line: `{"a\"b":"p-7"}`, id: "p-7"},
		{name: "json escape is not the key", format: FormatJSON, field: `a\nb`, line: `{"a\nb":"p"}`, reason: ReasonNoID},
		{name: "json comma in key", format: FormatJSON, field: "a,b", line: `{"a,b":"p-8"}`, id: "p-8"},
		{name: "json invalid UTF-8 in key", format: FormatJSON, field: "a\uFFFDb", line: "{\"a\xffb\":\"p-9\"}", id: "p-9"},
		{name: "json invalid UTF-8 in value", format: FormatJSON, line: "{\"PushID\":\"p\xff\"}", id: "p\uFFFD"},
		{name: "json escaped backslash ends", format: FormatJSON, line: `{"x":"\\","PushID":"p-10"}`, id: "p-10"},
		{name: "json nested deeper", format: FormatJSON, field: "a.b.c", line: `{"b":{"c":"no"},"a":{"c":"no","b":{"c":"p-11"}}}`, id: "p-11"},
		{name: "json nested missing", format: FormatJSON, field: "a.b", line: `{"a":{"c":"p"},"b":"p"}`, reason: ReasonNoID},
		{name: "json nested array", format: FormatJSON, field: "a.b", line: `{"a":[{"b":"p"}]}`, reason: ReasonNoID},
		{name: "json nested broken", format: FormatJSON, field: "a.b", line: `{"a":{"b":"p"}`, reason: ReasonBadJSON},
		{name: "json number then brace", format: FormatJSON, line: `{"PushID":12}`, id: "12"},
		{name: "json bool", format: FormatJSON, line: `{"PushID":true}`, reason: ReasonNoID},
		{name: "json empty object", format: FormatJSON, line: `{ }`, reason: ReasonNoID},
		{name: "json string line", format: FormatJSON, line: `"PushID"`, reason: ReasonNoID},
		{name: "json trailing text", format: FormatJSON, line: `{"PushID":"p"} x`, reason: ReasonBadJSON},
		{name: "json two objects", format: FormatJSON, line: `{"PushID":"p"}{}`, reason: ReasonBadJSON},
		{name: "plain", format: FormatPlain, line: " \tp-4 ", id: "p-4"},
		{name: "plain blank", format: FormatPlain, line: " ", reason: ReasonNoID},
		{name: "plain space inside", format: FormatPlain, line: "p 4", reason: ReasonInvalidID},
		{name: "plain NUL", format: FormatPlain, line: "p\x004", reason: ReasonInvalidID},
		{name: "plain bad UTF-8", format: FormatPlain, line: "p\xc3", reason: ReasonInvalidID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newExtractor(tt.format, tt.re, tt.field)
			if err != nil {
				t.Fatal(err)
			}
			b, appBytes, reason := e.extract([]byte(tt.line))
			id, app := string(b), string(appBytes)
			if id != tt.id || app != tt.app || reason != tt.reason {
				t.Fatalf("extract(%q) = %q, %q, %q; want %q, %q, %q", tt.line, id, app, reason, tt.id, tt.app, tt.reason)
			}
			id2, app2, ok := e.Extract([]byte(tt.line))
			if id2 != id || app2 != app || ok != (reason == "") {
				t.Fatalf("Extract(%q) = %q, %q, %v, unlike extract", tt.line, id2, app2, ok)
			}
		})
	}
}

// FuzzExtract feeds arbitrary lines to every format: no panic, and an ID
// returned with ok always passes pushid.Validate.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"ts=1 msg_id=abc-1 app=prod",
		"msg_id=",
		"msg_id=a\x00b\xff",
		`{"PushID":"p-1"}`,
		`{"PushID":12.5e-3,"a":{"b":"c"}}`,
		`{"a":{"b":"p-2"}}`,
		`{"PushID":"\ud800"}`,
		`{"PushID":"` + strings.Repeat("x", 200) + `"}`,
		"{",
		"  plain-id  ",
		"\xff\xfe\x00",
		"",
	} {
		f.Add([]byte(s))
	}
	var exts []Extractor
	for _, c := range []struct {
		format, field string
		re            *regexp.Regexp
	}{
		{format: FormatRegex, re: testRegex},
		{format: FormatRegex, re: regexp.MustCompile(`(?P<app>\w*):(?P<push_id>.*)`)},
		{format: FormatJSON},
		{format: FormatJSON, field: "a.b"},
		{format: FormatPlain},
	} {
		e, err := NewExtractor(c.format, c.re, c.field)
		if err != nil {
			f.Fatal(err)
		}
		exts = append(exts, e)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, e := range exts {
			id, _, ok := e.Extract(line)
			if ok {
				if err := pushid.Validate(id); err != nil {
					t.Fatalf("%T returned %q for %q: %v", e, id, line, err)
				}
			} else if id != "" {
				t.Fatalf("%T returned %q with !ok", e, id)
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct {
		format, line string
		re           *regexp.Regexp
	}{
		{FormatRegex, "2025-01-02T03:04:05Z level=info msg=\"push sent\" msg_id=144115217542930542-1735787045-1234567 to=user42", testRegex},
		{FormatJSON, `{"ts":"2025-01-02T03:04:05Z","level":"info","msg":"push sent","PushID":"144115217542930542-1735787045-1234567","to":"user42"}`, nil},
		{FormatPlain, "144115217542930542-1735787045-1234567", nil},
	} {
		b.Run(c.format, func(b *testing.B) {
			e, err := NewExtractor(c.format, c.re, "")
			if err != nil {
				b.Fatal(err)
			}
			line := []byte(c.line)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := e.Extract(line); !ok {
					b.Fatal("no ID")
				}
			}
		})
	}
}

// mapExtract is the JSON extraction as it was before jsonExtractor walked
// the text itself: each level decoded into a map. FuzzJSONLikeMap holds the
// two to the same results.
func mapExtract(path []string, line []byte) (string, string) {
	raw := bytes.TrimSpace(line)
	if len(raw) == 0 {
		return "", ReasonNoID
	}
	for i, key := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			var syntax *json.SyntaxError
			if i == 0 && errors.As(err, &syntax) {
				return "", ReasonBadJSON
			}
			return "", ReasonNoID
		}
		v, ok := obj[key]
		if !ok {
			return "", ReasonNoID
		}
		raw = bytes.TrimSpace(v)
	}
	var s string
	switch c := raw[0]; {
	case c == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", ReasonBadJSON
		}
	case c == '-' || ('0' <= c && c <= '9'):
		s = string(raw)
	default:
		return "", ReasonNoID
	}
	if !pushid.Valid(s) {
		return "", ReasonInvalidID
	}
	return s, ""
}

func FuzzJSONLikeMap(f *testing.F) {
	for _, s := range []string{
		`{"PushID":"p-1","x":[1,{"y":"}"}]}`,
		`{"a":{"b":"p-2"},"a":{"b":3}}`,
		`{"Push\u0049D":"p\u002d3", "pushid" : "x"}`,
		`{"a" : { "b" : -1.5e3 } }`,
		`{"PushID":"a\\","b":"\""}`,
		"{\"a\xff\":{\"b\":\"p\xfe\"}}",
		`{"a":{"b":"\ud800"}}`,
		`[{"PushID":"p"}]`,
		`{"PushID":"p"`,
		`{}`,
		``,
	} {
		f.Add([]byte(s))
	}
	paths := [][]string{{"PushID"}, {"a", "b"}, {"a\uFFFD", "b"}}
	exts := make([]lineExtractor, len(paths))
	for i, p := range paths {
		exts[i] = &jsonExtractor{path: p}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for i, e := range exts {
			id, _, reason := e.extract(line)
			wantID, wantReason := mapExtract(paths[i], line)
			if string(id) != wantID || reason != wantReason {
				t.Fatalf("path %q, line %q: got %q, %q; decoding into maps gives %q, %q", paths[i], line, id, reason, wantID, wantReason)
			}
		}
	})
}
