package ledger

import (
	"slices"
	"strings"
	"time"

	"github.com/timpush/timpush_exporter/internal/exposition"
)

// metricID names one of the counters the collector persists. Their values
// survive restarts, so /metrics never shows a counter going down.
type metricID uint8

const (
	mStage metricID = iota + 1
	mFailures
	mLatency
	mInstances
	mNotificationDisabled
	mUnreported
	mReceived
	mSampled
	mDropped
	mDuplicates
	mCallbackEvents
	mCallbackFailures
)

// seriesKey identifies one series. Unused labels are empty; which labels a
// metric has is fixed by its descriptor (see metrics.go).
type seriesKey struct {
	metric   metricID
	app      string
	platform string
	stage    string // a trace stage name, or a callback event's PushStage number
	extra    string // error_code, source or reason
	reason   string // the failures' reason
}

// latencyBuckets span 0.1 s to one day: vendors report device arrival from
// sub-second to many hours later (devices that were offline).
var latencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400}

type histogram struct {
	count   uint64
	sum     float64
	buckets []uint64 // cumulative counts per latencyBuckets upper bound
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	for i, ub := range latencyBuckets {
		if v <= ub {
			h.buckets[i]++
		}
	}
}

type exemplar struct {
	pushID string
	at     time.Time
}

// series holds every persisted counter and histogram. It is owned by the
// collector and guarded by its mutex; dirty names what changed since the
// last checkpoint.
type series struct {
	counters   map[seriesKey]float64
	histograms map[seriesKey]*histogram
	exemplars  map[seriesKey]exemplar
	dirty      map[seriesKey]struct{}
}

func newSeries() *series {
	return &series{
		counters:   map[seriesKey]float64{},
		histograms: map[seriesKey]*histogram{},
		exemplars:  map[seriesKey]exemplar{},
		dirty:      map[seriesKey]struct{}{},
	}
}

func (s *series) add(k seriesKey, v float64) {
	s.counters[k] += v
	s.dirty[k] = struct{}{}
}

func (s *series) observe(k seriesKey, v float64) {
	h := s.histograms[k]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(latencyBuckets))}
		s.histograms[k] = h
	}
	h.observe(v)
	s.dirty[k] = struct{}{}
}

// Snapshot is what /metrics serves: every persisted series as a checkpoint
// saved it, rendered. It is immutable; each checkpoint publishes a new one
// that shares every series the checkpoint did not change.
type Snapshot struct {
	at       time.Time            // when it was saved
	families []*exposition.Family // as emptyFamilies, with series
}

// At is when the snapshot was saved; zero before the first checkpoint.
func (s *Snapshot) At() time.Time { return s.at }

// Families are the saved series, rendered, sorted by name
// (exposition.Source).
func (s *Snapshot) Families() []*exposition.Family { return s.families }

// emptyFamilies are the persisted metrics' families without series, sorted
// by name: the order they are served in.
var emptyFamilies = func() []*exposition.Family {
	var fams []*exposition.Family
	for _, d := range savedDescs {
		fams = append(fams, exposition.NewFamily(d))
	}
	slices.SortFunc(fams, func(a, b *exposition.Family) int { return strings.Compare(a.Name(), b.Name()) })
	return fams
}()

// familyIndex is the position of a metric's family in emptyFamilies, and
// so in every snapshot.
var familyIndex = func() map[metricID]int {
	index := map[metricID]int{}
	for id, d := range savedDescs {
		index[id] = slices.IndexFunc(emptyFamilies, func(f *exposition.Family) bool { return f.Name() == d.Name })
	}
	return index
}()

func (s *Snapshot) family(id metricID) *exposition.Family { return s.families[familyIndex[id]] }

// savedValue is the value of one series as a checkpoint wrote it, with the
// exemplar it is served with.
type savedValue struct {
	counter  float64
	hist     *histogram // a copy; nil for a counter
	exemplar exemplar   // zero for none
}

// snapshotAll renders every series of s. It is used at start-up, when s
// holds exactly what was loaded from the state file.
func (s *series) snapshotAll() *Snapshot {
	all := make(map[seriesKey]savedValue, len(s.counters)+len(s.histograms))
	for k, v := range s.counters {
		all[k] = savedValue{counter: v}
	}
	for k, h := range s.histograms {
		all[k] = savedValue{hist: &histogram{count: h.count, sum: h.sum, buckets: slices.Clone(h.buckets)}}
	}
	return (&Snapshot{families: emptyFamilies}).with(all)
}

// with returns prev updated with the values a checkpoint saved. Its cost is
// rendering those, not copying the rest: that is what a webhook's durable
// acknowledgement waits for.
func (prev *Snapshot) with(saved map[seriesKey]savedValue) *Snapshot {
	samples := make([][]exposition.Sample, len(prev.families))
	for k, v := range saved {
		s := exposition.Sample{Labels: k.labelValues(), Value: v.counter}
		if v.hist != nil {
			s.Count, s.Sum, s.Buckets = v.hist.count, v.hist.sum, v.hist.buckets
		}
		if v.exemplar.pushID != "" {
			s.Exemplar = &exposition.Exemplar{Label: "push_id", LabelValue: v.exemplar.pushID, Value: 1, Time: v.exemplar.at}
		}
		i := familyIndex[k.metric]
		samples[i] = append(samples[i], s)
	}
	next := &Snapshot{at: prev.at, families: make([]*exposition.Family, len(prev.families))}
	for i, f := range prev.families {
		next.families[i] = f.With(samples[i])
	}
	return next
}
