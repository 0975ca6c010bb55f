// Package pushid defines the one value that flows from the sources into the
// collector: a PushID with the app it belongs to, where it came from and when
// it was seen.
package pushid

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxLen is the longest PushID accepted (bytes). Tencent's IDs are under 100.
const MaxLen = 128

// Sources used in the `source` label of timpush_exporter_pushids_received_total.
const (
	SourceFile    = "file"
	SourceWebhook = "webhook"
	SourceDemo    = "demo"
)

// ID is one PushID observed by a source.
type ID struct {
	App    string    // configured app name
	PushID string    // Tencent's PushID / MsgID
	Source string    // SourceFile, SourceWebhook, SourceDemo
	Seen   time.Time // when the source saw it
}

// ErrInvalid is wrapped by Validate's errors.
var ErrInvalid = errors.New("invalid PushID")

// Valid reports whether Validate would accept s, without building an
// error: sources check every line of a log with it.
func Valid(s string) bool { return validBytes(s) && utf8.ValidString(s) }

// ValidBytes is Valid for an ID still in a line's bytes: a file source
// checks it before making it a string.
func ValidBytes(b []byte) bool { return validBytes(b) && utf8.Valid(b) }

// validBytes checks the length and that no byte is a control character or
// a space (multi-byte characters are left to the UTF-8 check).
func validBytes[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Validate reports whether s can be used as a PushID: non-empty, at most
// MaxLen bytes, valid UTF-8 and free of control characters and spaces.
func Validate(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalid)
	case len(s) > MaxLen:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalid, len(s), MaxLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: contains a control character or space", ErrInvalid)
		}
	}
	return nil
}
