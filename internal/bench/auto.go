package main

import "github.com/timpush/timpush_exporter/collector"

// Rows marked "sample_ratio auto" run the app with the collector's adaptive
// sampling (collector.App.AutoSample, being tuned while these benchmarks
// were written). To refresh only those rows after a change to it:
//
//	go run ./internal/bench -sample auto                  # every auto row
//	go run ./internal/bench -sample auto -only fidelity   # one benchmark's

// applyAuto switches a to sample_ratio: auto. It is the one place that
// knows how the collector spells that.
func applyAuto(a *collector.App) {
	a.AutoSample = true
	a.SampleRatio = 0
}
