package exposition

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

type families []*Family

func (f families) Families() []*Family { return f }

// reference is what client_golang prints for the families: gathered by a
// registry (Gatherer) and encoded by expfmt.
func reference(t *testing.T, fams families, f Format) []byte {
	t.Helper()
	mfs, err := Gatherer(fams).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, map[Format]expfmt.Format{Text: expfmt.FmtText, OpenMetrics: expfmt.FmtOpenMetrics_1_0_0}[f])
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// rendered is what the families write (they are given sorted by name).
func rendered(t *testing.T, fams families, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, fam := range fams {
		if fam.Len() > 0 {
			if err := fam.write(w, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Flush()
	return buf.Bytes()
}

func compareWithReference(t *testing.T, fams families) {
	t.Helper()
	for _, f := range []Format{Text, OpenMetrics} {
		got, want := rendered(t, fams, f), reference(t, fams, f)
		if !bytes.Equal(got, want) {
			t.Errorf("format %d differs from client_golang's:\n%s", f, lineDiff(got, want))
		}
	}
}

func lineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\ngot  %q\nwant %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

var (
	// Labels declared out of name order: the output must sort them.
	counterDesc = Desc{Name: "test_requests_total", Help: "A back\\slash, \"quotes\" and a\nnewline.",
		Labels: []string{"zone", "app", "code"}}
	plainDesc     = Desc{Name: "test_plain", Help: "A counter without _total and without labels."}
	histogramDesc = Desc{Name: "test_latency_seconds", Help: "Latency.", Type: Histogram,
		Labels: []string{"path"}, Buckets: []float64{1e-9, 0.1, 1, 2.5, 1e21}}
	bareHistogramDesc = Desc{Name: "test_bare_seconds", Help: "", Type: Histogram, Buckets: []float64{1}}

	edgeValues = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.30000000000000004, 1e21, 1e-7, 123456789,
		12345678901234567890, 1.5e308, 5e-324, math.NaN(), math.Inf(+1), math.Inf(-1), 42}
	edgeLabels = []string{"plain", `back\slash`, `say "hi"`, "two\nlines", "ünïcödé ✓", "", `\"` + "\n"}
	exemplarAt = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
)

// TestRenderMatchesClientGolang: every edge of the formats (escaping,
// float formatting, +Inf bucket, large counts, exemplars and their
// timestamps, families without labels, counters without _total) is
// written byte for byte as client_golang writes it.
func TestRenderMatchesClientGolang(t *testing.T) {
	counters := NewFamily(counterDesc)
	var samples []Sample
	for i, v := range edgeValues {
		s := Sample{Labels: []string{strconv.Itoa(i % 3), edgeLabels[i%len(edgeLabels)], strconv.Itoa(i)}, Value: v}
		switch i % 4 {
		case 1:
			s.Exemplar = &Exemplar{Label: "push_id", LabelValue: "p-" + edgeLabels[i%len(edgeLabels)], Value: 1, Time: exemplarAt.Add(time.Duration(i) * time.Hour)}
		case 2:
			s.Exemplar = &Exemplar{Label: "push_id", LabelValue: strings.Repeat("x", 121), Value: 0.5, Time: time.Unix(-86400, 1)} // 128 runes: kept
		case 3:
			s.Exemplar = &Exemplar{Label: "push_id", LabelValue: strings.Repeat("x", 122), Value: 1, Time: exemplarAt} // 129: left out
		}
		samples = append(samples, s)
	}
	samples = append(samples, Sample{Labels: []string{"z", "bad", "utf8"}, Value: 3,
		Exemplar: &Exemplar{Label: "push_id", LabelValue: "\xff", Value: 1, Time: exemplarAt}}) // invalid: left out
	rand.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	counters = counters.With(samples)

	hist := NewFamily(histogramDesc).With([]Sample{
		{Labels: []string{"/b"}, Count: 12345678, Sum: 0.1 + 0.2, Buckets: []uint64{0, 1, 2, 1000000, 12345677}},
		{Labels: []string{`/a "quoted"`}, Count: 1, Sum: 1, Buckets: []uint64{0, 0, 1, 1, 1}},
		{Labels: []string{""}, Count: 0, Sum: 0, Buckets: []uint64{0, 0, 0, 0, 0}},
		{Labels: []string{"/big"}, Count: math.MaxUint64, Sum: math.Inf(+1), Buckets: []uint64{1, 2, 3, 4, 5}},
	})
	bare := NewFamily(bareHistogramDesc).With([]Sample{{Count: 3, Sum: 2.5, Buckets: []uint64{2}}})
	plain := NewFamily(plainDesc).With([]Sample{{Value: 1}})
	compareWithReference(t, families{bare, hist, plain, counters})

	// The same by eye, for the reader.
	if got := string(rendered(t, families{plain}, OpenMetrics)); got != "# HELP test_plain A counter without _total and without labels.\n# TYPE test_plain unknown\ntest_plain 1.0\n" {
		t.Errorf("OpenMetrics counter without _total:\n%s", got)
	}
	if got := string(rendered(t, families{bare}, Text)); !strings.Contains(got, "test_bare_seconds_bucket{le=\"+Inf\"} 3\n") {
		t.Errorf("text histogram without labels:\n%s", got)
	}
}

// TestWithKeepsEverySeries: a family built up over many checkpoints (new
// series among old ones, replaced values, a series twice in one batch) has
// each series once, with its last value, in client_golang's order; the
// families it was made from are unchanged.
func TestWithKeepsEverySeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fam := NewFamily(counterDesc)
	want := map[string]float64{}
	for round := range 30 {
		before := fam
		beforeText := rendered(t, families{before}, Text)
		var batch []Sample
		for range rng.IntN(40) {
			labels := []string{strconv.Itoa(rng.IntN(3)), edgeLabels[rng.IntN(len(edgeLabels))], strconv.Itoa(rng.IntN(50))}
			v := float64(round*1000 + len(batch))
			batch = append(batch, Sample{Labels: labels, Value: v})
			want[strings.Join(labels, "\xff")] = v // the last in the batch wins
		}
		fam = fam.With(batch)
		if !bytes.Equal(rendered(t, families{before}, Text), beforeText) {
			t.Fatal("With modified its receiver")
		}
		if fam.Len() != len(want) {
			t.Fatalf("round %d: %d series, want %d", round, fam.Len(), len(want))
		}
		for k, v := range want {
			if s, ok := fam.Lookup(strings.Split(k, "\xff")...); !ok || s.Value != v {
				t.Fatalf("round %d: %q = %v (found %v), want %v", round, k, s.Value, ok, v)
			}
		}
		compareWithReference(t, families{fam})
	}

	old := NewFamily(counterDesc).With([]Sample{{Labels: []string{"a", "b", "c"}, Value: 1}})
	next := old.With([]Sample{{Labels: []string{"a", "b", "c"}, Value: 2}, {Labels: []string{"a", "b", "d"}, Value: 3}})
	if s, _ := old.Lookup("a", "b", "c"); s.Value != 1 || old.Len() != 1 {
		t.Errorf("the older family changed: value %v, %d series", s.Value, old.Len())
	}
	if s, _ := next.Lookup("a", "b", "c"); s.Value != 2 || next.Len() != 2 {
		t.Errorf("the newer family: value %v, %d series", s.Value, next.Len())
	}
}

func TestNewFamilyRejects(t *testing.T) {
	for _, d := range []Desc{
		{Name: "bad-name"},
		{Name: "ok", Labels: []string{"bad-label"}},
		{Name: "ok", Labels: []string{"__reserved"}},
		{Name: "ok", Labels: []string{"a", "a"}},
		{Name: "ok_seconds", Type: Histogram, Labels: []string{"le"}},
		{Name: "ok_seconds", Type: Histogram, Buckets: []float64{2, 1}},
		{Name: "ok_seconds", Type: Histogram, Buckets: []float64{1, math.Inf(+1)}},
		{Name: "ok_seconds", Type: Histogram, Buckets: []float64{1, 1, 2}},
		{Name: "ok_seconds", Type: Histogram, Buckets: []float64{1, math.NaN()}},
	} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("accepted")
				}
			}()
			NewFamily(d)
		})
	}
}
