package collector

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
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

// snapshot is an immutable copy served by Collect.
type snapshot struct {
	at         time.Time // when it was saved
	counters   map[seriesKey]float64
	histograms map[seriesKey]histogram
	exemplars  map[seriesKey]exemplar
}

// savedValue is the value of one series as a checkpoint wrote it.
type savedValue struct {
	counter float64
	hist    *histogram // a copy; nil for a counter
}

// snapshotAll copies every series of s. It is used at start-up, when s
// holds exactly what was loaded from the state file.
func (s *series) snapshotAll() *snapshot {
	next := &snapshot{
		counters:   maps.Clone(s.counters),
		histograms: make(map[seriesKey]histogram, len(s.histograms)),
		exemplars:  maps.Clone(s.exemplars),
	}
	for k, h := range s.histograms {
		next.histograms[k] = histogram{count: h.count, sum: h.sum, buckets: slices.Clone(h.buckets)}
	}
	return next
}

// with returns a copy of prev updated with the values a checkpoint saved
// and the current exemplars. Neither prev nor the saved values are
// modified afterwards, so their histogram buckets may be shared.
func (prev *snapshot) with(saved map[seriesKey]savedValue, exemplars map[seriesKey]exemplar) *snapshot {
	next := &snapshot{
		counters:   maps.Clone(prev.counters),
		histograms: maps.Clone(prev.histograms),
		exemplars:  maps.Clone(exemplars),
	}
	if next.counters == nil {
		next.counters = map[seriesKey]float64{}
	}
	if next.histograms == nil {
		next.histograms = map[seriesKey]histogram{}
	}
	for k, v := range saved {
		if v.hist != nil {
			next.histograms[k] = *v.hist
		} else {
			next.counters[k] = v.counter
		}
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
	if _, ok := seriesDescs[k.metric]; !ok {
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
