package exposition

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Format is an exposition format the families are kept rendered in.
type Format int

const (
	Text        Format = iota // text/plain; version=0.0.4
	OpenMetrics               // application/openmetrics-text; version=1.0.0 (and 0.0.1: same text)
	numFormats
)

// Type is a family's metric type.
type Type int

const (
	Counter Type = iota
	Histogram
)

// Desc describes a family as prometheus.NewDesc would, plus its type and
// (for a histogram) its buckets.
type Desc struct {
	Name    string // as registered, e.g. push_stage_total
	Help    string
	Type    Type
	Labels  []string  // label names, in the order Sample.Labels gives values
	Buckets []float64 // a histogram's upper bounds, ascending, without +Inf
}

// Sample is the value of one series. A Family keeps the Samples it is
// given: their slices must not be modified afterwards.
type Sample struct {
	Labels []string // label values, in Desc.Labels order

	Value    float64   // a counter's value
	Exemplar *Exemplar // a counter's exemplar, or nil

	Count   uint64   // a histogram's observations,
	Sum     float64  // their sum,
	Buckets []uint64 // and cumulative counts, one per Desc.Buckets
}

// Exemplar is an exemplar with one label, like the exporter's push_id.
// (client_golang writes several exemplar labels in map order, so only one
// label has a fixed rendering.)
type Exemplar struct {
	Label, LabelValue string
	Value             float64
	Time              time.Time
}

// The rest of this file writes what expfmt's MetricFamilyToText and
// MetricFamilyToOpenMetrics write for the same data (common v0.73; the
// tests compare the two byte for byte). Names are legacy-valid (NewFamily
// checks), so they are never quoted or escaped.

// header returns the HELP and TYPE lines. OpenMetrics names a counter
// family without its _total suffix; a counter without one is "unknown".
func (d *Desc) header(f Format) []byte {
	name, typ := d.Name, "counter"
	if d.Type == Histogram {
		typ = "histogram"
	} else if f == OpenMetrics {
		if trimmed, ok := strings.CutSuffix(name, "_total"); ok {
			name = trimmed
		} else {
			typ = "unknown"
		}
	}
	b := append([]byte("# HELP "), name...)
	b = append(b, ' ')
	b = appendEscaped(b, d.Help, f == OpenMetrics)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// appendSeries renders every line of one series. names are the label
// names in sorted order, values their values in the same order, le the
// rendered bucket bounds.
func (d *Desc) appendSeries(b []byte, f Format, names, values []string, le [][]byte, s *Sample) []byte {
	if d.Type == Counter {
		b = appendName(b, d.Name, "", names, values, nil)
		b = appendFloat(append(b, ' '), f, s.Value)
		if s.Exemplar != nil && f == OpenMetrics {
			b = appendExemplar(b, s.Exemplar)
		}
		return append(b, '\n')
	}
	for i, c := range s.Buckets {
		b = appendBucket(b, f, d.Name, names, values, le[i], c)
	}
	b = appendBucket(b, f, d.Name, names, values, infLE, s.Count)
	b = appendName(b, d.Name, "_sum", names, values, nil)
	b = appendFloat(append(b, ' '), f, s.Sum)
	b = appendName(append(b, '\n'), d.Name, "_count", names, values, nil)
	return append(appendCount(append(b, ' '), f, s.Count), '\n')
}

var infLE = []byte("+Inf") // in both formats

func appendBucket(b []byte, f Format, name string, names, values []string, le []byte, count uint64) []byte {
	b = appendName(b, name, "_bucket", names, values, le)
	return append(appendCount(append(b, ' '), f, count), '\n')
}

// appendName writes name+suffix and the labels, le last if given.
func appendName(b []byte, name, suffix string, names, values []string, le []byte) []byte {
	b = append(append(b, name...), suffix...)
	if len(names) == 0 && le == nil {
		return b
	}
	sep := byte('{')
	for i, n := range names {
		b = append(append(b, sep), n...)
		b = append(appendEscaped(append(b, `="`...), values[i], true), '"')
		sep = ','
	}
	if le != nil {
		b = append(append(b, sep), `le="`...)
		b = append(append(b, le...), '"')
	}
	return append(b, '}')
}

// appendExemplar writes ` # {label="value"} value timestamp`. Like
// expfmt, it quotes a label name that is not a legacy metric name (any
// UTF-8 name is valid in an exemplar), and no escaping scheme changes it.
func appendExemplar(b []byte, e *Exemplar) []byte {
	b = append(b, " # {"...)
	if model.LegacyValidation.IsValidMetricName(e.Label) {
		b = append(b, e.Label...)
	} else {
		b = append(appendEscaped(append(b, '"'), e.Label, true), '"')
	}
	b = append(appendEscaped(append(b, `="`...), e.LabelValue, true), `"} `...)
	b = appendFloat(b, OpenMetrics, e.Value)
	return appendFloat(append(b, ' '), OpenMetrics, float64(e.Time.UnixNano())/1e9)
}

// appendCount writes a histogram count: the text format writes it as a
// float (1e+06 for a million), OpenMetrics as an integer.
func appendCount(b []byte, f Format, n uint64) []byte {
	if f == OpenMetrics {
		return strconv.AppendUint(b, n, 10)
	}
	return appendFloat(b, f, float64(n))
}

// appendFloat writes v as expfmt's writeFloat (text) or
// writeOpenMetricsFloat (OpenMetrics, where an integral value gets ".0").
func appendFloat(b []byte, f Format, v float64) []byte {
	switch {
	case v == 1 || v == 0 || v == -1: // -0 included: written as 0
		b = strconv.AppendInt(b, int64(v), 10)
		if f == OpenMetrics {
			b = append(b, ".0"...)
		}
		return b
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if f == OpenMetrics && !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, ".0"...)
	}
	return b
}

// appendEscaped escapes \ and newline (HELP in the text format), and "
// too in label values and in OpenMetrics HELP.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
