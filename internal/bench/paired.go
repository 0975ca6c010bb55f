package main

import (
	"fmt"
	"slices"
)

// Ratios between runs that did not run at the same time swing with the
// host: on this machine unpaired medians of the same ingest ratio went
// from 0.82 to 1.05 between runs. So every ratio printed is paired: each
// round runs the measured thing and each of its baselines back to back,
// in an order that rotates from round to round (so none always runs
// first, on a cooler or hotter machine), and the ratio is taken within the
// round. The table gives the median of the per-round ratios and their
// spread (min–max).

// contender is one program a paired measurement runs every round; run
// returns its throughput (higher is better, e.g. lines per CPU-second).
type contender struct {
	name string
	run  func(round int) (float64, error)
}

// pairedResult holds every round's figures, by contender name.
type pairedResult struct {
	rounds int
	values map[string][]float64
}

// runPaired runs subject and the baselines rounds times, interleaved.
func runPaired(rounds int, subject contender, baselines ...contender) (*pairedResult, error) {
	all := append([]contender{subject}, baselines...)
	res := &pairedResult{rounds: rounds, values: make(map[string][]float64)}
	for r := range rounds {
		for i := range all {
			c := all[(i+r)%len(all)]
			v, err := c.run(r)
			if err != nil {
				return res, fmt.Errorf("%s, round %d: %w", c.name, r+1, err)
			}
			res.values[c.name] = append(res.values[c.name], v)
		}
	}
	return res, nil
}

// ratios returns subject ÷ baseline of each round.
func (p *pairedResult) ratios(subject, baseline string) []float64 {
	s, b := p.values[subject], p.values[baseline]
	out := make([]float64, 0, len(s))
	for i := range min(len(s), len(b)) {
		out = append(out, s[i]/b[i])
	}
	return out
}

// median of the named contender's rounds.
func (p *pairedResult) median(name string) float64 {
	return median(slices.Clone(p.values[name]))
}

// spread is a paired ratio as printed: "1.62× (1.55–1.70, 5 rounds)".
type spread struct{ med, lo, hi float64 }

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	return spread{med: median(slices.Clone(xs)), lo: slices.Min(xs), hi: slices.Max(xs)}
}

func (s spread) String() string {
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", s.med, s.lo, s.hi)
}
