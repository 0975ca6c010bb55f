package promeval

import (
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// lookback is how far before its evaluation time expr reads samples:
// a range selector its range, an instant selector the lookback delta (the
// newest sample in the last 5 minutes), each plus its offset, and a
// subquery its range on top of what its inner expression reads.
//
// New refuses a retention shorter than what the rules read, since the
// head would silently have dropped samples a real Prometheus still has.
// Ranges given as duration expressions (an experimental feature that is
// off here) count as zero.
func lookback(expr parser.Node, delta time.Duration) time.Duration {
	switch n := expr.(type) {
	case *parser.VectorSelector:
		return n.OriginalOffset + delta
	case *parser.MatrixSelector:
		vs, ok := n.VectorSelector.(*parser.VectorSelector)
		if !ok {
			return n.Range
		}
		return vs.OriginalOffset + n.Range
	case *parser.SubqueryExpr:
		return n.OriginalOffset + n.Range + lookback(n.Expr, delta)
	}
	var longest time.Duration
	for _, child := range parser.Children(expr) {
		longest = max(longest, lookback(child, delta))
	}
	return longest
}
