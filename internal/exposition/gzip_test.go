package exposition

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// bigCounters is a family of n series: many gzip chunks.
func bigCounters(n int, value float64) *Family {
	var samples []Sample
	for i := range n {
		samples = append(samples, Sample{Labels: []string{"eu", fmt.Sprintf("app%d", i%7), fmt.Sprint(i)}, Value: value + float64(i)})
	}
	return NewFamily(counterDesc).With(samples)
}

// scrapeGzip fetches the page as Prometheus does: over HTTP, gzip asked
// for, read through gzip.Reader. Multistream is off, so the page must be
// one gzip member (what any gzip decoder reads, not only Go's); the reader
// checks the CRC-32 and length of the trailer.
func scrapeGzip(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the body compressed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if rest, _ := io.ReadAll(resp.Body); len(rest) > 0 {
		t.Errorf("%d bytes after the gzip member", len(rest))
	}
	return page
}

type switchable struct{ fams families }

func (s *switchable) Families() []*Family { return s.fams }

// TestGzipPageIsThePage: the gzipped page, pieced together from chunks
// compressed once and the registry's families compressed per scrape,
// decodes to exactly the uncompressed page, in both text formats, before
// and after a checkpoint replaces some series; the checkpoint's family
// reuses the chunks whose series did not change.
func TestGzipPageIsThePage(t *testing.T) {
	reg, small := testPage()
	src := &switchable{fams: families{small[0], small[1], small[2], bigCounters(5000, 1)}} // sorted by name
	srv := httptest.NewServer(Handler(reg, src, HandlerOpts{}))
	defer srv.Close()

	check := func(when string) {
		t.Helper()
		for _, accept := range []string{"text/plain;version=0.0.4", acceptPrometheus} {
			_, plain := get(t, Handler(reg, src, HandlerOpts{}), "/metrics", accept, "")
			if got := scrapeGzip(t, srv.URL, accept); !bytes.Equal(got, plain) {
				t.Errorf("%s, Accept %q: gzipped page differs from the plain one:\n%s", when, accept, lineDiff(got, plain))
			}
		}
	}
	check("first scrape")
	check("second scrape (all chunks kept)")

	old := src.fams[3]
	next := old.With([]Sample{
		{Labels: []string{"eu", "app1", "1"}, Value: 42},     // replaced
		{Labels: []string{"eu", "app0", "new"}, Value: 1e21}, // added
	})
	src.fams[3] = next
	check("after a checkpoint")

	oldChunks, newChunks := old.gzipChunks(OpenMetrics), next.gzipChunks(OpenMetrics)
	if len(oldChunks) < 10 {
		t.Fatalf("%d chunks for 5000 series: the test needs many", len(oldChunks))
	}
	kept := map[*byte]bool{}
	for _, ch := range oldChunks {
		kept[&ch.deflated[0]] = true
	}
	reused := 0
	for _, ch := range newChunks {
		if kept[&ch.deflated[0]] {
			reused++
		}
	}
	if reused < len(newChunks)-2 {
		t.Errorf("%d of %d chunks reused after 2 series changed, want all but at most 2", reused, len(newChunks))
	}
}

// TestGzipProtobuf: a protobuf scrape, which has no chunks, is gzipped as
// written and decodes to the plain page.
func TestGzipProtobuf(t *testing.T) {
	reg, fams := testPage()
	srv := httptest.NewServer(Handler(reg, fams, HandlerOpts{}))
	defer srv.Close()
	const accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	_, plain := get(t, Handler(reg, fams, HandlerOpts{}), "/metrics", accept, "")
	if got := scrapeGzip(t, srv.URL, accept); !bytes.Equal(got, plain) || len(plain) == 0 {
		t.Errorf("gzipped protobuf page (%d bytes) differs from the plain one (%d bytes)", len(got), len(plain))
	}
}
