package exposition

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// acceptPrometheus is what Prometheus sends.
const acceptPrometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// testPage is a registry whose family names sort before, among and after
// the pre-rendered families', and those families.
func testPage() (*prometheus.Registry, families) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a_requests_total", Help: "Before."}, []string{"code"})
	a.WithLabelValues("200").Add(3)
	m := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_m_gauge", Help: "Among."})
	m.Set(2.5)
	z := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zz_duration_seconds", Help: "After.", Buckets: []float64{0.1, 1}})
	z.Observe(0.5)
	reg.MustRegister(a, m, z)

	counters := NewFamily(counterDesc).With([]Sample{
		{Labels: []string{"eu", "prod", "80300007"}, Value: 12, Exemplar: &Exemplar{Label: "push_id", LabelValue: "p-1", Value: 1, Time: exemplarAt}},
		{Labels: []string{"eu", `a "b"`, "1"}, Value: 1e21},
		{Labels: []string{"us", "prod", "other"}, Value: 0.5, Exemplar: &Exemplar{Label: "push_id", LabelValue: "p\n2", Value: 1, Time: exemplarAt.Add(time.Second)}},
	})
	hist := NewFamily(histogramDesc).With([]Sample{{Labels: []string{"/"}, Count: 3, Sum: 2.25, Buckets: []uint64{0, 1, 2, 3, 3}}})
	plain := NewFamily(plainDesc).With([]Sample{{Value: 7}})
	empty := NewFamily(bareHistogramDesc) // no series: left out, like an empty vector
	return reg, families{empty, hist, plain, counters}
}

func get(t *testing.T, h http.Handler, target, accept, encoding string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body := rec.Body.Bytes()
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return resp, body
}

// TestHandlerServesWhatPromhttpServes: for every format and encoding a
// client may ask for, the page (headers and, uncompressed, body) is what
// promhttp serves for the registry and the families gathered together.
func TestHandlerServesWhatPromhttpServes(t *testing.T) {
	reg, fams := testPage()
	ours := Handler(reg, fams, HandlerOpts{Registry: reg})
	theirs := promhttp.HandlerFor(prometheus.Gatherers{reg, Gatherer(fams)}, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: reg})
	for _, accept := range []string{
		"", "text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0", "application/openmetrics-text;version=0.0.1",
		acceptPrometheus, "application/openmetrics-text;version=1.0.0;escaping=underscores", "application/openmetrics-text;version=2.0.0",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
	} {
		for _, encoding := range []string{"", "gzip", "identity, gzip", "gzip;q=0.5, identity;q=0.4", "*", "br", "gzip;q=0"} {
			for _, target := range []string{"/metrics", "/metrics?name[]=test_plain&name[]=a_requests_total"} {
				gotResp, got := get(t, ours, target, accept, encoding)
				wantResp, want := get(t, theirs, target, accept, encoding)
				for _, h := range []string{"Content-Type", "Content-Encoding", "Vary"} {
					if g, w := gotResp.Header.Values(h), wantResp.Header.Values(h); strings.Join(g, ", ") != strings.Join(w, ", ") {
						t.Errorf("Accept %q, Accept-Encoding %q: %s %q, want %q", accept, encoding, h, g, w)
					}
				}
				if gotResp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
					t.Errorf("Accept %q, Accept-Encoding %q, %s: status %d, body differs from promhttp's:\n%s",
						accept, encoding, target, gotResp.StatusCode, lineDiff(got, want))
				}
			}
		}
	}
}

// TestHandlerPageParses reads the page as Prometheus does: OpenMetrics,
// gzipped, with exemplars, through expfmt's OpenMetrics 1.0 parser (which
// also rejects a family twice and a missing or repeated # EOF), and as the
// text format through the text parser.
func TestHandlerPageParses(t *testing.T) {
	reg, fams := testPage()
	h := Handler(reg, fams, HandlerOpts{})

	resp, body := get(t, h, "/metrics", acceptPrometheus, "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	if n := bytes.Count(body, []byte("# EOF\n")); n != 1 || !bytes.HasSuffix(body, []byte("# EOF\n")) {
		t.Errorf("%d # EOF lines; want one, at the end", n)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(resp.Header))
	seen := map[string]bool{}
	var exemplars []string
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("OpenMetrics parser: %v\n%s", err, body)
		}
		if seen[mf.GetName()] {
			t.Errorf("family %s twice", mf.GetName())
		}
		seen[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			if e := m.GetCounter().GetExemplar(); e != nil {
				exemplars = append(exemplars, e.GetLabel()[0].GetValue()+" "+e.GetTimestamp().AsTime().Format(time.RFC3339Nano))
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d families parsed, want 6 (3 registered, 3 pre-rendered with series): %v", len(seen), seen)
	}
	// Written as float64 seconds, the timestamp keeps about 0.1 µs.
	if want := "p-1 2026-11-25T10:00:00.1234567Z"; len(exemplars) != 2 || exemplars[0] != want {
		t.Errorf("exemplars %q, want 2, the first %q", exemplars, want)
	}

	_, text := get(t, h, "/metrics", "text/plain;version=0.0.4", "gzip")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("text parser: %v", err)
	}
	if v := parsed["test_requests_total"].GetMetric()[0].GetCounter().GetValue(); len(parsed) != 6 || v != 1e21 {
		t.Errorf("text: %d families, first test_requests_total %v; want 6 and 1e21", len(parsed), v)
	}
}

// TestHandlerRefusesAFamilyTwice: a registered family with the name of a
// pre-rendered one is an error, not a page Prometheus would reject.
func TestHandlerRefusesAFamilyTwice(t *testing.T) {
	reg, fams := testPage()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_plain", Help: "Clash."}))
	var logged strings.Builder
	h := Handler(reg, fams, HandlerOpts{Registry: reg, ErrorLog: printer{&logged}})
	resp, body := get(t, h, "/metrics", acceptPrometheus, "gzip")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"test_plain"`) {
		t.Errorf("status %d, body %q; want 500 naming test_plain", resp.StatusCode, body)
	}
	if !strings.Contains(logged.String(), "error gathering metrics:") {
		t.Errorf("logged %q", logged.String())
	}
	want := `
# HELP promhttp_metric_handler_errors_total Total number of internal errors encountered by the promhttp metric handler.
# TYPE promhttp_metric_handler_errors_total counter
promhttp_metric_handler_errors_total{cause="encoding"} 0
promhttp_metric_handler_errors_total{cause="gathering"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "promhttp_metric_handler_errors_total"); err != nil {
		t.Error(err)
	}
}

// TestHandlerGatherError: as promhttp's default, a failing collector makes
// the whole page an HTTP 500.
func TestHandlerGatherError(t *testing.T) {
	reg, fams := testPage()
	reg.MustRegister(failing{prometheus.NewDesc("broken", "Fails.", nil, nil)})
	resp, body := get(t, Handler(reg, fams, HandlerOpts{}), "/metrics", "", "")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "collector failed") {
		t.Errorf("status %d, body %q; want 500 with the error", resp.StatusCode, body)
	}
}

type failing struct{ d *prometheus.Desc }

func (f failing) Describe(ch chan<- *prometheus.Desc) { ch <- f.d }
func (f failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.d, errors.New("collector failed"))
}

type printer struct{ w io.Writer }

func (p printer) Println(v ...any) { fmt.Fprintln(p.w, v...) }

func TestGzipAccepted(t *testing.T) {
	for header, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": false, "deflate, gzip, br": true, "gzip, identity": false,
		"identity;q=0.5, gzip": true, "gzip;q=0.5, identity;q=0.6": false, "*": false, "*;q=0.5, gzip": true,
		"gzip;q=0": false, "gzip;q=bad": false, "gzip;level=1": false, "br": false,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Accept-Encoding", header)
		}
		if got := gzipAccepted(h); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", header, got, want)
		}
	}
}
