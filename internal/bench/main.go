// Command bench runs the performance benchmarks of issue 6 against the real
// code (collector, sources, store, client, pacer, simulator and the binary)
// and prints one table: benchmark, figure, target, met?. Figures are
// measured on this machine when the command runs; nothing is estimated.
//
//	go run ./internal/bench                       # everything (about 15 minutes)
//	go run ./internal/bench -only ingest,webhook  # a subset
//	go run ./internal/bench -quick                # smoke run, small sizes (< 1 minute)
//	go run ./internal/bench -sample auto          # only the rows with sample_ratio: auto
//
// Progress goes to stderr, the table to stdout. Measurements that need a
// process of their own (one core, peak RSS, start-up) re-run this binary
// as a child (see child.go).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// options are what every benchmark may consult.
type options struct {
	quick    bool
	sample   string // "fixed", "auto" or "both": which sampling rows to run
	profile  string // directory for CPU and heap profiles, "" for none
	exporter string // prebuilt timpush_exporter binary, "" to build one
	mtail    string // mtail binary for the ingest anchor, "" to look on PATH
	tmp      string // scratch directory, removed at the end
}

// wantFixed and wantAuto tell which sampling variants to run.
func (o *options) wantFixed() bool { return o.sample != "auto" }
func (o *options) wantAuto() bool  { return o.sample != "fixed" }

// profilePath names a profile file in the profile directory, or "".
func (o *options) profilePath(name string) string {
	if o.profile == "" {
		return ""
	}
	return filepath.Join(o.profile, name)
}

// benchmark is one section of the issue; run returns its table rows.
type benchmark struct {
	name string
	run  func(o *options) ([]row, error)
}

var benchmarks = []benchmark{
	{"ingest", runIngest},
	{"webhook", runWebhook},
	{"budget", runBudget},
	{"scrape", runScrape},
	{"memory", runMemory},
	{"startup", runStartup},
	{"fidelity", runFidelity},
}

func main() {
	if isChild() {
		os.Exit(childMain())
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	only := fs.String("only", "", "comma-separated benchmarks to run (default all): "+names())
	o := &options{}
	fs.BoolVar(&o.quick, "quick", false, "smoke run with small sizes and short durations (figures are not meaningful)")
	fs.StringVar(&o.sample, "sample", "both", "sampling rows to run: fixed, auto or both")
	fs.StringVar(&o.profile, "profile", "", "write CPU (and heap) profiles of the measured sections into this directory")
	fs.StringVar(&o.exporter, "exporter", "", "timpush_exporter binary for the start-up benchmark (default: go build the module)")
	fs.StringVar(&o.mtail, "mtail", "", "mtail binary, the anchor of the regex ingest rows (default: mtail on PATH; see internal/bench/README.md)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.sample != "fixed" && o.sample != "auto" && o.sample != "both" {
		fmt.Fprintf(os.Stderr, "-sample: want fixed, auto or both, got %q\n", o.sample)
		return 2
	}
	selected, err := selectBenchmarks(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		o.profile, _ = filepath.Abs(o.profile)
	}
	o.tmp, err = os.MkdirTemp("", "timpush-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(o.tmp)

	rev := revision()
	logf("machine: %s, %d CPUs, %s; code %s; quick=%v sample=%s", cpuModel(), runtime.NumCPU(), runtime.Version(), rev, o.quick, o.sample)
	var rows []row
	var loads []string
	failed := false
	for _, b := range selected {
		start, load := time.Now(), loadAverage()
		logf("== %s (load average %s)", b.name, load)
		rs, err := b.run(o)
		rows = append(rows, rs...)
		if err != nil {
			failed = true
			rows = append(rows, row{bench: b.name, figure: "ERROR: " + err.Error(), met: "error"})
		}
		loads = append(loads, fmt.Sprintf("%s %s→%s", b.name, load, loadAverage()))
		logf("== %s done in %s", b.name, time.Since(start).Round(100*time.Millisecond))
	}
	fmt.Printf("%s; %s, %d CPUs, %s; code %s; quick=%v; 1-minute load average before→after: %s\n\n",
		time.Now().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), runtime.Version(), rev, o.quick, strings.Join(loads, ", "))
	printTable(os.Stdout, rows)
	if failed {
		return 1
	}
	return 0
}

func names() string {
	var s []string
	for _, b := range benchmarks {
		s = append(s, b.name)
	}
	return strings.Join(s, ",")
}

func selectBenchmarks(only string) ([]benchmark, error) {
	if only == "" {
		return benchmarks, nil
	}
	want := strings.Split(only, ",")
	var out []benchmark
	for _, b := range benchmarks {
		if slices.Contains(want, b.name) {
			out = append(out, b)
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(benchmarks, func(b benchmark) bool { return b.name == w }) {
			return nil, fmt.Errorf("-only: unknown benchmark %q (have %s)", w, names())
		}
	}
	return out, nil
}

// logf reports progress on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// revision names the code measured: the git commit, and whether files
// outside internal/bench/ differ from it.
func revision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	rev := strings.TrimSpace(string(out))
	dirty, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!internal/bench").Output()
	if err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
