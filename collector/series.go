package collector

import (
	"encoding/binary"
	"errors"
	"math"
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

// snapshotFrom returns prev updated with the values in saved, sharing
// nothing mutable with prev or s. With a nil prev it copies every series of
// s (at start-up, when s holds exactly what was loaded).
func (s *series) snapshotFrom(prev *snapshot, saved map[seriesKey]savedValue) *snapshot {
	next := &snapshot{
		counters:   make(map[seriesKey]float64, len(s.counters)),
		histograms: make(map[seriesKey]histogram, len(s.histograms)),
		exemplars:  make(map[seriesKey]exemplar, len(s.exemplars)),
	}
	if prev == nil {
		prev = &snapshot{}
		saved = nil // copy everything
	}
	for k, v := range prev.counters {
		next.counters[k] = v
	}
	for k, v := range prev.histograms {
		next.histograms[k] = v
	}
	for k, v := range s.exemplars {
		next.exemplars[k] = v
	}
	copyOne := func(k seriesKey) {
		if v, ok := s.counters[k]; ok {
			next.counters[k] = v
		}
		if h, ok := s.histograms[k]; ok {
			next.histograms[k] = histogram{count: h.count, sum: h.sum, buckets: append([]uint64(nil), h.buckets...)}
		}
	}
	if saved == nil {
		for k := range s.counters {
			copyOne(k)
		}
		for k := range s.histograms {
			copyOne(k)
		}
		return next
	}
	for k, v := range saved {
		if v.hist != nil {
			next.histograms[k] = histogram{count: v.hist.count, sum: v.hist.sum, buckets: append([]uint64(nil), v.hist.buckets...)}
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
