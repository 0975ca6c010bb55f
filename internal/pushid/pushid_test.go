package pushid

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name, id string
		ok       bool
	}{
		{"message id", "144115233406643804-1727580296-4026038328", true},
		{"push id", "67120c46_6a4086c0_9bf5fb50_200002d1089b322_2000005d8d46421", true},
		{"max length", strings.Repeat("a", MaxLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxLen+1), false},
		{"space", "a b", false},
		{"newline", "a\nb", false},
		{"NUL", "a\x00b", false},
		{"DEL", "a\x7fb", false},
		{"invalid UTF-8", "a\xffb", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.id)
			if Valid(tt.id) != tt.ok {
				t.Fatalf("Valid(%q) = %v, want %v", tt.id, !tt.ok, tt.ok)
			}
			if ValidBytes([]byte(tt.id)) != tt.ok {
				t.Fatalf("ValidBytes(%q) = %v, want %v", tt.id, !tt.ok, tt.ok)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// HashValid gives what ValidBytes and HashBytes give.
func FuzzHashValid(f *testing.F) {
	for _, s := range []string{"144115233406643804-1727580296-4026038328", "", "a b", "a\x7f", "caf\u00e9", "a\xffb", "\xe4\xb8", strings.Repeat("x", MaxLen), strings.Repeat("x", MaxLen+1)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := HashValid(b)
		if ok != ValidBytes(b) || (ok && h != HashBytes(b)) || (!ok && h != 0) {
			t.Fatalf("HashValid(%q) = %x, %v; ValidBytes %v, HashBytes %x", b, h, ok, ValidBytes(b), HashBytes(b))
		}
	})
}
