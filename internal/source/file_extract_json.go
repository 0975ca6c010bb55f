package source

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// The functions below walk JSON text that json.Valid accepted, so they
// check nothing: every string is closed, every bracket matched.

// member returns the value of the member named key of the JSON object obj,
// or false when obj is not an object or has no such member. Like decoding
// into a map, keys are compared exactly after unescaping and the last of
// duplicate keys wins.
func member(obj []byte, key string) ([]byte, bool) {
	if obj[0] != '{' {
		return nil, false
	}
	var val []byte
	found := false
	i := skipSpace(obj, 1)
	for obj[i] != '}' {
		end := stringEnd(obj, i)
		k := obj[i:end]
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		vEnd := valueEnd(obj, i)
		if keyIs(k, key) {
			val, found = obj[i:vEnd], true
		}
		i = skipSpace(obj, vEnd)
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return val, found
}

// keyIs reports whether the JSON string k (quotes included) decodes to key.
func keyIs(k []byte, key string) bool {
	inner := k[1 : len(k)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner) == key
	}
	// Escapes, or invalid UTF-8 that decoding replaces by U+FFFD.
	var s string
	return json.Unmarshal(k, &s) == nil && s == key
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte cannot end the string
		case '"':
			return i + 1
		}
	}
}

// valueEnd returns the index after the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number, true, false or null: up to the next delimiter
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
		}
		return i
	}
}
