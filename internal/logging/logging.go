// Package logging builds the exporter's one logger: go-kit/log writing
// logfmt or JSON, where every line starts with exactly one ts, caller, level
// and msg. Slog hands the same logger to libraries that log through
// log/slog (exporter-toolkit), keeping that shape and the record's own
// caller.
package logging

import (
	"fmt"
	"io"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// The keys every line starts with, in this order.
const (
	keyTime   = "ts"
	keyCaller = "caller"
	keyLevel  = "level"
	keyMsg    = "msg"
)

var leading = [...]string{keyTime, keyCaller, keyLevel, keyMsg}

// New returns a logger writing to w in format (logfmt or json) that drops
// lines below lvl (debug, info, warn or error). It stamps each line with the
// time and the file:line of its Log call.
func New(w io.Writer, lvl, format string) (log.Logger, error) {
	sw := log.NewSyncWriter(w)
	var out log.Logger
	switch format {
	case "logfmt":
		out = log.NewLogfmtLogger(sw)
	case "json":
		out = log.NewJSONLogger(sw)
	default:
		return nil, fmt.Errorf("unknown log format %q: want logfmt or json", format)
	}
	allow, err := level.Parse(lvl)
	if err != nil {
		return nil, fmt.Errorf("unknown log level %q: want debug, info, warn or error", lvl)
	}
	l := level.NewFilter(shaper{out}, level.Allow(allow))
	return log.With(l, keyTime, log.DefaultTimestampUTC, keyCaller, log.DefaultCaller), nil
}

// shaper writes ts, caller, level and msg first and each of them once. A
// key given twice keeps its last value: Slog passes the record's own time
// and caller after the ones New stamps on every line, and those are the
// true ones. Every other key/value pair follows in the order it was given.
type shaper struct{ next log.Logger }

func (s shaper) Log(keyvals ...any) error {
	if len(keyvals)%2 == 1 {
		keyvals = append(keyvals, log.ErrMissingValue)
	}
	var (
		first [len(leading)]any
		have  [len(leading)]bool
		rest  = make([]any, 0, len(keyvals))
	)
	for i := 0; i < len(keyvals); i += 2 {
		if j := leadingIndex(keyvals[i]); j >= 0 {
			first[j], have[j] = keyvals[i+1], true
			continue
		}
		rest = append(rest, keyvals[i], keyvals[i+1])
	}
	out := make([]any, 0, len(leading)*2+len(rest))
	for j, k := range leading {
		if have[j] {
			out = append(out, k, first[j])
		}
	}
	return s.next.Log(append(out, rest...)...)
}

func leadingIndex(key any) int {
	k, ok := key.(string)
	if !ok {
		return -1
	}
	for j, l := range leading {
		if k == l {
			return j
		}
	}
	return -1
}
