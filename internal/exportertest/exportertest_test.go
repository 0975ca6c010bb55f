package exportertest

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// Output written in pieces comes back as whole lines, the last one even
// without its newline once the process has ended.
func TestOutputLines(t *testing.T) {
	o := newOutput()
	for _, piece := range []string{"fir", "st\nsec", "ond\n\nthi", "rd"} {
		o.Write([]byte(piece))
	}
	lines, grew := o.since(0)
	if want := []string{"first", "second", ""}; !slices.Equal(lines, want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	o.end()
	select {
	case <-grew:
	default:
		t.Error("the last line did not wake a waiter")
	}
	if lines, _ := o.since(3); !slices.Equal(lines, []string{"third"}) {
		t.Errorf("after the end: %q, want the last line \"third\"", lines)
	}
	if lines, _ := o.since(9); len(lines) != 0 {
		t.Errorf("since past the end: %q, want none", lines)
	}
}

// The address comes from the toolkit's line of the listener asked for, in
// either log format; other lines give none.
func TestListening(t *testing.T) {
	for _, tt := range []struct {
		line, listener, want string
	}{
		{`ts=x caller=tls_config.go:395 level=info msg="Listening on" listener=metrics address=127.0.0.1:45523`, "metrics", "127.0.0.1:45523"},
		{`ts=x caller=tls_config.go:395 level=info msg="Listening on" listener=webhook address=127.0.0.1:40555`, "metrics", ""},
		{`ts=x caller=tls_config.go:395 level=info msg="Listening on" listener=webhook address=127.0.0.1:40555`, "webhook", "127.0.0.1:40555"},
		{`{"ts":"x","caller":"tls_config.go:395","level":"info","msg":"Listening on","listener":"metrics","address":"[::1]:9846"}`, "metrics", "[::1]:9846"},
		{`time=x level=INFO source=tls_config.go:395 msg="Listening on" component=web address=127.0.0.1:35257`, "", "127.0.0.1:35257"},
		{`time=x level=INFO msg="Start listening for connections" component=web address=127.0.0.1:0`, "", ""},
		{`level=info msg="Listening on systemd activated listeners instead of port listeners."`, "", ""},
		{`panic: Listening on`, "", ""},
	} {
		if got := listening(tt.line, tt.listener); got != tt.want {
			t.Errorf("listening(%s, %q) = %q, want %q", tt.line, tt.listener, got, tt.want)
		}
	}
}

// A test waits for lines as the process writes them, on stdout or stderr,
// one after the other, and learns the address it logged.
func TestProcess(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p := Start(t, sh, "-c", `echo 'level=info msg="Listening on" listener=metrics address=127.0.0.1:1234'; echo step 1 >&2; echo step 2; echo step 1 again`)
	if got := p.WaitFor("step", 10*time.Second); got != "step 1" {
		t.Errorf("first WaitFor = %q, want step 1 (from stderr)", got)
	}
	if got := p.WaitFor("step", 10*time.Second); got != "step 2" {
		t.Errorf("second WaitFor = %q, want step 2", got)
	}
	if got := p.WaitFor("step 1", 10*time.Second); got != "step 1 again" {
		t.Errorf("third WaitFor = %q, want the later line", got)
	}
	// Addr looks from the start, whatever WaitFor read.
	if got := p.Addr("metrics", 10*time.Second); got != "127.0.0.1:1234" {
		t.Errorf("Addr = %q, want 127.0.0.1:1234", got)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
	if len(p.Lines()) != 4 {
		t.Errorf("%d lines, want 4: %q", len(p.Lines()), p.Lines())
	}
}
