//go:build unix

package source

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countSink counts what it is offered and keeps nothing.
type countSink struct{ ids atomic.Int64 }

func (s *countSink) Offer(b Batch)                     { s.ids.Add(int64(len(b.IDs))) }
func (s *countSink) Ratio(string, int) (float64, bool) { return 1, true }
func (s *countSink) Durable(context.Context) error     { return nil }
func (s *countSink) Cursor(string) ([]byte, bool)      { return nil, false }
func (s *countSink) Cursors(string) map[string][]byte  { return nil }

func benchLine(i int) string {
	if i%2 == 1 { // half the lines carry no ID
		return fmt.Sprintf("2025-01-02T03:04:05.%06dZ level=debug msg=\"cache refreshed\" entries=%d\n", i%1000000, i)
	}
	return fmt.Sprintf("2025-01-02T03:04:05.%06dZ level=info msg=\"push sent\" msg_id=144115217542930542-1735787045-%07d to=user%d\n", i%1000000, i, i%977)
}

func writeBenchFile(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	var b bytes.Buffer
	for i := range n {
		b.WriteString(benchLine(i))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return int64(b.Len())
}

// BenchmarkFileIngest compares reading a file through File (format regex)
// with the least a program can do: bufio + the same regexp, one string per
// ID. The ratio of the two MB/s is the tailing overhead.
func BenchmarkFileIngest(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.log")
	const lines = 200_000
	size := writeBenchFile(b, path, lines)

	b.Run("file", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			sink := &countSink{}
			f, err := NewFile(FileOptions{Pattern: path, Format: FormatRegex, Regex: testRegex}, sink)
			if err != nil {
				b.Fatal(err)
			}
			for f.poll() {
			}
			f.stop()
			if sink.ids.Load() != lines/2 {
				b.Fatalf("%d IDs", sink.ids.Load())
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		id := testRegex.SubexpIndex("push_id")
		for b.Loop() {
			fh, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			r := bufio.NewReaderSize(fh, 64<<10)
			var ids []string
			for {
				line, err := r.ReadSlice('\n')
				if m := testRegex.FindSubmatchIndex(line); m != nil {
					ids = append(ids, string(line[m[2*id]:m[2*id+1]]))
				}
				if err != nil {
					break
				}
			}
			fh.Close()
			if len(ids) != lines/2 {
				b.Fatalf("%d IDs", len(ids))
			}
		}
	})
}

// BenchmarkFilePollIdle is one poll over 100 files that do not change:
// the cost of polling idle files is this time × 4 polls per second.
func BenchmarkFilePollIdle(b *testing.B) {
	dir := b.TempDir()
	for i := range 100 {
		writeBenchFile(b, filepath.Join(dir, "app-"+strconv.Itoa(i)+".log"), 10)
	}
	f, err := NewFile(FileOptions{Pattern: dir + "/*.log", Format: FormatRegex, Regex: testRegex, StartAtEnd: true}, &countSink{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.stop()
	f.poll()
	b.ReportAllocs()
	for b.Loop() {
		f.poll()
	}
}

// TestFileCPUMeasurement measures the CPU File uses on the real clock with
// 100 idle files, then with one file a separate process appends to fast.
// It runs only with TIMPUSH_FILE_CPU=1:
//
//	go test -c -o /tmp/source.test ./internal/source &&
//	TIMPUSH_FILE_CPU=1 /tmp/source.test -test.run TestFileCPUMeasurement -test.v
func TestFileCPUMeasurement(t *testing.T) {
	if os.Getenv("TIMPUSH_FILE_CPU") == "" {
		t.Skip("set TIMPUSH_FILE_CPU=1 to measure")
	}
	seconds := 10 * time.Second
	rate := 50_000 // lines per second
	if v, err := strconv.Atoi(os.Getenv("TIMPUSH_FILE_CPU_RATE")); err == nil {
		rate = v
	}

	dir := t.TempDir()
	for i := range 100 {
		writeBenchFile(t, filepath.Join(dir, "idle-"+strconv.Itoa(i)+".log"), 100)
	}
	cpu, _ := measureFileCPU(t, dir+"/idle-*.log", seconds, nil)
	t.Logf("100 idle files, poll 250ms: %.3f%% of one core", cpu)

	path := filepath.Join(dir, "fast.log")
	writeFile(t, path, "")
	var writer *exec.Cmd
	cpu, ids := measureFileCPU(t, path, seconds, func() {
		writer = exec.Command(os.Args[0], "-test.run=^TestFileCPUWriter$")
		writer.Env = append(os.Environ(), "TIMPUSH_FILE_WRITER="+path, "TIMPUSH_FILE_CPU_RATE="+strconv.Itoa(rate))
		writer.Stderr = os.Stderr
		if err := writer.Start(); err != nil {
			t.Fatal(err)
		}
	})
	writer.Process.Kill()
	writer.Wait()
	lineBytes := float64(len(benchLine(0))+len(benchLine(1))) / 2
	t.Logf("1 file growing at %d lines/s (%.1f MB/s; %d IDs read, about %d expected): %.2f%% of one core",
		rate, float64(rate)*lineBytes/1e6, ids, int(float64(rate)*seconds.Seconds()/2), cpu)
}

// TestFileCPUWriter is the writer process of TestFileCPUMeasurement.
func TestFileCPUWriter(t *testing.T) {
	path := os.Getenv("TIMPUSH_FILE_WRITER")
	if path == "" {
		t.Skip("writer process of TestFileCPUMeasurement")
	}
	rate, _ := strconv.Atoi(os.Getenv("TIMPUSH_FILE_CPU_RATE"))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	tick := time.NewTicker(10 * time.Millisecond)
	for i := 0; ; {
		<-tick.C
		buf = buf[:0]
		for range rate / 100 {
			buf = append(buf, benchLine(i)...)
			i++
		}
		f.Write(buf)
	}
}

// measureFileCPU runs a File over pattern for d and returns the process CPU
// it used (user + system, % of one core) and the IDs it read.
func measureFileCPU(t *testing.T, pattern string, d time.Duration, begin func()) (float64, int64) {
	t.Helper()
	sink := &countSink{}
	f, err := NewFile(FileOptions{Pattern: pattern, Format: FormatRegex, Regex: testRegex, StartAtEnd: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	time.Sleep(time.Second) // settle: first poll, GC
	if begin != nil {
		begin()
	}
	before, start := cpuTime(t), time.Now()
	time.Sleep(d)
	used, wall := cpuTime(t)-before, time.Since(start)
	cancel()
	<-done
	return 100 * used.Seconds() / wall.Seconds(), sink.ids.Load()
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
