package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var binary string

// TestMain builds the exporter once; the tests drive it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "timpush-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "timpush_exporter")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestConfigCheck(t *testing.T) {
	for _, tt := range []struct {
		file     string
		wantCode int
		wantOut  string
	}{
		{"testdata/good.yml", 0, "OK"},
		{"testdata/bad.yml", 1, "apps[0].sample_ratio"},
		{"testdata/missing.yml", 1, "missing.yml"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			out, err := exec.Command(binary, "--config.check", "--config.file", tt.file).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(string(out), tt.wantOut) {
				t.Fatalf("exit %d, output %q; want exit %d mentioning %q", code, out, tt.wantCode, tt.wantOut)
			}
			if strings.Contains(string(out), "not-a-real-key") {
				t.Fatal("the secret key was printed")
			}
		})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// exporter is a running binary.
type exporter struct {
	cmd  *exec.Cmd
	addr string
	logs *os.File
}

func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	addr := freePort(t)
	logs, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "--web.listen-address="+addr)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &exporter{cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return e
}

func (e *exporter) metrics() (string, error) {
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}

func value(metrics, series string) float64 {
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestDemo is the README's promise: `--demo` shows Huawei device failures
// within 90 s, without one call over the simulator's 1 call/s, and stops
// within 5 s of SIGTERM.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary for up to 90 s")
	}
	e := startExporter(t, "--demo", "--storage.path="+t.TempDir())
	start := time.Now()
	re := regexp.MustCompile(`(?m)^push_stage_failures_total\{[^}]*platform="huawei"[^}]*stage="device"[^}]*\} [1-9]`)
	var m string
	for {
		var err error
		m, err = e.metrics()
		if err == nil && re.MatchString(m) {
			break
		}
		if time.Since(start) > 90*time.Second {
			logs, _ := os.ReadFile(e.logs.Name())
			t.Fatalf("no Huawei device failure within 90 s; last error %v\nlogs:\n%s", err, logs)
		}
		time.Sleep(time.Second) // polling an external process
	}
	t.Logf("Huawei device failure after %v", time.Since(start).Round(time.Second))
	checkFormats(t, e.addr)
	if v := value(m, "timpush_demo_simulator_calls_over_limit_total"); v != 0 {
		t.Errorf("%v calls over the limit", v)
	}
	if value(m, "timpush_demo_simulator_calls_total") == 0 {
		t.Error("the simulator saw no call")
	}
	landing, err := http.Get("http://" + e.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer landing.Body.Close()
	buf := make([]byte, 1<<16)
	n, _ := landing.Body.Read(buf)
	if !strings.Contains(strings.ToLower(string(buf[:n])), "synthetic") {
		t.Error("the landing page must say the demo data is synthetic")
	}

	stopped := time.Now()
	e.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- e.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		t.Logf("stopped %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatal("still running 5 s after SIGTERM")
	}
}

// acceptPrometheus is the Accept header Prometheus sends.
const acceptPrometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// checkFormats reads /metrics in the text format and as Prometheus does
// (OpenMetrics, gzip): each page parses, with each family once, and in
// OpenMetrics the failure series carry their push_id exemplars.
func checkFormats(t *testing.T, addr string) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	text, err := parser.TextToMetricFamilies(bytes.NewReader(scrapeGzip(t, addr, "text/plain;version=0.0.4", "")))
	if err != nil { // a family twice is an error too
		t.Fatalf("parse /metrics: %v", err)
	}
	// client_golang's Go collector exports go_memstats_alloc_bytes and
	// go_memstats_alloc_bytes_total: both are the family
	// go_memstats_alloc_bytes in OpenMetrics, which expfmt's strict parser
	// refuses (Prometheus does not). Leave the first out.
	q := url.Values{}
	for name := range text {
		if name != "go_memstats_alloc_bytes" {
			q.Add("name[]", name)
		}
	}
	dec := expfmt.NewDecoder(bytes.NewReader(scrapeGzip(t, addr, acceptPrometheus, q.Encode())), expfmt.FmtOpenMetrics_1_0_0)
	seen, exemplars := map[string]bool{}, 0
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("parse /metrics in OpenMetrics: %v", err)
		}
		if seen[mf.GetName()] {
			t.Errorf("OpenMetrics: family %s twice", mf.GetName())
		}
		seen[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "push_stage_failures_total" && m.GetCounter().GetExemplar() != nil {
				exemplars++
			}
		}
	}
	if len(seen) != len(q["name[]"]) || !seen["push_stage_failures_total"] || exemplars == 0 {
		t.Errorf("OpenMetrics: %d families of %d, push_stage_failures_total %v with %d exemplars",
			len(seen), len(q["name[]"]), seen["push_stage_failures_total"], exemplars)
	}
}

// scrapeGzip gets /metrics?query in the format accept, gzipped.
func scrapeGzip(t *testing.T, addr, accept, query string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client then leaves the body compressed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("Accept %q: %s, Content-Encoding %q: %v", accept, resp.Status, resp.Header.Get("Content-Encoding"), err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
