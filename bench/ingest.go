package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/exposition"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Benchmark 1, file ingest: a generated log read from the start by a File
// source that offers into a real collector (with its state file and
// checkpoint loop), on one core, against a bare Go loop over the same file.

// ingestRegex is the README's example regex.
var ingestRegex = regexp.MustCompile(`msg_id=(?P<push_id>[0-9A-Za-z_-]+)`)

// ingestRatio is the fixed sample ratio: tiny, so that the figure is the
// intake path (read, extract, hash, sample) and not the query pipeline.
const ingestRatio = 0.001

var ingestFormats = []string{source.FormatRegex, source.FormatJSON, source.FormatPlain}

type ingestArgs struct {
	Format, Path, StoreDir string
	IDs                    int64 // lines with an ID: the run ends when all are offered
	Ratio                  float64
	Auto                   bool
}

type ingestResult struct {
	Seconds float64 // wall time of the measured section
	CPU     float64 // CPU time (user + system, all threads) of the process during it
	Lines   int64
	IDs     int64
	Sampled float64 // timpush_exporter_pushids_sampled_total as last served
	Ratio   float64 // timpush_exporter_sample_ratio at the end
}

func runIngest(o *options) ([]row, error) {
	lines, reps := 2_000_000, 5
	if o.quick {
		lines, reps = 10_000, 1
	}
	files := map[string]string{}
	for _, f := range ingestFormats {
		path := filepath.Join(o.tmp, "ingest-"+f+".log")
		size, err := writeIngestFile(path, f, lines)
		if err != nil {
			return nil, err
		}
		logf("ingest: wrote %s: %s lines, %.0f bytes/line", path, si(float64(lines)), float64(size)/float64(lines))
		files[f] = path
	}
	defer func() {
		for _, p := range files {
			os.Remove(p)
		}
	}()
	var rows []row
	if o.wantFixed() {
		for _, f := range ingestFormats {
			r, err := ingestFormat(o, f, files[f], lines, reps)
			if err != nil {
				return rows, err
			}
			rows = append(rows, r)
		}
	}
	if o.wantAuto() {
		r, err := ingestAuto(o, files[source.FormatRegex], lines, reps)
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// ingestStats are the medians over the repetitions, in lines per second
// of wall time and per CPU-second of the child process.
type ingestStats struct {
	bareWall, bareCPU, fileWall, fileCPU float64
	bareRSS, fileRSS                     int64
	sampled, ratio                       float64 // of the last File run
}

// measureIngest runs the bare loop and the File source alternately, reps
// times each, each run in a child with GOMAXPROCS=1.
func measureIngest(o *options, format, path string, lines, reps int, auto bool) (ingestStats, error) {
	var st ingestStats
	var bw, bc, fw, fc []float64
	for i := range reps {
		var br, fr ingestResult
		rss, err := runChild("bare", ingestArgs{Format: format, Path: path}, 1, "", &br)
		if err != nil {
			return st, err
		}
		st.bareRSS = max(st.bareRSS, rss)
		args := ingestArgs{Format: format, Path: path, IDs: int64(lines / 2), Ratio: ingestRatio, Auto: auto,
			StoreDir: filepath.Join(o.tmp, fmt.Sprintf("ingest-%s-%v-%d", format, auto, i))}
		profile := ""
		if i == reps-1 && !auto {
			profile = o.profilePath("ingest-" + format + ".cpu.pprof")
		}
		rss, err = runChild("ingest", args, 1, profile, &fr)
		if err != nil {
			return st, err
		}
		os.RemoveAll(args.StoreDir)
		st.fileRSS, st.sampled, st.ratio = max(st.fileRSS, rss), fr.Sampled, fr.Ratio
		bw, bc = append(bw, float64(br.Lines)/br.Seconds), append(bc, float64(br.Lines)/br.CPU)
		fw, fc = append(fw, float64(fr.Lines)/fr.Seconds), append(fc, float64(fr.Lines)/fr.CPU)
		logf("ingest %s auto=%v run %d: bare %s lines/s (%s per CPU-s), File→collector %s lines/s (%s per CPU-s); %s IDs, %.0f sampled; load %s",
			format, auto, i+1, si(bw[i]), si(bc[i]), si(fw[i]), si(fc[i]), si(float64(fr.IDs)), fr.Sampled, loadAverage())
	}
	st.bareWall, st.bareCPU, st.fileWall, st.fileCPU = median(bw), median(bc), median(fw), median(fc)
	return st, nil
}

func ingestFormat(o *options, format, path string, lines, reps int) (row, error) {
	st, err := measureIngest(o, format, path, lines, reps, false)
	if err != nil {
		return row{}, err
	}
	r := ingestRow(fmt.Sprintf("ingest %s, %s lines, 1 core, sample_ratio %g", format, si(float64(lines)), ingestRatio), st, reps)
	if format == source.FormatJSON {
		var cpu []float64
		for range reps {
			var br ingestResult
			if _, err := runChild("bare", ingestArgs{Format: jsonStdlib, Path: path}, 1, "", &br); err != nil {
				return r, err
			}
			cpu = append(cpu, float64(br.Lines)/br.CPU)
		}
		r.figure += fmt.Sprintf("; for reference, a bare loop with encoding/json (Unmarshal into a struct, same ID check): %s lines/CPU-s", si(median(cpu)))
	}
	return r, nil
}

// ingestAuto is the regex row with sample_ratio: auto.
func ingestAuto(o *options, path string, lines, reps int) (row, error) {
	st, err := measureIngest(o, source.FormatRegex, path, lines, reps, true)
	if err != nil {
		return row{}, err
	}
	r := ingestRow(fmt.Sprintf("ingest regex, %s lines, 1 core, sample_ratio auto", si(float64(lines))), st, reps)
	r.figure += fmt.Sprintf("; %.0f sampled, ratio in force at the end %.3g", st.sampled, st.ratio)
	return r, nil
}

// ingestRow judges by CPU time: the machine is shared, and lines per
// CPU-second of a one-core process is what it does with a core of its own.
func ingestRow(name string, st ingestStats, reps int) row {
	return row{
		bench: name,
		figure: fmt.Sprintf("File→collector %s lines/CPU-s (%s lines/s wall, peak RSS %s); bare loop %s lines/CPU-s (%s wall, peak RSS %s); %.0f %% of bare by CPU time, %.0f %% by wall time (medians of %d)",
			si(st.fileCPU), si(st.fileWall), mb(float64(st.fileRSS)), si(st.bareCPU), si(st.bareWall), mb(float64(st.bareRSS)),
			100*st.fileCPU/st.bareCPU, 100*st.fileWall/st.bareWall, reps),
		target: "≥ 80 % of the bare loop",
		met:    verdict(st.fileCPU >= 0.8*st.bareCPU),
	}
}

// writeIngestFile writes n lines of format, half of them with an ID.
func writeIngestFile(path, format string, n int) (int64, error) {
	fh, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	var size int64
	var buf []byte
	for i := range n {
		buf = ingestLine(buf[:0], format, i)
		size += int64(len(buf))
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return 0, err
	}
	return size, fh.Close()
}

// ingestID is the PushID of line i, shaped like Tencent's MsgIDs.
func ingestID(i int) string { return fmt.Sprintf("144115233406643804-1764036001-%010d", i) }

// ingestLine appends line i of format (with its newline). Even lines carry
// an ID. regex and json lines are padded to 140 bytes; plain ID lines are
// the bare 40-byte ID and the others 240 bytes of text (so 140 on average).
func ingestLine(b []byte, format string, i int) []byte {
	ts := fmt.Sprintf("2026-11-25T10:%02d:%02d.%06dZ", i/60000%60, i/1000%60, i%1000000)
	switch format {
	case source.FormatRegex:
		if i%2 == 0 {
			b = fmt.Appendf(b, `%s level=info msg="sendmsg ok" to=user%d msg_id=%s took=%dms`, ts, i%977, ingestID(i), i%50)
		} else {
			b = fmt.Appendf(b, `%s level=debug msg="cache refreshed" entries=%d region=ap-shanghai took=%dms`, ts, i, i%7)
		}
		return append(pad(b, 139, " node=im-gw-07"), '\n')
	case source.FormatJSON:
		if i%2 == 0 {
			b = fmt.Appendf(b, `{"ts":"%s","level":"info","msg":"sendmsg ok","to":"user%d","PushID":"%s","took_ms":%d`, ts, i%977, ingestID(i), i%50)
		} else {
			b = fmt.Appendf(b, `{"ts":"%s","level":"debug","msg":"cache refreshed","entries":%d,"region":"ap-shanghai","took_ms":%d`, ts, i, i%7)
		}
		b = append(b, `,"trace":"`...)
		return append(pad(b, 137, "0123456789abcdef"), "\"}\n"...)
	default:
		if i%2 == 0 {
			return append(append(b, ingestID(i)...), '\n')
		}
		b = fmt.Appendf(b, "%s level=debug msg=\"cache refreshed\" entries=%d region=ap-shanghai", ts, i)
		return append(pad(b, 239, " node=im-gw-07 shard=12"), '\n')
	}
}

// pad extends b with filler (repeated, the last copy cut to fit) to width bytes.
func pad(b []byte, width int, filler string) []byte {
	for len(b) < width {
		b = append(b, filler[:min(len(filler), width-len(b))]...)
	}
	return b
}

// childIngest reads the file through a File source into a collector and
// times it until every ID has been offered.
func childIngest(raw json.RawMessage, profile string) (any, error) {
	var a ingestArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	// The store is not closed: the process exits after the measurement,
	// perhaps during a commit (see below).
	st, _, err := store.Open(a.StoreDir, store.Options{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	c := collector.New(collector.Options{Store: st}, reg)
	app := collector.App{Name: "bench", SampleRatio: a.Ratio, QueryDelay: time.Hour, MaxPending: 100_000, RateLimit: 1, Tracer: idleTracer{}}
	if a.Auto {
		applyAuto(&app)
	}
	c.SetApps([]collector.App{app})
	if err := c.Restore(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()

	sink := &countingSink{Collector: c, want: a.IDs, done: make(chan struct{})}
	var re *regexp.Regexp
	if a.Format == source.FormatRegex {
		re = ingestRegex
	}
	f, err := source.NewFile(source.FileOptions{Pattern: a.Path, App: "bench", Format: a.Format, Regex: re,
		Metrics: source.NewFileMetrics(reg)}, sink)
	if err != nil {
		return nil, err
	}
	stop, err := startCPUProfile(profile)
	if err != nil {
		return nil, err
	}
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	fdone := make(chan error, 1)
	start, cpu0 := time.Now(), cpuTime()
	go func() { fdone <- f.Run(fctx) }()
	select {
	case <-sink.done:
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("only %d of %d IDs offered after 10 minutes", sink.n.Load(), a.IDs)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	stop()
	fcancel()
	<-fdone
	cancel()
	// The final checkpoint is not part of the figure; after a burst of
	// sampled IDs it can take minutes (see BENCHMARKS.md), so wait briefly.
	select {
	case err := <-runDone:
		if err != nil {
			return nil, err
		}
	case <-time.After(5 * time.Second):
	}
	lines := 2 * a.IDs
	return ingestResult{Seconds: elapsed.Seconds(), CPU: cpu.Seconds(), Lines: lines, IDs: sink.n.Load(),
		Sampled: gatherSum(exposition.Gatherer(c), "timpush_exporter_pushids_sampled_total", nil),
		Ratio:   gatherSum(reg, "timpush_exporter_sample_ratio", nil)}, nil
}

// countingSink is the collector as the File source's Sink, noting when
// the expected number of IDs has been offered.
type countingSink struct {
	*collector.Collector
	n    atomic.Int64
	want int64
	once sync.Once
	done chan struct{}
}

func (s *countingSink) Offer(b source.Batch) {
	s.Collector.Offer(b)
	n := 0
	for _, r := range b.Received {
		n += r.N
	}
	if s.n.Add(int64(n)) >= s.want {
		s.once.Do(func() { close(s.done) })
	}
}

// idleTracer must never be called: the benchmarks that use it set a query
// delay longer than they run.
type idleTracer struct{}

func (idleTracer) Trace(context.Context, string) (*timapi.Trace, error) {
	return nil, errors.New("bench: unexpected trace query")
}
