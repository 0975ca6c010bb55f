package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// TestMain lets the test binary act as a benchmark child (child.go), so
// that the quick run below exercises the child processes too.
func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// TestQuick runs every benchmark in quick mode so that the command cannot
// rot. It checks that each produced its rows, not the figures: targets are
// judged by the command's output, never by go test.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark command (about 40 s); skipped with -short")
	}
	var out bytes.Buffer
	stdout := os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout = w
	done := make(chan struct{})
	go func() { out.ReadFrom(r); close(done) }()
	code := run([]string{"-quick"})
	w.Close()
	os.Stdout = stdout
	<-done
	t.Log("\n" + out.String())
	if code != 0 {
		t.Fatalf("bench -quick exited %d", code)
	}
	for _, b := range benchmarks {
		if !strings.Contains(out.String(), "| "+benchPrefix(b.name)) {
			t.Errorf("no row for %s", b.name)
		}
	}
	if strings.Contains(out.String(), "ERROR") {
		t.Error("a benchmark failed")
	}
}

// benchPrefix is how the rows of a benchmark start.
func benchPrefix(name string) string {
	switch name {
	case "webhook":
		return "webhook push-ids"
	case "scrape":
		return "scrape /metrics"
	case "memory":
		return "memory per pending"
	case "startup":
		return "start-up"
	case "fidelity":
		return "alerting fidelity"
	}
	return name
}

// BenchmarkScrape renders /metrics at the scrape row's full cardinality
// (36,713 series), one sub-benchmark per format:
//
//	go test -run '^$' -bench Scrape ./internal/bench
func BenchmarkScrape(b *testing.B) {
	env, err := newScrapeEnv(b.TempDir(), scrapeSize{apps: 10, codes: 50})
	if err != nil {
		b.Fatal(err)
	}
	defer env.close()
	for _, f := range scrapeFormats {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				render(env.handler, f.accept, f.encoding, 1)
			}
		})
	}
	// What a webhook's durable reply waits for at this cardinality.
	b.Run("durable acknowledgement", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			offer(env.c, []pushid.ID{{App: "app00", PushID: "extra-" + strconv.Itoa(i), Source: pushid.SourceWebhook, Seen: time.Now()}})
			if err := env.c.Durable(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
