package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Line formats of a file source.
const (
	FormatRegex = "regex"
	FormatJSON  = "json"
	FormatPlain = "plain"
)

// DefaultJSONField is the JSON path used when none is configured.
const DefaultJSONField = "PushID"

// Extractor finds the PushID in one log line (without its newline). ok is
// false when the line has none or when it fails pushid.Validate. app is
// empty unless the line names the app (the regex group `app`).
//
// Extractors are stateless and safe for concurrent use.
type Extractor interface {
	Extract(line []byte) (pushID, app string, ok bool)
}

// lineExtractor is what File uses: Extract with the reason a line has no ID
// ("" when it has one), for the lines_skipped_total metric. The ID and the
// app are returned as bytes, usually part of line, so that File makes
// strings only of the IDs it hands on.
type lineExtractor interface {
	Extractor
	extract(line []byte) (pushID, app []byte, reason string)
}

// NewExtractor returns the Extractor for format: "regex" (re must have the
// named group push_id and may have the group app), "json" (jsonField is a
// dotted path to a string or number, DefaultJSONField if empty) or "plain"
// (the whole line, trimmed of spaces, is the ID).
func NewExtractor(format string, re *regexp.Regexp, jsonField string) (Extractor, error) {
	return newExtractor(format, re, jsonField)
}

func newExtractor(format string, re *regexp.Regexp, jsonField string) (lineExtractor, error) {
	switch format {
	case FormatRegex:
		if re == nil {
			return nil, errors.New("format regex needs a regex")
		}
		id := re.SubexpIndex("push_id")
		if id < 0 {
			return nil, fmt.Errorf("regex %q has no named group push_id", re.String())
		}
		return &regexExtractor{re: re, id: id, app: re.SubexpIndex("app"), fast: newFastRegex(re)}, nil
	case FormatJSON:
		if jsonField == "" {
			jsonField = DefaultJSONField
		}
		path := strings.Split(jsonField, ".")
		for _, p := range path {
			if p == "" {
				return nil, fmt.Errorf("json_field %q has an empty path element", jsonField)
			}
		}
		return &jsonExtractor{path: path}, nil
	case FormatPlain:
		return plainExtractor{}, nil
	default:
		return nil, fmt.Errorf("unknown format %q (want regex, json or plain)", format)
	}
}

// validID returns b if it is a valid ID, else the reason it is not.
func validID(b []byte) ([]byte, string) {
	if !pushid.ValidBytes(b) {
		return nil, ReasonInvalidID
	}
	return b, ""
}

func extractOK(e lineExtractor, line []byte) (string, string, bool) {
	id, app, reason := e.extract(line)
	return string(id), string(app), reason == ""
}

type regexExtractor struct {
	re      *regexp.Regexp
	id, app int        // submatch indexes; app is -1 without a group app
	fast    *fastRegex // nil unless re has the shape fastRegex handles
}

func (e *regexExtractor) Extract(line []byte) (string, string, bool) { return extractOK(e, line) }

func (e *regexExtractor) extract(line []byte) ([]byte, []byte, string) {
	if e.fast != nil {
		return e.fast.extract(line)
	}
	return e.slow(line)
}

// slow is extract with the regexp engine.
func (e *regexExtractor) slow(line []byte) ([]byte, []byte, string) {
	m := e.re.FindSubmatchIndex(line)
	if m == nil || m[2*e.id] < 0 {
		return nil, nil, ReasonNoID
	}
	id, reason := validID(line[m[2*e.id]:m[2*e.id+1]])
	if reason != "" {
		return nil, nil, reason
	}
	var app []byte
	if e.app >= 0 && m[2*e.app] < m[2*e.app+1] {
		app = line[m[2*e.app]:m[2*e.app+1]]
	}
	return id, app, ""
}

// jsonExtractor finds a dotted path in lines that are JSON objects. It
// gives the results decoding each level into a map[string]json.RawMessage
// would give (keys match exactly after unescaping, the last of duplicate
// keys wins), at about the cost of json.Valid: decoding into a map was
// most of the CPU time of a JSON log's ingest.
type jsonExtractor struct {
	path []string
}

func (e *jsonExtractor) Extract(line []byte) (string, string, bool) { return extractOK(e, line) }

func (e *jsonExtractor) extract(line []byte) ([]byte, []byte, string) {
	raw := bytes.TrimSpace(line)
	if len(raw) == 0 {
		return nil, nil, ReasonNoID
	}
	// member walks the line trusting it to be valid JSON.
	if !json.Valid(raw) {
		return nil, nil, ReasonBadJSON
	}
	for _, key := range e.path {
		v, ok := member(raw, key)
		if !ok {
			return nil, nil, ReasonNoID // no such key, or not an object here
		}
		raw = v
	}
	switch c := raw[0]; {
	case c == '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner) {
			// Escapes, or invalid UTF-8 that decoding replaces by U+FFFD.
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, nil, ReasonBadJSON
			}
			inner = []byte(s)
		}
		id, reason := validID(inner)
		return id, nil, reason
	case c == '-' || ('0' <= c && c <= '9'):
		id, reason := validID(raw) // a number's JSON text, e.g. 144115
		return id, nil, reason
	default: // null, bool, object, array
		return nil, nil, ReasonNoID
	}
}

type plainExtractor struct{}

// extractHashed is extract with the ID's hash, checked and hashed in one
// pass (pushid.HashValid): a plain log's lines are mostly just that.
func (plainExtractor) extractHashed(line []byte) ([]byte, uint64, string) {
	b := bytes.TrimSpace(line)
	if len(b) == 0 {
		return nil, 0, ReasonNoID
	}
	h, ok := pushid.HashValid(b)
	if !ok {
		return nil, 0, ReasonInvalidID
	}
	return b, h, ""
}

func (e plainExtractor) Extract(line []byte) (string, string, bool) { return extractOK(e, line) }

func (plainExtractor) extract(line []byte) ([]byte, []byte, string) {
	b := bytes.TrimSpace(line)
	if len(b) == 0 {
		return nil, nil, ReasonNoID
	}
	id, reason := validID(b)
	return id, nil, reason
}
