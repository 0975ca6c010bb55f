// Package exporter builds the timpush_exporter binary for the end-to-end
// tests under test/ and runs it, handing its log lines to the test as they
// are written, so a test waits for a line instead of sleeping.
package exporter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Build compiles the exporter into dir with the go command on PATH, passing
// buildArgs to go build (e.g. -buildvcs=true), and returns the binary's path.
func Build(t testing.TB, dir string, buildArgs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: cannot build the exporter")
	}
	bin, err := BuildErr(dir, buildArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildErr is Build for callers without a test, such as a TestMain.
func BuildErr(dir string, buildArgs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "timpush_exporter")
	args := append([]string{"build", "-o", bin}, buildArgs...)
	cmd := exec.CommandContext(ctx, "go", append(args, "github.com/timpush/timpush_exporter")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// Process is a running exporter.
type Process struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan string // stderr, line by line; closed at EOF
	seen  []string    // every line read so far
}

// Start runs bin with args until Stop or the end of the test.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &Process{t: t, cmd: cmd, lines: make(chan string, 64)}
	go read(stderr, p.lines)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

func read(r io.Reader, lines chan<- string) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines <- sc.Text()
	}
}

// WaitFor reads log lines until one contains s and returns it; it fails the
// test if the process ends or timeout passes first.
func (p *Process) WaitFor(s string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("the exporter ended before logging %q; its log:\n%s", s, strings.Join(p.seen, "\n"))
			}
			p.seen = append(p.seen, line)
			if strings.Contains(line, s) {
				return line
			}
		case <-deadline.C:
			p.t.Fatalf("no log line with %q within %s; the log so far:\n%s", s, timeout, strings.Join(p.seen, "\n"))
		}
	}
}

// Stop sends SIGTERM, waits for the process to exit and returns every line
// it logged, from the first.
func (p *Process) Stop() []string {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				if err := p.cmd.Wait(); err != nil {
					p.t.Errorf("the exporter exited with %v after SIGTERM", err)
				}
				return p.seen
			}
			p.seen = append(p.seen, line)
		case <-timeout.C:
			p.t.Fatalf("the exporter did not exit within 30 s of SIGTERM; its log:\n%s", strings.Join(p.seen, "\n"))
		}
	}
}
