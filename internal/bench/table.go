package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// row is one line of the result table.
type row struct {
	bench  string // what was measured, e.g. "ingest regex, 1 core"
	figure string // the measured figure(s)
	target string // the target, "" when it sets none
	met    string // yes, no, "" (no target), pending (auto sampling not available yet), error
}

// verdict turns a comparison into the met? column.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// printTable writes rows as a Markdown table, so that it can be pasted
// into BENCHMARKS.md as printed.
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| benchmark | figure | target | met? |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		target, met := r.target, r.met
		if target == "" {
			target = "–"
		}
		if met == "" {
			met = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", esc(r.bench), esc(r.figure), esc(target), esc(met))
	}
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Formatting helpers shared by the benchmarks.

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// mb prints bytes in megabytes (10^6), the unit of the RSS target.
func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/1e6) }

// si prints n with a thousands separator, e.g. 1,234,567.
func si(n float64) string {
	s := fmt.Sprintf("%.0f", math.Round(n))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// percentile returns the p-th percentile (0..100) of ds by the nearest-rank
// method; ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// median of xs (sorted in place).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
