package source

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// sameAsRegexp fails t unless fastRegex finds in line what the regexp
// engine finds: the same ID and app bounds (app −1 when its group did not
// match), and the same extract result.
func sameAsRegexp(t *testing.T, re *regexp.Regexp, f *fastRegex, line []byte) {
	t.Helper()
	s, e, as, ae, _, ok := f.find(line)
	want := re.FindSubmatchIndex(line)
	id := re.SubexpIndex("push_id")
	got := fmt.Sprint(ok, s, e, as, ae)
	w := "false 0 0 -1 -1"
	if want != nil {
		wa, wae := -1, -1
		if app := re.SubexpIndex("app"); app >= 0 {
			wa, wae = want[2*app], want[2*app+1]
		}
		w = fmt.Sprint(true, want[2*id], want[2*id+1], wa, wae)
	}
	if got != w {
		t.Fatalf("%q on %q: fast path found (ok id app) %s, regexp %s", re, line, got, w)
	}
	slow := &regexExtractor{re: re, id: id, app: re.SubexpIndex("app")}
	i1, a1, r1 := f.extract(line)
	i2, a2, r2 := slow.slow(line)
	if string(i1) != string(i2) || string(a1) != string(a2) || r1 != r2 {
		t.Fatalf("%q on %q: fast extract %q %q %q, regexp %q %q %q", re, line, i1, a1, r1, i2, a2, r2)
	}
}

func TestFastRegexShape(t *testing.T) {
	for _, tt := range []struct {
		re   string
		fast bool
	}{
		{`msg_id=(?P<push_id>[0-9A-Za-z_-]+)`, true},
		{`"PushID":"(?P<push_id>[^"]+)"`, true},
		{`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?`, true},
		{`id=(?P<push_id>\S*)`, true},
		{`id=(?P<push_id>.+) end`, true},
		{`id=(?P<push_id>a+)`, true},
		{`x(?P<push_id>\w+)(?P<app>\w*)?`, true},
		{`(?i)id=(?P<push_id>\S+)`, false},                    // case folding
		{`id=(?P<push_id>\S+?)`, false},                       // lazy
		{`^id=(?P<push_id>\S+)`, false},                       // anchor
		{`\bid=(?P<push_id>\S+)`, false},                      // word boundary
		{`(?P<push_id>\S+)`, false},                           // no literal before it
		{`id=(?P<push_id>[a-z\x{e9}]+)`, false},               // some multi-byte runes only
		{`id=(?P<push_id>[^\x{e9}]+)`, false},                 // all multi-byte runes but one
		{`id=(?P<push_id>\S{2,8})`, false},                    // counted repetition
		{`id=\x{FFFD}(?P<push_id>\S+)`, false},                // U+FFFD matches invalid bytes
		{`(?:id|msg)=(?P<push_id>\S+)`, false},                // alternation
		{`id=(?P<push_id>\S+)(?: app=(?P<app>\w+))?x`, false}, // something after the app
		{`(?P<app>\w+) id=(?P<push_id>\S+)`, false},           // app first
		{`id=(?P<push_id>\S+)(?: app=(?P<app>\w+))??`, false}, // lazy optional
		{`id=(?P<push_id>\S+)(?: app=(?P<app>[\x{e9}]+))?`, false},
		{`id=(?P<push_id>\S+)(?:x(?P<other>\w+))?`, false},
	} {
		re := regexp.MustCompile(tt.re)
		if got := newFastRegex(re) != nil; got != tt.fast {
			t.Errorf("%s: fast path %v, want %v", tt.re, got, tt.fast)
		}
	}
}

// TestFastRegexTricky: cases where a byte scan could easily differ from
// the engine's leftmost-first match.
func TestFastRegexTricky(t *testing.T) {
	for _, tt := range []struct{ re, line string }{
		// the literal repeated, overlapping, or inside the run
		{`id=(?P<push_id>[a-z=]+)`, "id=id=abc"},
		{`aa(?P<push_id>[a-z]+)`, "aaa"},
		{`aa(?P<push_id>[a-z]+)`, "xaaaab"},
		{`ab(?P<push_id>[0-9]+)`, "ab ab12"},
		{`aba(?P<push_id>[b]+)x`, "ababababbx"},
		// the class holds the suffix's first byte: the run gives bytes back
		{`"id":"(?P<push_id>[^,]+)"`, `"id":"a"b"c",`},
		{`"id":"(?P<push_id>[^,]+)"`, `"id":"abc`},
		{`id=(?P<push_id>\S+)x`, "id=axbxcx"},
		{`id=(?P<push_id>\S+)xy`, "id=axyxyzx"},
		{`id=(?P<push_id>\S+)x`, "id=x"},
		{`id=(?P<push_id>\S*)x`, "id=x"},
		{`id=(?P<push_id>\S+)x`, "id=ab id=cxd"},
		// multi-byte classes and invalid UTF-8
		{`id=(?P<push_id>\S+)`, "id=caf\u00e9 x"},
		{`id=(?P<push_id>\S+)`, "id=a\xffb"},
		{`id=(?P<push_id>\S+)`, "id=\xe4\xb8"},
		{`id=(?P<push_id>[^"]+)"`, "id=\u4e2d\u6587\""},
		{`id=(?P<push_id>\w+)`, "id=ab\u00e9cd"},
		{`id=(?P<push_id>\w+)`, "id=\xff"},
		{`\x{e9}=(?P<push_id>\w+)`, "\u00e9=abc \xc3=x"},
		{`id=(?P<push_id>.+)`, "id=a\x00b"},
		// an empty run
		{`id=(?P<push_id>\S*)`, "id="},
		{`id=(?P<push_id>\S*)`, "id= id=x"},
		{`id=(?P<push_id>\S+)`, "id= id=x"},
		{`id=(?P<push_id>\w*) `, "id=!id=a "},
		// the optional app group
		{`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?`, "msg_id=m1 app=test"},
		{`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?`, "msg_id=m1 app="},
		{`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w*))?`, "msg_id=m1 app= x"},
		{`id=(?P<push_id>[^"]+)(?: app=(?P<app>\w+))?`, "id=a app=b"},
		{`id=(?P<push_id>\S+)"(?:,(?P<app>\w+))?`, `id=a"b",cd`},
		{`x(?P<push_id>[a-c]+)(?P<app>[b-d]*)?`, "xabcdd"},
		// too long, and spaces let in by the class
		{`id=(?P<push_id>\S+)`, "id=" + strings.Repeat("a", 129)},
		{`id=(?P<push_id>[^"]+)`, "id=a b"},
		{`id=(?P<push_id>[^"]+)`, "id=ab\x7f"},
		{`id=(?P<push_id>[a-z]+)`, "no match here"},
	} {
		re := regexp.MustCompile(tt.re)
		f := newFastRegex(re)
		if f == nil {
			t.Fatalf("%s: no fast path", tt.re)
		}
		sameAsRegexp(t, re, f, []byte(tt.line))
	}
}

// The fast path stays linear on a line built to make a naive scan
// quadratic: every byte starts a prefix and continues a run the suffix
// never ends.
func TestFastRegexLinear(t *testing.T) {
	re := regexp.MustCompile(`a(?P<push_id>a+)b`)
	f := newFastRegex(re)
	line := []byte(strings.Repeat("a", 1<<20))
	if testing.AllocsPerRun(1, func() { f.find(line) }) > 0 {
		t.Fatal("find allocated")
	}
	sameAsRegexp(t, re, f, line[:1000])
}

// fuzzClasses are the ID classes FuzzFastRegex picks from; "" builds one
// from the fuzzer's bytes.
var fuzzClasses = []string{"", `\S`, `\w`, `.`, `[^"]`, `[0-9A-Za-z_-]`, `[^ ,]`, `[\x00-\x{10FFFF}]`}

// FuzzFastRegex builds patterns of the fast path's shape from the
// fuzzer's input (literals, class, quantifiers, an optional app group)
// and holds the fast path to regexp on the fuzzer's lines.
func FuzzFastRegex(f *testing.F) {
	f.Add("msg_id=", "", "", " app=", uint8(5), []byte("ts msg_id=abc-1 app=prod x"))
	f.Add(`"PushID":"`, "", `"`, "", uint8(4), []byte(`{"PushID":"p-1","x":"y"}`))
	f.Add("id=", "abc=", "", "", uint8(0), []byte("id=id=abc"))
	f.Add("aa", "a", "b", "", uint8(0), []byte("aaaaab aab"))
	f.Add("id=", "^,", `"`, ",", uint8(16+8), []byte(`id=a"b"c",dd`))
	f.Add("id=", "", "x", "", uint8(1), []byte("id=axbx\xff\xe4\xb8x"))
	f.Add("\u00e9", "^\"", "", "", uint8(0), []byte("\u00e9\u00e9\xc3=\u4e2d"))
	f.Add("id=", "", "", "", uint8(1|8), []byte("id= id="))
	f.Add("k", "", "", "", uint8(3|16|32|64), []byte("kab_9\x00z"))
	f.Fuzz(func(t *testing.T, pre, class, suf, appLit string, mode uint8, line []byte) {
		pattern := fuzzPattern(pre, class, suf, appLit, mode)
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		fr := newFastRegex(re)
		if fr == nil {
			return // not the shape (e.g. an empty or U+FFFD literal): regexp is used
		}
		sameAsRegexp(t, re, fr, line)
	})
}

func fuzzPattern(pre, class, suf, appLit string, mode uint8) string {
	c := fuzzClasses[int(mode&7)%len(fuzzClasses)]
	if c == "" {
		var b strings.Builder
		b.WriteByte('[')
		rest := class
		if strings.HasPrefix(rest, "^") {
			b.WriteByte('^')
			rest = rest[1:]
		}
		if rest == "" {
			rest = "a"
		}
		for _, r := range rest {
			fmt.Fprintf(&b, `\x{%x}`, r)
		}
		b.WriteByte(']')
		c = b.String()
	}
	quant := "+"
	if mode&8 != 0 {
		quant = "*"
	}
	p := regexp.QuoteMeta(pre) + "(?P<push_id>" + c + quant + ")" + regexp.QuoteMeta(suf)
	if mode&16 != 0 {
		appQuant := "+"
		if mode&32 != 0 {
			appQuant = "*"
		}
		appClass := `\w`
		if mode&64 != 0 {
			appClass = c
		}
		p += "(?:" + regexp.QuoteMeta(appLit) + "(?P<app>" + appClass + appQuant + "))?"
	}
	return p
}

// FuzzFastRegexAnyPattern: whatever pattern newFastRegex accepts, it
// matches as regexp does.
func FuzzFastRegexAnyPattern(f *testing.F) {
	for _, p := range []string{
		`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?`,
		`"PushID":"(?P<push_id>[^"]+)"`,
		`(?i)id=(?P<push_id>\S+)`,
		`id=(?P<push_id>[a-z\x{e9}]+)`,
		`x(?P<push_id>\w+)(?P<app>\w*)?`,
		`id=(?P<push_id>.*)`,
		`a(?P<push_id>a+)a`,
		`id=(?P<push_id>(?:a|b)+)`,
	} {
		f.Add(p, []byte("x msg_id=abc app=x \"PushID\":\"p\" ID=\xff id=a\u00e9 xab aaaa"))
	}
	f.Fuzz(func(t *testing.T, pattern string, line []byte) {
		re, err := regexp.Compile(pattern)
		if err != nil || re.SubexpIndex("push_id") < 0 {
			return
		}
		if fr := newFastRegex(re); fr != nil {
			sameAsRegexp(t, re, fr, line)
		}
	})
}
