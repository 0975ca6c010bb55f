package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
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

// jsonStdlib is a bare json loop with encoding/json: Unmarshal into
// struct{ PushID *string } plus the ID check. Its figure is printed next
// to the json row, to show what the extractor itself gained.
const jsonStdlib = "json-stdlib"

// bareExtractor is the plain-Go equivalent of each format's extraction,
// returning one string per ID.
//
// regex: the same regexp; its character class is the ID check.
//
// json and plain: the product's own Extractor. It includes the ID check
// the product applies (pushid.ValidBytes), which a regexp's character
// class does implicitly and which an Unmarshal or a TrimSpace alone would
// leave out. Until the JSON extractor walked the text itself (json.Valid,
// then the keys), the bare json loop was json.Unmarshal into
// struct{ PushID *string }, and the bare plain loop TrimSpace plus a check
// for spaces; both without the ID check.
//
// The File source copies the IDs of a batch into one string, where these
// loops make one per ID (Extract's result).
func bareExtractor(format string) func([]byte) (string, bool) {
	if format == source.FormatRegex {
		id := ingestRegex.SubexpIndex("push_id")
		return func(line []byte) (string, bool) {
			m := ingestRegex.FindSubmatchIndex(line)
			if m == nil {
				return "", false
			}
			return string(line[m[2*id]:m[2*id+1]]), true
		}
	}
	if format == jsonStdlib {
		return func(line []byte) (string, bool) {
			var v struct{ PushID *string }
			if json.Unmarshal(line, &v) != nil || v.PushID == nil || !pushid.Valid(*v.PushID) {
				return "", false
			}
			return *v.PushID, true
		}
	}
	e, err := source.NewExtractor(format, nil, "")
	if err != nil {
		panic(err) // format is one of ingestFormats
	}
	return func(line []byte) (string, bool) {
		id, _, ok := e.Extract(line)
		return id, ok
	}
}
