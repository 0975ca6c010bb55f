package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/timpush/timpush_exporter/internal/source"
)

// childBare is the least a Go program can do with the file: bufio, the
// same extraction, one string per ID.
func childBare(raw json.RawMessage, _ string) (any, error) {
	var a ingestArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	fh, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	extract := bareExtractor(a.Format)
	start, cpu0 := time.Now(), cpuTime()
	r := bufio.NewReaderSize(fh, 64<<10)
	var lines, ids, idBytes int64
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			lines++
			if id, ok := extract(bytes.TrimSuffix(line, []byte{'\n'})); ok {
				ids++
				idBytes += int64(len(id))
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return ingestResult{Seconds: time.Since(start).Seconds(), CPU: (cpuTime() - cpu0).Seconds(), Lines: lines, IDs: ids}, nil
}

// bareExtractor is the plain-Go equivalent of each format's extraction.
func bareExtractor(format string) func([]byte) (string, bool) {
	switch format {
	case source.FormatRegex:
		id := ingestRegex.SubexpIndex("push_id")
		return func(line []byte) (string, bool) {
			m := ingestRegex.FindSubmatchIndex(line)
			if m == nil {
				return "", false
			}
			return string(line[m[2*id]:m[2*id+1]]), true
		}
	case source.FormatJSON:
		return func(line []byte) (string, bool) {
			var v struct{ PushID *string }
			if json.Unmarshal(line, &v) != nil || v.PushID == nil {
				return "", false
			}
			return *v.PushID, true
		}
	default:
		return func(line []byte) (string, bool) {
			b := bytes.TrimSpace(line)
			if len(b) == 0 || bytes.ContainsAny(b, " \t") {
				return "", false
			}
			return string(b), true
		}
	}
}
