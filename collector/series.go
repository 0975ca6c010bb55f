package collector

import (
	"encoding/binary"
	"errors"
	"math"
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
)

// seriesKey identifies one series. Unused labels are empty; which labels a
// metric has is fixed by its descriptor (see metrics.go).
type seriesKey struct {
	metric   metricID
	app      string
	platform string
	stage    string
	extra    string // error_code, source or reason
	reason   string // push_stage_failures_total's reason
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

// snapshot is what /metrics serves: every persisted series as a checkpoint
// saved it, rendered. It is immutable; each checkpoint publishes a new one
// that shares every series the checkpoint did not change.
type snapshot struct {
	at       time.Time            // when it was saved
	families []*exposition.Family // as emptyFamilies, with series
}

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

func (s *snapshot) family(id metricID) *exposition.Family { return s.families[familyIndex[id]] }

// savedValue is the value of one series as a checkpoint wrote it, with the
// exemplar it is served with.
type savedValue struct {
	counter  float64
	hist     *histogram // a copy; nil for a counter
	exemplar exemplar   // zero for none
}

// snapshotAll renders every series of s. It is used at start-up, when s
// holds exactly what was loaded from the state file.
func (s *series) snapshotAll() *snapshot {
	all := make(map[seriesKey]savedValue, len(s.counters)+len(s.histograms))
	for k, v := range s.counters {
		all[k] = savedValue{counter: v}
	}
	for k, h := range s.histograms {
		all[k] = savedValue{hist: &histogram{count: h.count, sum: h.sum, buckets: slices.Clone(h.buckets)}}
	}
	return (&snapshot{families: emptyFamilies}).with(all)
}

// with returns prev updated with the values a checkpoint saved. Its cost is
// rendering those, not copying the rest: that is what a webhook's durable
// acknowledgement waits for.
func (prev *snapshot) with(saved map[seriesKey]savedValue) *snapshot {
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
	next := &snapshot{at: prev.at, families: make([]*exposition.Family, len(prev.families))}
	for i, f := range prev.families {
		next.families[i] = f.With(samples[i])
	}
	return next
}

// encodeKey and decodeKey give the series' key in the state file.
func encodeKey(k seriesKey) []byte {
	return []byte(string(rune('0'+k.metric)) + "\xff" + k.app + "\xff" + k.platform + "\xff" + k.stage + "\xff" + k.extra + "\xff" + k.reason)
}

var errBadSeries = errors.New("malformed series record")

func decodeKey(b []byte) (seriesKey, error) {
	parts := strings.Split(string(b), "\xff")
	if len(parts) != 6 || len(parts[0]) != 1 {
		return seriesKey{}, errBadSeries
	}
	k := seriesKey{metric: metricID(parts[0][0] - '0'), app: parts[1], platform: parts[2], stage: parts[3], extra: parts[4], reason: parts[5]}
	if _, ok := savedDescs[k.metric]; !ok {
		return seriesKey{}, errBadSeries
	}
	return k, nil
}

func encodeCounter(v float64) []byte {
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
}

func encodeHistogram(h *histogram) []byte {
	b := binary.BigEndian.AppendUint64(nil, h.count)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(h.sum))
	for _, c := range h.buckets {
		b = binary.BigEndian.AppendUint64(b, c)
	}
	return b
}

func decodeCounter(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, errBadSeries
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func decodeHistogram(b []byte) (*histogram, error) {
	if len(b) != 16+8*len(latencyBuckets) {
		return nil, errBadSeries
	}
	h := &histogram{
		count:   binary.BigEndian.Uint64(b),
		sum:     math.Float64frombits(binary.BigEndian.Uint64(b[8:])),
		buckets: make([]uint64, len(latencyBuckets)),
	}
	for i := range h.buckets {
		h.buckets[i] = binary.BigEndian.Uint64(b[16+8*i:])
	}
	return h, nil
}
