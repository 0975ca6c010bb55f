// Package logtest reads log lines back into their key/value pairs, in order
// and with repeated keys kept, so tests can check the shape of every line
// that package logging writes.
package logtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/go-logfmt/logfmt"
)

// Pair is one key and its value as written.
type Pair struct{ Key, Value string }

// Line is the pairs of one log line, in the order they were written.
type Line []Pair

// Get returns the value of key's first occurrence, or "".
func (l Line) Get(key string) string {
	for _, p := range l {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// Count is how many times key occurs.
func (l Line) Count(key string) int {
	n := 0
	for _, p := range l {
		if p.Key == key {
			n++
		}
	}
	return n
}

// Parse reads one line written in format (logfmt or json).
func Parse(format, line string) (Line, error) {
	switch format {
	case "logfmt":
		return parseLogfmt(line)
	case "json":
		return parseJSON(line)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

func parseLogfmt(line string) (Line, error) {
	d := logfmt.NewDecoder(strings.NewReader(line))
	var out Line
	for d.ScanRecord() {
		for d.ScanKeyval() {
			out = append(out, Pair{string(d.Key()), string(d.Value())})
		}
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("not logfmt: %w: %q", err, line)
	}
	return out, nil
}

// parseJSON walks the object's tokens instead of decoding it into a map: a
// map would silently keep only one of two equal keys.
func parseJSON(line string) (Line, error) {
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	var out Line
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %q", err, line)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: %q", err, line)
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(bytes.TrimSpace(raw))
		}
		out = append(out, Pair{key, s})
	}
	if _, err := d.Token(); err != nil {
		return nil, fmt.Errorf("%w: %q", err, line)
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value on the line: %q", line)
	}
	return out, nil
}

// CheckShape reports what is wrong with a line's shape: each of ts, caller,
// level and msg exactly once, ts an RFC 3339 time, level one of debug, info,
// warn and error, caller a file.go:line. An empty result is a good line.
func CheckShape(l Line) []string {
	var problems []string
	for _, k := range []string{"ts", "caller", "level", "msg"} {
		if n := l.Count(k); n != 1 {
			problems = append(problems, fmt.Sprintf("%d times %q, want once", n, k))
		}
	}
	if ts := l.Get("ts"); ts != "" && !isTime(ts) {
		problems = append(problems, fmt.Sprintf("ts %q is not an RFC 3339 time", ts))
	}
	switch lv := l.Get("level"); lv {
	case "debug", "info", "warn", "error", "":
	default:
		problems = append(problems, fmt.Sprintf("level %q is not debug, info, warn or error", lv))
	}
	if c := l.Get("caller"); c != "" && !isCaller(c) {
		problems = append(problems, fmt.Sprintf("caller %q is not file.go:line", c))
	}
	return problems
}

var callerRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+\.go:[0-9]+$`)

func isCaller(s string) bool { return callerRE.MatchString(s) }

func isTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
