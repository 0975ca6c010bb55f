package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/timpush/timpush_exporter/internal/logging/logtest"
)

var formats = []string{"logfmt", "json"}

// here is the file:line of its caller's next line: the line that logs.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", file[strings.LastIndexByte(file, '/')+1:], line+1)
}

// lines parses what was written, one line per Log call, and fails on a
// line of the wrong shape.
func lines(t *testing.T, format string, buf *bytes.Buffer) []logtest.Line {
	t.Helper()
	var out []logtest.Line
	for _, s := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if s == "" {
			continue
		}
		l, err := logtest.Parse(format, s)
		if err != nil {
			t.Fatal(err)
		}
		if p := logtest.CheckShape(l); len(p) > 0 {
			t.Errorf("line %s: %s", s, strings.Join(p, "; "))
		}
		out = append(out, l)
	}
	return out
}

func newLogger(t *testing.T, lvl, format string) (log.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := New(&buf, lvl, format)
	if err != nil {
		t.Fatal(err)
	}
	return l, &buf
}

// want checks the listed keys of line; a key with value "" must be absent.
func want(t *testing.T, got logtest.Line, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			if got.Count(kv[i]) != 0 {
				t.Errorf("%v: has %s, want none", got, kv[i])
			}
			continue
		}
		if v := got.Get(kv[i]); v != kv[i+1] {
			t.Errorf("%v: %s = %q, want %q", got, kv[i], v, kv[i+1])
		}
	}
}

func TestGoKitLines(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			l, buf := newLogger(t, "info", format)
			component := log.With(l, "component", "collector")

			at1 := here()
			level.Info(l).Log("msg", "starting", "version", "1.2.3")
			at2 := here()
			level.Error(component).Log("msg", "failed", "err", errors.New("disk full"))
			level.Debug(l).Log("msg", "dropped below info")

			got := lines(t, format, buf)
			if len(got) != 2 {
				t.Fatalf("%d lines, want 2 (debug filtered out):\n%s", len(got), buf)
			}
			want(t, got[0], "caller", at1, "level", "info", "msg", "starting", "version", "1.2.3")
			want(t, got[1], "caller", at2, "level", "error", "msg", "failed", "component", "collector", "err", "disk full")
		})
	}
}

// The order of a logfmt line: ts, caller, level, msg, then the rest as given.
func TestLogfmtOrder(t *testing.T) {
	l, buf := newLogger(t, "debug", "logfmt")
	level.Warn(log.With(l, "app", "prod")).Log("msg", "slow", "took", "2s")
	Slog(l).Warn("slow", "took", "2s")
	for _, line := range lines(t, "logfmt", buf) {
		var keys []string
		for _, p := range line {
			keys = append(keys, p.Key)
		}
		if got := strings.Join(keys[:4], " "); got != "ts caller level msg" {
			t.Errorf("keys %v, want ts caller level msg first", keys)
		}
	}
}

func TestSlogLines(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			l, buf := newLogger(t, "info", format)
			s := Slog(log.With(l, "listener", "webhook"))

			before := time.Now().UTC()
			at1 := here()
			s.Info("Listening on", "address", "[::]:9846", "http2", false)
			at2 := here()
			s.With("server", "main").WithGroup("tls").Error("TLS is disabled.", "err", errors.New("no cert"), slog.Group("client", "auth", "none"))
			at3 := here()
			s.Warn("odd attribute names", "msg", "not the message", "level", "not the level", "took", 1500*time.Millisecond)
			s.Debug("below the logger's level")

			got := lines(t, format, buf)
			if len(got) != 3 {
				t.Fatalf("%d lines, want 3 (debug filtered out):\n%s", len(got), buf)
			}
			want(t, got[0], "caller", at1, "level", "info", "msg", "Listening on",
				"listener", "webhook", "address", "[::]:9846", "http2", "false", "time", "", "source", "")
			want(t, got[1], "caller", at2, "level", "error", "msg", "TLS is disabled.",
				"server", "main", "tls.err", "no cert", "tls.client.auth", "none")
			want(t, got[2], "caller", at3, "level", "warn", "msg", "odd attribute names",
				"slog_msg", "not the message", "slog_level", "not the level", "took", "1.5s")
			ts, err := time.Parse(time.RFC3339Nano, got[0].Get("ts"))
			if err != nil || ts.Before(before.Truncate(time.Millisecond)) || ts.After(time.Now().Add(time.Second)) || ts.Location() != time.UTC {
				t.Errorf("ts = %q, want the record's time in UTC", got[0].Get("ts"))
			}
		})
	}
}

func TestNewRejectsUnknownValues(t *testing.T) {
	for _, tt := range []struct{ lvl, format, err string }{
		{"info", "text", `unknown log format "text": want logfmt or json`},
		{"verbose", "logfmt", `unknown log level "verbose": want debug, info, warn or error`},
	} {
		if _, err := New(&bytes.Buffer{}, tt.lvl, tt.format); err == nil || err.Error() != tt.err {
			t.Errorf("New(%q, %q) = %v, want %s", tt.lvl, tt.format, err, tt.err)
		}
	}
}
