package source

import (
	"bytes"
	"errors"
)

// The webhook bodies are read with the small scanner below instead of
// encoding/json, whose decoding was 10 % of the webhook's CPU: a body is
// read once, its syntax checked exactly as json.Valid checks it, and only
// the members a handler names are looked at. Their values are handed out as
// the raw bytes of the text, to be decoded by the one field that wants them.
//
// Members are matched the way encoding/json matches struct fields: exactly,
// or else case-insensitively under Unicode simple folding; the last of
// duplicate members wins. Strings differ from encoding/json on purpose in one
// point: it replaces invalid UTF-8 and unpaired surrogate escapes by U+FFFD,
// which would make two different PushIDs one. wjUnquote keeps them as sent
// and says so, and the handlers reject or skip such IDs.

// errWJSyntax is every syntax error: replies never say more about a body.
var errWJSyntax = errors.New("invalid JSON")

// wjMaxDepth is encoding/json's nesting limit: deeper texts are invalid.
const wjMaxDepth = 10000

// wjKind is the kind of a JSON value.
type wjKind uint8

const (
	wjAbsent wjKind = iota // no such member
	wjObject
	wjArray
	wjString
	wjNumber
	wjTrue
	wjFalse
	wjNull
)

// wjScanner reads JSON text from data, at pos.
type wjScanner struct {
	data  []byte
	pos   int
	depth int // containers entered through object and array
}

// wjMember is called with each member of an object: its key as written
// (quotes included), the kind of its value and the value's bytes.
type wjMember func(key []byte, kind wjKind, val []byte) error

// wjWalkObject checks that data is one JSON object (or null, which has no
// members) and calls fn with each member. Any other text is errWJSyntax.
func wjWalkObject(data []byte, fn wjMember) error {
	s := wjScanner{data: data}
	s.space()
	var err error
	if bytes.HasPrefix(data[s.pos:], []byte("null")) {
		s.pos += 4
	} else {
		err = s.object(fn)
	}
	if err != nil {
		return err
	}
	if s.space(); s.pos != len(data) {
		return errWJSyntax
	}
	return nil
}

// wjWalkArray calls fn with each element of val, an array that was already
// checked (by value).
func wjWalkArray(val []byte, fn func(kind wjKind, val []byte) error) error {
	s := wjScanner{data: val}
	return s.array(fn)
}

// wjWalkMembers calls fn with each member of val, an object that was
// already checked (by value).
func wjWalkMembers(val []byte, fn wjMember) error {
	s := wjScanner{data: val}
	return s.object(fn)
}

func (s *wjScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next skips space and reports whether the next byte is c, consuming it if so.
func (s *wjScanner) next(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// object reads the object at pos, calling fn (if not nil) for each member.
func (s *wjScanner) object(fn wjMember) error {
	if !s.next('{') {
		return errWJSyntax
	}
	if s.depth++; s.depth > wjMaxDepth {
		return errWJSyntax
	}
	if s.next('}') {
		s.depth--
		return nil
	}
	for {
		s.space()
		start := s.pos
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return errWJSyntax
		}
		if err := s.skipString(); err != nil {
			return err
		}
		key := s.data[start:s.pos]
		if !s.next(':') {
			return errWJSyntax
		}
		kind, val, err := s.value()
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(key, kind, val); err != nil {
				return err
			}
		}
		if s.next(',') {
			continue
		}
		if s.next('}') {
			s.depth--
			return nil
		}
		return errWJSyntax
	}
}

// array reads the array at pos, calling fn (if not nil) for each element.
func (s *wjScanner) array(fn func(kind wjKind, val []byte) error) error {
	if !s.next('[') {
		return errWJSyntax
	}
	if s.depth++; s.depth > wjMaxDepth {
		return errWJSyntax
	}
	if s.next(']') {
		s.depth--
		return nil
	}
	for {
		kind, val, err := s.value()
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(kind, val); err != nil {
				return err
			}
		}
		if s.next(',') {
			continue
		}
		if s.next(']') {
			s.depth--
			return nil
		}
		return errWJSyntax
	}
}

// value checks and skips the value at pos (after any space).
func (s *wjScanner) value() (wjKind, []byte, error) {
	s.space()
	if s.pos >= len(s.data) {
		return wjAbsent, nil, errWJSyntax
	}
	start := s.pos
	var kind wjKind
	var err error
	switch c := s.data[s.pos]; {
	case c == '"':
		kind, err = wjString, s.skipString()
	case c == '{':
		kind, err = wjObject, s.skipNested()
	case c == '[':
		kind, err = wjArray, s.skipNested()
	case c == '-' || '0' <= c && c <= '9':
		kind, err = wjNumber, s.skipNumber()
	case c == 't':
		kind, err = wjTrue, s.literal("true")
	case c == 'f':
		kind, err = wjFalse, s.literal("false")
	case c == 'n':
		kind, err = wjNull, s.literal("null")
	default:
		err = errWJSyntax
	}
	if err != nil {
		return wjAbsent, nil, err
	}
	return kind, s.data[start:s.pos], nil
}

func (s *wjScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return errWJSyntax
	}
	s.pos += len(lit)
	return nil
}

// skipNested checks and skips the object or array at pos without
// recursion: a hostile body may nest ten thousand deep.
func (s *wjScanner) skipNested() error {
	var small [64]byte
	open := small[:0] // the brackets of the containers we are inside
	for {
		// One value at pos: a container opens (and is entered unless it is
		// empty), or a scalar is skipped.
		s.space()
		if s.pos < len(s.data) && (s.data[s.pos] == '{' || s.data[s.pos] == '[') {
			if s.depth+len(open) >= wjMaxDepth {
				return errWJSyntax
			}
			c := s.data[s.pos]
			s.pos++
			if !s.next(c + 2) { // '{'+2 is '}', '['+2 is ']'
				open = append(open, c)
				if c == '{' {
					if err := s.key(); err != nil {
						return err
					}
				}
				continue
			}
		} else if err := s.scalar(); err != nil {
			return err
		}
		// The value is complete: close containers until one goes on.
		for {
			if len(open) == 0 {
				return nil
			}
			top := open[len(open)-1]
			if s.next(',') {
				if top == '{' {
					if err := s.key(); err != nil {
						return err
					}
				}
				break
			}
			if !s.next(top + 2) {
				return errWJSyntax
			}
			open = open[:len(open)-1]
		}
	}
}

// key reads `"name":` inside an object.
func (s *wjScanner) key() error {
	s.space()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return errWJSyntax
	}
	if err := s.skipString(); err != nil {
		return err
	}
	if !s.next(':') {
		return errWJSyntax
	}
	return nil
}

// scalar skips a string, number or literal at pos.
func (s *wjScanner) scalar() error {
	if s.pos >= len(s.data) {
		return errWJSyntax
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		return s.skipString()
	case c == '-' || '0' <= c && c <= '9':
		return s.skipNumber()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errWJSyntax
}

// skipString skips the string at pos: no control characters, only JSON's
// escapes. Bytes that are not UTF-8 are allowed, as in encoding/json.
func (s *wjScanner) skipString() error {
	d := s.data
	for i := s.pos + 1; i < len(d); {
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c < 0x20:
			return errWJSyntax
		case c != '\\':
			i++
		case i+1 >= len(d):
			return errWJSyntax
		case d[i+1] == 'u':
			if i+6 > len(d) || wjHex4(d[i+2:i+6]) < 0 {
				return errWJSyntax
			}
			i += 6
		default:
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			default:
				return errWJSyntax
			}
		}
	}
	return errWJSyntax
}

// skipNumber skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at pos.
func (s *wjScanner) skipNumber() error {
	d, i := s.data, s.pos
	digits := func() bool {
		start := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return errWJSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return errWJSyntax
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return errWJSyntax
		}
	}
	s.pos = i
	return nil
}
