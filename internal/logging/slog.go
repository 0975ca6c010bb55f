package logging

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Slog returns a slog.Logger that writes through l, a logger from New (or
// one derived from it with log.With). Its lines have the shape of l's own:
// ts is the record's time, caller the file:line that logged the record (not
// this bridge), level one of debug, info, warn and error, and l's level
// filter applies. Attributes follow, those of groups named group.key.
func Slog(l log.Logger) *slog.Logger {
	return slog.New(&handler{logger: l})
}

// handler is a slog.Handler writing each record as one go-kit Log call.
type handler struct {
	logger log.Logger
	attrs  []any  // key/value pairs of WithAttrs, already prefixed
	prefix string // "a.b." inside WithGroup("a").WithGroup("b")
}

// Enabled lets every record through: the go-kit level filter of h.logger
// decides, so there is one place that knows the level.
func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 8+len(h.attrs)+2*r.NumAttrs())
	if !r.Time.IsZero() {
		kv = append(kv, keyTime, r.Time.UTC().Format(time.RFC3339Nano))
	}
	kv = append(kv, keyCaller, caller(r.PC), keyLevel, goKitLevel(r.Level), keyMsg, r.Message)
	kv = append(kv, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = appendAttr(kv, h.prefix, a)
		return true
	})
	return h.logger.Log(kv...)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]any(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr appends a's key/value pairs, a group's as prefix+group.key. An
// attribute named like one of the leading keys (msg, level, …) is renamed
// slog_<key>: it must not replace the record's own.
func appendAttr(kv []any, prefix string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return kv // slog's rule: an empty attribute is ignored
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			kv = appendAttr(kv, p, ga)
		}
		return kv
	}
	key := prefix + a.Key
	if leadingIndex(key) >= 0 {
		key = "slog_" + key
	}
	return append(kv, key, attrValue(a.Value))
}

func attrValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindDuration:
		return v.Duration().String()
	default:
		return v.Any()
	}
}

// caller is the file:line of pc, as go-kit's log.DefaultCaller prints it.
func caller(pc uintptr) string {
	if pc == 0 {
		return "unknown"
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	if f.File == "" {
		return "unknown"
	}
	return f.File[strings.LastIndexByte(f.File, '/')+1:] + ":" + strconv.Itoa(f.Line)
}

func goKitLevel(l slog.Level) level.Value {
	switch {
	case l < slog.LevelInfo:
		return level.DebugValue()
	case l < slog.LevelWarn:
		return level.InfoValue()
	case l < slog.LevelError:
		return level.WarnValue()
	default:
		return level.ErrorValue()
	}
}
