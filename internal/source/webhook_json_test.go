package source

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// wjValidText reports whether the scanner accepts data as one JSON text.
func wjValidText(data []byte) bool {
	s := wjScanner{data: data}
	_, _, err := s.value()
	s.space()
	return err == nil && s.pos == len(data)
}

// wjSeeds are texts every scanner fuzz target starts from.
var wjSeeds = []string{
	`{}`, `null`, `[]`, `{"a":1}`, ` {"PushID" : "x" , "PushIDs":["a",null]} `,
	`{"Events":[{"PushPlatform":3,"PushStage":"1","ErrCode":1e300,"ErrInfo":"\u00e9\ud83d\ude00"}]}`,
	`{"pushid":"a","PUSHID":"b"}`, `{"Push\u0049D":"esc"}`, "{\"PushI\xe2\x84\xaaD\":1}", // Kelvin sign
	`{"a":[[[{"b":[]}]]],"c":{"d":{}}}`, `[1,2`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`,
	`{"a":tru}`, `{"a":nul}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `{,}`, `"\x01"`, `"\q"`, `"\u12g4"`, `"\ud800"`,
	"\"\xff\"", `{"a":"b"}x`, `-0.0e+5`, `0`, `"`, `{"a":{"b":[1,{"c":"d"}]},"e":[[],[{}]]}`,
}

// TestWJDepth: the nesting limit is encoding/json's, for arrays and
// objects, entered by walking or skipped. (Not fuzz seeds: texts this large
// slow the fuzzer down a hundredfold.)
func TestWJDepth(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		for _, text := range []string{
			strings.Repeat("[", n) + strings.Repeat("]", n),
			strings.Repeat(`{"y":`, n) + "1" + strings.Repeat("}", n),
			`{"x":` + strings.Repeat(`[{"y":`, n/2) + "1" + strings.Repeat("}]", n/2) + `}`,
		} {
			want := json.Valid([]byte(text))
			if got := wjValidText([]byte(text)); got != want {
				t.Errorf("depth %d, %.10s…: scanner valid = %v, json.Valid = %v", n, text, got, want)
			}
			if text[0] == '{' {
				err := wjWalkObject([]byte(text), func([]byte, wjKind, []byte) error { return nil })
				if (err == nil) != want {
					t.Errorf("depth %d, %.10s…: walk error %v, json.Valid = %v", n, text, err, want)
				}
			}
		}
	}
}

// FuzzWJSyntax: the scanner accepts exactly what json.Valid accepts.
func FuzzWJSyntax(f *testing.F) {
	for _, s := range wjSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := wjValidText(data), json.Valid(data); got != want {
			t.Fatalf("scanner valid = %v, json.Valid = %v for %q", got, want, data)
		}
	})
}

// wjRef decodes, with encoding/json, every member the webhook reads.
type wjRef struct {
	CallbackCommand json.RawMessage `json:"CallbackCommand"`
	EventType       json.RawMessage `json:"EventType"`
	EventTime       json.RawMessage `json:"EventTime"`
	PushID          json.RawMessage `json:"PushID"`
	TaskID          json.RawMessage `json:"TaskId"`
	TaskTime        json.RawMessage `json:"TaskTime"`
	From            json.RawMessage `json:"From_Account"`
	To              json.RawMessage `json:"To_Account"`
	PushPlatform    json.RawMessage `json:"PushPlatform"`
	PushStage       json.RawMessage `json:"PushStage"`
	MsgKey          json.RawMessage `json:"MsgKey"`
	MsgSeq          json.RawMessage `json:"MsgSeq"`
	MsgRandom       json.RawMessage `json:"MsgRandom"`
	MsgTime         json.RawMessage `json:"MsgTime"`
	GroupID         json.RawMessage `json:"GroupID"`
	ErrCode         json.RawMessage `json:"ErrCode"`
	ErrInfo         json.RawMessage `json:"ErrInfo"`
	MsgID           json.RawMessage `json:"MsgId"`
	PushIDs         json.RawMessage `json:"PushIDs"`
	Events          json.RawMessage `json:"Events"`
}

// FuzzWJMembers: walking an object finds the same member values as
// encoding/json decoding it into a struct: same key matching (case folding,
// escapes, the Kelvin sign), same last-of-duplicates, same raw bytes, and
// it fails exactly when decoding fails.
func FuzzWJMembers(f *testing.F) {
	for _, s := range wjSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(whBody(f, "webhook-offlinepush-doc.json")))
	f.Add([]byte(`{"Events":[1],"events":"x","groupid":2,"GroupId":3,"ERRINFO":null,"ſtuff":1,"Errcode":{"a":[]}}`))
	ref := reflect.TypeFor[wjRef]()
	folded := make([]string, ref.NumField())
	for i := range folded {
		folded[i] = wjFold(ref.Field(i).Tag.Get("json"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want wjRef
		wantErr := json.Unmarshal(data, &want)
		got := make([][]byte, len(folded))
		err := wjWalkObject(data, func(key []byte, _ wjKind, val []byte) error {
			for i, name := range folded {
				if wjKeyIs(key, name) {
					got[i] = val
				}
			}
			return nil
		})
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("walk error %v, json.Unmarshal error %v, for %q", err, wantErr, data)
		}
		if err != nil {
			return
		}
		v := reflect.ValueOf(want)
		for i := range folded {
			if w := v.Field(i).Bytes(); !bytes.Equal(got[i], w) {
				t.Fatalf("member %s = %q, encoding/json has %q, in %q", ref.Field(i).Name, got[i], w, data)
			}
		}
	})
}

// FuzzWJUnquote: a string decodes to what encoding/json gives, except that
// invalid UTF-8 and unpaired surrogates are reported instead of replaced.
func FuzzWJUnquote(f *testing.F) {
	for _, s := range []string{`a`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\udc00`, `\ud800\u0041`, `\ud800\ud800\udc00`,
		"\xff", "a\xe2\x82", `\"\\\/\b\f\n\r\t`, `\u0000`, `\uFFFD`, "\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		tok := append(append([]byte{'"'}, content...), '"')
		if !json.Valid(tok) {
			return
		}
		var want string
		if err := json.Unmarshal(tok, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := wjUnquote(tok, nil)
		if ok != utf8.Valid(got) {
			t.Fatalf("ok = %v but utf8.Valid = %v for %q", ok, !ok, tok)
		}
		if ok && string(got) != want {
			t.Fatalf("%q decodes to %q, encoding/json: %q", tok, got, want)
		}
		if !ok && !strings.ContainsRune(want, utf8.RuneError) {
			t.Fatalf("%q reported invalid, but encoding/json made %q of it", tok, want)
		}
	})
}

// wjHugeExponent matches number texts whose exponent big.Rat would take
// too long to expand.
var wjHugeExponent = regexp.MustCompile(`[eE][+-]?0*\d{4,}`)

// FuzzWJExactInt checks wjExactInt against exact rational arithmetic.
func FuzzWJExactInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "7", "-7", "7.0", "7e2", "700e-2", "0.7e1", "7.5", "1e19", "1e18",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"9007199254740993.0", "922337203685477580.7e1", "0.0000e-999", "1e-999", "100000000000000000000e-2",
		"1.000e2", "10.0e-1", "123456789012345678901234567890e-20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		sc := wjScanner{data: []byte(text)}
		if sc.skipNumber() != nil || sc.pos != len(text) || wjHugeExponent.MatchString(text) {
			return
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("big.Rat cannot read %q", text)
		}
		wantOK := r.IsInt() && r.Num().IsInt64()
		got, gotOK := wjExactInt([]byte(text))
		if gotOK != wantOK || gotOK && got != r.Num().Int64() {
			t.Fatalf("wjExactInt(%q) = %d, %v; want %s, %v", text, got, gotOK, r.RatString(), wantOK)
		}
	})
}

func TestWJNumberText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" for not a number
	}{
		{`3`, "3"}, {`-3.5e1`, "-3.5e1"}, {`"3"`, "3"}, {`" 3 "`, "3"}, {`"\u0033"`, "3"},
		{`"3x"`, ""}, {`""`, ""}, {`"NaN"`, ""}, {`"0x10"`, ""}, {`"+3"`, ""}, {`"1_000"`, ""},
		{`true`, ""}, {`null`, ""}, {`[3]`, ""}, {"\"3\xff\"", ""},
	} {
		s := wjScanner{data: []byte(tt.in)}
		kind, val, err := s.value()
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		got, ok := wjNumberText(kind, val)
		if ok != (tt.want != "") || string(got) != tt.want {
			t.Errorf("wjNumberText(%s) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

// TestWJKeyIs covers the folding cases encoding/json has.
func TestWJKeyIs(t *testing.T) {
	for _, tt := range []struct {
		key, name string
		want      bool
	}{
		{`"PushID"`, "PushID", true}, {`"pushid"`, "PushID", true}, {`"PUSHID"`, "PushID", true},
		{`"Push\u0049D"`, "PushID", true}, {`"PushIDs"`, "PushID", false}, {`"PushI"`, "PushID", false},
		{"\"Tas\xe2\x84\xaaId\"", "TaskId", true}, // KELVIN SIGN folds to k
		{"\"\xc5\xbftage\"", "Stage", true},       // LATIN SMALL LETTER LONG S folds to s
		{"\"Push\xffD\"", "PushID", false}, {`"Push_ID"`, "PushID", false}, {`""`, "PushID", false},
		{`"From_Account"`, "From_Account", true}, {`"from_account"`, "From_Account", true},
	} {
		if got := wjKeyIs([]byte(tt.key), wjFold(tt.name)); got != tt.want {
			t.Errorf("wjKeyIs(%s, %s) = %v", tt.key, tt.name, got)
		}
		// encoding/json agrees.
		f := reflect.StructOf([]reflect.StructField{{Name: "X", Type: reflect.TypeFor[json.RawMessage](), Tag: reflect.StructTag(`json:"` + tt.name + `"`)}})
		p := reflect.New(f)
		_ = json.Unmarshal([]byte("{"+tt.key+":1}"), p.Interface())
		if got := p.Elem().Field(0).Len() > 0; got != tt.want {
			t.Errorf("encoding/json matches %s to %s: %v, want %v", tt.key, tt.name, got, tt.want)
		}
	}
}
