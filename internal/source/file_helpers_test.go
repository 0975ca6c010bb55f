package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/timpush/timpush_exporter/internal/clock"
	"github.com/timpush/timpush_exporter/internal/pushid"
)

// fileTestSink records what a File offers, keeps the latest cursor per key
// like the store does, and signals every Offer on a channel.
type fileTestSink struct {
	mu       sync.Mutex
	ids      []pushid.ID
	offers   []fileOffer
	cursors  map[string][]byte
	received map[string]int     // Batch.Received summed per app
	ratios   map[string]float64 // Ratio's answers; 1 for an app not in it, if nil
	asked    map[string][]int   // Ratio's arrivals, per app
	offered  chan struct{}
}

type fileOffer struct {
	n      int
	cursor *Cursor
}

func newFileTestSink() *fileTestSink {
	return &fileTestSink{cursors: make(map[string][]byte), received: make(map[string]int),
		asked: make(map[string][]int), offered: make(chan struct{}, 1)}
}

// Ratio keeps every PushID of any app unless ratios says otherwise.
func (s *fileTestSink) Ratio(app string, arrivals int) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked[app] = append(s.asked[app], arrivals)
	if s.ratios == nil {
		return 1, true
	}
	r, ok := s.ratios[app]
	return r, ok
}

func (s *fileTestSink) Offer(b Batch) {
	ids, c := b.IDs, b.Cursor
	s.mu.Lock()
	s.ids = append(s.ids, ids...)
	s.offers = append(s.offers, fileOffer{n: len(ids), cursor: c})
	for _, r := range b.Received {
		s.received[r.App] += r.N
	}
	if c != nil {
		if c.Value == nil {
			delete(s.cursors, c.Key)
		} else {
			s.cursors[c.Key] = bytes.Clone(c.Value)
		}
	}
	s.mu.Unlock()
	select {
	case s.offered <- struct{}{}:
	default:
	}
}

func (s *fileTestSink) Durable(context.Context) error { return nil }

func (s *fileTestSink) Cursor(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.cursors[key]
	return v, ok
}

func (s *fileTestSink) Cursors(prefix string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte)
	for k, v := range s.cursors {
		if strings.HasPrefix(k, prefix) {
			out[k] = bytes.Clone(v)
		}
	}
	return out
}

// take returns the PushIDs offered since the last take.
func (s *fileTestSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.ids))
	for i, id := range s.ids {
		out[i] = id.PushID
	}
	s.ids = nil
	return out
}

func (s *fileTestSink) position(t *testing.T, path string) (position, bool) {
	t.Helper()
	v, ok := s.Cursor("file:" + path)
	if !ok {
		return position{}, false
	}
	p, err := decodePosition(v)
	if err != nil {
		t.Fatal(err)
	}
	return p, true
}

// waitOffer waits for the next Offer; the timeout only turns a hang into a
// failure.
func (s *fileTestSink) waitOffer(t *testing.T) {
	t.Helper()
	select {
	case <-s.offered:
	case <-time.After(5 * time.Second):
		t.Fatal("no Offer within 5s")
	}
}

// fileHarness runs a File on a fake clock; step runs exactly one poll.
type fileHarness struct {
	t      *testing.T
	dir    string
	clk    *clock.Fake
	sink   *fileTestSink
	reg    *prometheus.Registry
	file   *File
	cancel context.CancelFunc
	done   chan error
}

const testPoll = 250 * time.Millisecond

// startFile starts a File over dir/pattern (format plain, StartAtEnd) after
// applying mod, and returns once its first poll is done.
func startFile(t *testing.T, dir, pattern string, sink *fileTestSink, mod func(*FileOptions)) *fileHarness {
	t.Helper()
	h := &fileHarness{
		t: t, dir: dir, sink: sink,
		clk: clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
		reg: prometheus.NewRegistry(),
	}
	o := FileOptions{
		Pattern:      filepath.Join(dir, pattern),
		App:          "prod",
		Format:       FormatPlain,
		StartAtEnd:   true,
		PollInterval: testPoll,
		Clock:        h.clk,
		Logger:       log.NewNopLogger(),
		Metrics:      NewFileMetrics(h.reg),
	}
	if mod != nil {
		mod(&o)
	}
	f, err := NewFile(o, sink)
	if err != nil {
		t.Fatal(err)
	}
	h.file = f
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- f.Run(ctx) }()
	h.clk.BlockUntil(1)
	t.Cleanup(h.stop)
	return h
}

// step lets one poll interval pass and waits until the poll is done.
func (h *fileHarness) step() {
	h.clk.Advance(testPoll)
	h.clk.BlockUntil(1)
}

func (h *fileHarness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
}

func (h *fileHarness) path(name string) string { return filepath.Join(h.dir, name) }

// metric returns the value of the file metric name (without prefix) with
// the given extra label value (reason), or the only series.
func (h *fileHarness) metric(name string, reason ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(reason) > 0 && labelValue(m, "reason") != reason[0] {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	h.t.Fatalf("metric %s%v not found", name, reason)
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// lines returns "prefix-from\n" … "prefix-(to-1)\n" and the IDs in them.
func lines(prefix string, from, to int) (string, []string) {
	var b strings.Builder
	var ids []string
	for i := from; i < to; i++ {
		id := prefix + "-" + strconv.Itoa(i)
		ids = append(ids, id)
		b.WriteString(id + "\n")
	}
	return b.String(), ids
}

func wantIDs(t *testing.T, got []string, want ...[]string) {
	t.Helper()
	var all []string
	for _, w := range want {
		all = append(all, w...)
	}
	g, w := append([]string(nil), got...), all
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Fatalf("IDs:\n got %q\nwant %q", got, all)
	}
}

var testRegex = regexp.MustCompile(`msg_id=(?P<push_id>[0-9A-Za-z_-]+)(?: app=(?P<app>\w+))?`)
