package collector

import (
	"fmt"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// BenchmarkOffer is the collector's share of a log's ingest: batches of
// 1,000 new IDs at sample_ratio 0.001, as a file source offers them.
func BenchmarkOffer(b *testing.B) {
	c := New(Options{}, nil)
	c.SetApps([]App{{Name: "a", SampleRatio: 0.001, QueryDelay: time.Hour, MaxPending: 100_000}})
	batches := make([][]pushid.ID, 100)
	for i := range batches {
		batches[i] = make([]pushid.ID, 1000)
		for j := range batches[i] {
			batches[i][j] = pushid.ID{App: "a", PushID: fmt.Sprintf("144115233406643804-1764036001-%010d", i*1000+j), Source: pushid.SourceFile, Seen: t0}
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		offer(c, batches[i%len(batches)], nil)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/ID")
}
