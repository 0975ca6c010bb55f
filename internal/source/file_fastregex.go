package source

// Most PushID regexes are a literal, then the ID as a run of one character
// class, sometimes a literal after it and an optional app:
//
//	msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?
//	"PushID":"(?P<push_id>[^"]+)"
//
// For those, bytes.Index on the literal and a scan of a 256-entry byte
// table do what the regexp engine does at a fraction of its cost (its
// general machinery was most of a regex log's ingest CPU). fastRegex is
// built only when the parsed regex has exactly that shape and the byte
// scan gives the engine's leftmost-first match on every input, valid UTF-8
// or not; everything else goes to regexp. FuzzFastRegex holds the two to
// the same results.

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Byte table values: 0 is not in the class; the others say what a byte of
// the class means for pushid.ValidBytes, so that a run of plain printable
// ASCII needs no second look.
const (
	inIDByte   = 1 << iota // printable ASCII: valid in a PushID
	inBadByte              // ASCII space, control or DEL: never valid
	inHighByte             // ≥ 0x80: valid only as part of valid UTF-8
)

type byteClass [256]uint8

// fastRegex is `prefix (?P<push_id>C*|C+) suffix (?:appLit (?P<app>A*|A+))?`.
type fastRegex struct {
	prefix, suffix []byte
	id             byteClass
	idMin          int // 0 for *, 1 for +
	hasApp         bool
	appLit         []byte
	app            byteClass
	appMin         int
}

// newFastRegex returns the fast matcher for re, or nil if re is not of the
// shape above (then the caller uses re). re must be compiled by
// regexp.Compile (leftmost-first, the only kind the config makes):
// leftmost-longest can give the optional app group a shorter ID.
func newFastRegex(re *regexp.Regexp) *fastRegex {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil || t.Op != syntax.OpConcat {
		return nil
	}
	subs := t.Sub
	f := &fastRegex{}
	var ok bool
	// A non-empty literal first: without one every position may start a
	// match, and the byte scan would have to retry inside runs.
	if len(subs) < 2 {
		return nil
	}
	if f.prefix, ok = literalBytes(subs[0]); !ok {
		return nil
	}
	if f.id, f.idMin, ok = capturedRun(subs[1], "push_id"); !ok {
		return nil
	}
	subs = subs[2:]
	if len(subs) > 0 && subs[0].Op == syntax.OpLiteral {
		if f.suffix, ok = literalBytes(subs[0]); !ok {
			return nil
		}
		subs = subs[1:]
	}
	if len(subs) > 0 {
		if !f.optionalApp(subs[0]) {
			return nil
		}
		subs = subs[1:]
	}
	if len(subs) > 0 {
		return nil
	}
	return f
}

// optionalApp recognises `(?:lit(?P<app>A+))?` or `(?P<app>A*)?`, greedy.
func (f *fastRegex) optionalApp(t *syntax.Regexp) bool {
	if t.Op != syntax.OpQuest || t.Flags&syntax.NonGreedy != 0 {
		return false
	}
	g := t.Sub[0]
	if g.Op == syntax.OpConcat {
		if len(g.Sub) != 2 {
			return false
		}
		lit, ok := literalBytes(g.Sub[0])
		if !ok {
			return false
		}
		f.appLit, g = lit, g.Sub[1]
	}
	var ok bool
	f.app, f.appMin, ok = capturedRun(g, "app")
	f.hasApp = ok
	return ok
}

// literalBytes returns the UTF-8 of a case-sensitive literal. A literal
// holding U+FFFD is refused: the engine matches it against any invalid
// byte, which bytes.Index does not.
func literalBytes(t *syntax.Regexp) ([]byte, bool) {
	if t.Op != syntax.OpLiteral || t.Flags&syntax.FoldCase != 0 || len(t.Rune) == 0 {
		return nil, false
	}
	var b []byte
	for _, r := range t.Rune {
		if r == utf8.RuneError || !utf8.ValidRune(r) {
			return nil, false
		}
		b = utf8.AppendRune(b, r)
	}
	return b, true
}

// capturedRun recognises `(?P<name>X+)` or `(?P<name>X*)`, greedy, where X
// is one character class that a byte table can decide (see classTable).
func capturedRun(t *syntax.Regexp, name string) (byteClass, int, bool) {
	if t.Op != syntax.OpCapture || t.Name != name {
		return byteClass{}, 0, false
	}
	rep := t.Sub[0]
	min := 0
	switch {
	case rep.Flags&syntax.NonGreedy != 0:
		return byteClass{}, 0, false
	case rep.Op == syntax.OpPlus:
		min = 1
	case rep.Op == syntax.OpStar:
	default:
		return byteClass{}, 0, false
	}
	c := rep.Sub[0]
	var ranges []rune
	switch c.Op {
	case syntax.OpCharClass:
		ranges = c.Rune
	case syntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		ranges = []rune{0, utf8.MaxRune}
	case syntax.OpLiteral:
		if len(c.Rune) != 1 || c.Flags&syntax.FoldCase != 0 {
			return byteClass{}, 0, false
		}
		ranges = []rune{c.Rune[0], c.Rune[0]}
	default:
		return byteClass{}, 0, false
	}
	tbl, ok := classTable(ranges)
	return tbl, min, ok
}

// classTable turns rune ranges into a byte table. The engine decodes the
// input rune by rune, an invalid byte as U+FFFD of width 1; bytes decide
// alone only if the class holds either no rune ≥ 0x80 (then every byte
// ≥ 0x80 ends a run) or all of them, U+FFFD included (then every such
// byte continues it, and a run never ends inside a rune).
func classTable(ranges []rune) (byteClass, bool) {
	var tbl byteClass
	high := rune(0x80) // the next rune ≥ 0x80 not yet covered
	highSeen := false
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			switch {
			case r <= ' ' || r == 0x7f:
				tbl[r] = inBadByte
			default:
				tbl[r] = inIDByte
			}
		}
		if hi < utf8.RuneSelf {
			continue
		}
		lo = max(lo, utf8.RuneSelf)
		if lo != high { // a gap above 0x80
			return tbl, false
		}
		high, highSeen = hi+1, true
	}
	switch {
	case !highSeen:
		return tbl, true
	case high <= utf8.MaxRune:
		return tbl, false
	}
	for b := utf8.RuneSelf; b < 256; b++ {
		tbl[b] = inHighByte
	}
	return tbl, true
}

// run returns the end of the longest run of class bytes from i, and the
// union of their table values.
func (c *byteClass) run(b []byte, i int) (int, uint8) {
	var seen uint8
	for ; i < len(b); i++ {
		v := c[b[i]]
		if v == 0 {
			break
		}
		seen |= v
	}
	return i, seen
}

// find returns what regexp's FindSubmatchIndex gives for the groups
// push_id and app: the ID's bounds, the app's (−1 when the optional group
// did not match) and the table values of the ID's run; ok is false when
// nothing matches.
func (f *fastRegex) find(line []byte) (idStart, idEnd, appStart, appEnd int, seen uint8, ok bool) {
	from := 0
	for {
		i := bytes.Index(line[from:], f.prefix)
		if i < 0 {
			return 0, 0, -1, -1, 0, false
		}
		s := from + i + len(f.prefix)
		runEnd, v := f.id.run(line, s)
		if end := f.backtrack(line, s, runEnd); end >= 0 {
			appStart, appEnd = f.findApp(line, end+len(f.suffix))
			return s, end, appStart, appEnd, v, true
		}
		// No match here. A later occurrence of the prefix whose run starts
		// inside this run ends where this run ends, and the ends it could
		// use were all tried: skip those, which keeps a line linear.
		from = max(from+i+1, runEnd-len(f.prefix)+1)
	}
}

// backtrack returns the end of the ID when its run is s:runEnd: the
// greedy repetition gives back bytes until the suffix follows; −1 if it
// never does within the minimum.
func (f *fastRegex) backtrack(line []byte, s, runEnd int) int {
	if len(f.suffix) == 0 {
		if runEnd-s >= f.idMin {
			return runEnd
		}
		return -1
	}
	for e := runEnd; e >= s+f.idMin; e-- {
		if bytes.HasPrefix(line[e:], f.suffix) {
			return e
		}
		if f.id[f.suffix[0]] == 0 {
			break // the suffix cannot start inside the run
		}
	}
	return -1
}

// findApp matches the optional trailing group at p: greedy, it is taken
// whenever it matches, and nothing follows it.
func (f *fastRegex) findApp(line []byte, p int) (int, int) {
	if !f.hasApp || !bytes.HasPrefix(line[p:], f.appLit) {
		return -1, -1
	}
	s := p + len(f.appLit)
	e, _ := f.app.run(line, s)
	if e-s < f.appMin {
		return -1, -1
	}
	return s, e
}

// extract is regexExtractor.extract on the fast path. A run of printable
// ASCII only needs its length checked; pushid.ValidBytes runs only when
// the class let in other bytes.
func (f *fastRegex) extract(line []byte) ([]byte, []byte, string) {
	s, e, as, ae, seen, ok := f.find(line)
	if !ok {
		return nil, nil, ReasonNoID
	}
	id := line[s:e]
	if len(id) == 0 || len(id) > pushid.MaxLen || (seen&^inIDByte != 0 && !pushid.ValidBytes(id)) {
		return nil, nil, ReasonInvalidID
	}
	var app []byte
	if as >= 0 {
		app = line[as:ae]
	}
	return id, app, ""
}
