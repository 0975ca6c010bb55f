package exportertest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/logging/logtest"
)

// Process is a running program (the exporter, or another one such as
// Prometheus) and everything it wrote to stdout and stderr.
type Process struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *output
	exited chan struct{} // closed once the process is gone and its output read
	err    error         // cmd.Wait's, valid once exited is closed
	next   int           // the line WaitFor looks at next
}

// Start runs bin with args until the test ends, when it is stopped with
// SIGTERM (SIGKILL 10 s later) unless it is gone already. Then a line of
// its output that reports a data race, a panic or a fatal runtime error
// fails the test, and if the test failed, the last lines of the output are
// logged.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: filepath.Base(bin), out: newOutput(), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait() // returns once all output was copied
		p.out.end()
		close(p.exited)
	}()
	t.Cleanup(p.cleanup)
	return p
}

func (p *Process) cleanup() {
	if !p.Ended() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	lines := p.Lines()
	for _, l := range lines {
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.HasPrefix(l, bad) {
				p.t.Errorf("%s wrote %q", p.name, l)
			}
		}
	}
	if p.t.Failed() {
		p.t.Logf("%s %s, last lines of its output:\n%s", p.name, strings.Join(p.cmd.Args[1:], " "), tail(lines, 60))
	}
}

// WaitFor waits for the next line that contains s, after the line the
// previous WaitFor returned, and returns it. It fails the test if the
// process ends or timeout passes first.
func (p *Process) WaitFor(s string, timeout time.Duration) string {
	p.t.Helper()
	i, line := p.waitLine(p.next, timeout, fmt.Sprintf("a line with %q", s), func(l string) bool { return strings.Contains(l, s) })
	p.next = i + 1
	return line
}

// Addr waits for the "Listening on" line that exporter-toolkit logs for a
// listener (the exporter's are "metrics" and "webhook"; "" takes the first,
// as for Prometheus) and returns its address: started with port 0, the
// process says there which port it got.
func (p *Process) Addr(listener string, timeout time.Duration) string {
	p.t.Helper()
	var addr string
	p.waitLine(0, timeout, fmt.Sprintf("the address of listener %q", listener), func(l string) bool {
		addr = listening(l, listener)
		return addr != ""
	})
	return addr
}

// listening returns the address of a toolkit's "Listening on" line of the
// named listener (any if ""), in logfmt or JSON, or "".
func listening(line, listener string) string {
	if !strings.Contains(line, "Listening on") {
		return ""
	}
	format := "logfmt"
	if strings.HasPrefix(line, "{") {
		format = "json"
	}
	l, err := logtest.Parse(format, line)
	if err != nil || l.Get("msg") != "Listening on" || (listener != "" && l.Get("listener") != listener) {
		return ""
	}
	return l.Get("address")
}

// waitLine waits for a line at index from or later that match accepts, and
// returns it with its index.
func (p *Process) waitLine(from int, timeout time.Duration, what string, match func(string) bool) (int, string) {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	gone := false
	for {
		lines, grew := p.out.since(from)
		for i, l := range lines {
			if match(l) {
				return from + i, l
			}
		}
		from += len(lines)
		if gone {
			p.t.Fatalf("%s ended (%v) before writing %s; its output:\n%s", p.name, p.err, what, tail(p.Lines(), 60))
		}
		select {
		case <-grew:
		case <-p.exited:
			gone = true // all output is in: one last look
		case <-deadline.C:
			p.t.Fatalf("%s wrote no %s within %s; its output so far:\n%s", p.name, what, timeout, tail(p.Lines(), 60))
		}
	}
}

// WaitHTTP waits until GET url answers 200. It polls (every 20 ms): the
// state it waits for is another process's, and not logged. It fails the
// test if the process ends or timeout passes first.
func (p *Process) WaitHTTP(url string, timeout time.Duration) {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var last string
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s ended (%v) before %s answered 200; its output:\n%s", p.name, p.err, url, tail(p.Lines(), 60))
		case <-deadline.C:
			p.t.Fatalf("%s did not answer 200 within %s (last: %s)", url, timeout, last)
		case <-tick.C:
		}
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v to %s: %v", sig, p.name, err)
	}
}

// Stop sends SIGTERM and waits for the process to exit with status 0
// within the given time; otherwise the test fails (and the process is
// killed). It returns every line the process wrote.
func (p *Process) Stop(within time.Duration) []string {
	p.t.Helper()
	p.Signal(syscall.SIGTERM)
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-p.exited:
		if p.err != nil {
			p.t.Errorf("after SIGTERM %s exited with %v, want status 0", p.name, p.err)
		}
	case <-timer.C:
		p.t.Errorf("%s did not exit within %s of SIGTERM", p.name, within)
		p.Kill()
	}
	return p.Lines()
}

// Wait waits for the process to end by itself and returns how it ended
// (nil for status 0). If it runs on past timeout, the test fails and the
// process is killed.
func (p *Process) Wait(timeout time.Duration) error {
	p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-timer.C:
		p.Kill()
		p.t.Fatalf("%s was still running after %s; its output:\n%s", p.name, timeout, tail(p.Lines(), 60))
		return nil
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("SIGKILL %s: %v", p.name, err)
	}
	<-p.exited
}

// Exited is closed once the process is gone and all its output read; Err
// then says how it ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is cmd.Wait's result: nil for status 0. Valid once Exited is closed.
func (p *Process) Err() error { return p.err }

// Ended reports whether the process is gone.
func (p *Process) Ended() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Lines are the lines the process wrote so far, stdout and stderr
// interleaved as they came.
func (p *Process) Lines() []string {
	lines, _ := p.out.since(0)
	return lines
}

// Output is Lines as one text, each line ended by a newline.
func (p *Process) Output() string {
	var b strings.Builder
	for _, l := range p.Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// tail returns the last n lines, long lines shortened.
func tail(lines []string, n int) string {
	lines = lines[max(0, len(lines)-n):]
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 400 {
			l = l[:400] + "…"
		}
		out[i] = l
	}
	return strings.Join(out, "\n")
}
