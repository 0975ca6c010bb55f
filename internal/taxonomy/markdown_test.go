package taxonomy

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// TestPrintTable prints the built-in table as Markdown for README:
//
//	TAXONOMY_PRINT=1 go test ./internal/taxonomy -run TestPrintTable -v
func TestPrintTable(t *testing.T) {
	var b strings.Builder
	writeMarkdown(&b, Default())
	out := b.String()
	for _, want := range []string{"| apns | `410` | any | token_invalid |", "[apns]: https://developer.apple.com/"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if os.Getenv("TAXONOMY_PRINT") != "" {
		fmt.Print(out)
	}
}

// writeMarkdown writes one line per rule in the order they are tried, then
// the link definitions of the sources.
func writeMarkdown(w io.Writer, tab *Table) {
	fmt.Fprintln(w, "| platform | code / text pattern | stage | reason | source |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	var used []*source
	for _, rules := range [][]rule{tab.exact, tab.vendor, tab.generic} {
		for _, r := range rules {
			platform, stage := r.platform, "any"
			if platform == "" {
				platform = "any"
			}
			if r.stages != nil {
				stage = strings.Join(r.stages, ", ")
			}
			src := r.note
			if r.src.url != "" {
				src += " ([" + r.src.key + "])"
			} else {
				src += " (" + r.src.title + ")"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", platform, cell(r.describe()), stage, r.reason, cell(src))
			if !containsSource(used, r.src) {
				used = append(used, r.src)
			}
		}
	}
	fmt.Fprintln(w)
	for _, s := range used {
		if s.url != "" {
			fmt.Fprintf(w, "[%s]: %s %q\n", s.key, s.url, s.title)
		}
	}
}

func containsSource(list []*source, s *source) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cell escapes the pipes of a regexp for a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
