package source

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoding the values and keys that wjScanner hands out as raw bytes.

// wjHex4 is the value of four hex digits, or -1.
func wjHex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// wjUnquote decodes the JSON string s (quotes included, already checked)
// and reports whether it is valid UTF-8. Without escapes it returns s's own
// bytes; with escapes it appends to buf. Invalid UTF-8 is kept as sent, and
// an unpaired surrogate escape is written in its three-byte form (not
// UTF-8), so that different strings never decode to the same bytes.
func wjUnquote(s, buf []byte) ([]byte, bool) {
	s = s[1 : len(s)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, utf8.Valid(s)
	}
	ok := true
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			ok = ok && utf8.Valid(s[i:j])
			buf = append(buf, s[i:j]...)
			i = j
			continue
		}
		c := s[i+1]
		if c != 'u' {
			buf = append(buf, wjEscapes[c])
			i += 2
			continue
		}
		r := wjHex4(s[i+2:])
		i += 6
		if !utf16.IsSurrogate(r) {
			buf = utf8.AppendRune(buf, r)
			continue
		}
		if r < 0xdc00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
			if r2 := wjHex4(s[i+2:]); 0xdc00 <= r2 && r2 < 0xe000 {
				buf = utf8.AppendRune(buf, utf16.DecodeRune(r, r2))
				i += 6
				continue
			}
		}
		buf = append(buf, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
		ok = false
	}
	return buf, ok
}

// wjEscapes maps the letter after a backslash to the byte it stands for.
var wjEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// wjFold is a member name as encoding/json folds it for matching: ASCII
// upper case. Names passed to wjKeyIs must be ASCII.
func wjFold(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// wjKeyIs reports whether the key as written (quotes included) matches the
// member whose folded name (wjFold) is folded, as encoding/json would match
// it to a struct field of that name.
func wjKeyIs(key []byte, folded string) bool {
	inner := key[1 : len(key)-1]
	plain := true // ASCII without escapes: the common case
	for _, c := range inner {
		if c >= utf8.RuneSelf || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		if len(inner) != len(folded) {
			return false
		}
		for i, c := range inner {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c != folded[i] {
				return false
			}
		}
		return true
	}
	var small [64]byte
	dec, _ := wjUnquote(key, small[:0])
	j := 0
	for i := 0; i < len(dec); j++ {
		r, n := rune(dec[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(dec[i:])
			r = wjFoldRune(r)
		} else if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		if j >= len(folded) || r != rune(folded[j]) {
			return false
		}
		i += n
	}
	return j == len(folded)
}

// wjFoldRune is the smallest rune of r's simple fold orbit, as encoding/json
// folds non-ASCII runes of a key (the Kelvin sign matches k, ſ matches s).
func wjFoldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// wjNumberText is the text of a lenient number: a JSON number, or a string
// holding exactly one (spaces around it allowed).
func wjNumberText(kind wjKind, val []byte) ([]byte, bool) {
	switch kind {
	case wjNumber:
		return val, true
	case wjString:
		s, valid := wjUnquote(val, nil)
		if !valid {
			return nil, false
		}
		s = bytes.Trim(s, " \t\r\n")
		sc := wjScanner{data: s}
		if len(s) == 0 || sc.skipNumber() != nil || sc.pos != len(s) {
			return nil, false
		}
		return s, true
	}
	return nil, false
}

// wjExactInt is the value of a JSON number's text when it is an integer
// that an int64 holds exactly: 7, -7, 7.0, 7e2, 700e-2 and 0.7e1, but not
// 7.5 or 1e19. It works on the digits, not through a float, so no rounding
// makes 9007199254740993.0 exact.
func wjExactInt(text []byte) (int64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	i := 0
	for i < len(text) && '0' <= text[i] && text[i] <= '9' {
		i++
	}
	intPart, rest := text[:i], text[i:]
	var frac []byte
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && '0' <= rest[j] && rest[j] <= '9' {
			j++
		}
		frac, rest = rest[1:j], rest[j:]
	}
	exp := 0
	if len(rest) > 0 { // e or E, an optional sign, digits
		sign, digits := 1, rest[1:]
		if digits[0] == '+' || digits[0] == '-' {
			if digits[0] == '-' {
				sign = -1
			}
			digits = digits[1:]
		}
		for _, c := range digits {
			if exp < 1e6 { // beyond that the answer no longer changes
				exp = exp*10 + int(c-'0')
			}
		}
		exp *= sign
	}
	// The value is the digits of intPart and frac, times 10^(exp-len(frac)).
	// Trailing zeros move into the exponent, leading ones go.
	frac = bytes.TrimRight(frac, "0")
	if len(frac) == 0 {
		trimmed := bytes.TrimRight(intPart, "0")
		exp += len(intPart) - len(trimmed)
		intPart = trimmed
	}
	exp -= len(frac)
	intPart = bytes.TrimLeft(intPart, "0")
	if len(intPart) == 0 {
		frac = bytes.TrimLeft(frac, "0")
	}
	if len(intPart)+len(frac) == 0 {
		return 0, true // zero, however written
	}
	if exp < 0 || len(intPart)+len(frac)+exp > 19 {
		return 0, false // a fraction, or more than 19 digits
	}
	var v uint64
	for _, part := range [2][]byte{intPart, frac} {
		for _, c := range part {
			v = v*10 + uint64(c-'0')
		}
	}
	for range exp {
		v *= 10
	}
	// 19 digits cannot overflow a uint64 (< 1e19 < 2^64).
	switch {
	case neg && v <= 1<<63:
		return int64(-v), true //nolint:gosec // -(1<<63) wraps to MinInt64 as intended
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}
