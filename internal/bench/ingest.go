package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/timpush/timpush_exporter/internal/source"
)

// Benchmark 1, file ingest: a generated log read from the start by a File
// source that offers into a real collector (with its state file and
// checkpoint loop), against a bare Go loop over the same file and, for the
// regex format, mtail. Every run is a process of its own on one pinned
// core (taskset, GOMAXPROCS=1); its figure is lines per CPU-second of the
// whole process. The File run is timed until its lines-read counter
// reaches the file's line count. Rounds are paired (paired.go).

// ingestRegex is the README's example regex.
var ingestRegex = regexp.MustCompile(`msg_id=(?P<push_id>[0-9A-Za-z_-]+)`)

// ingestRatio is the fixed sample ratio: tiny, so that the figure is the
// intake path (read, extract, hash, sample) and not the query pipeline.
const ingestRatio = 0.001

var ingestFormats = []string{source.FormatRegex, source.FormatJSON, source.FormatPlain}

// Targets of issue 15: regex ≥ 1.5× the bare regexp loop and ≥ 8× mtail;
// json and plain ≥ 0.9 of their bare loops.
const (
	regexVsBare  = 1.5
	regexVsMtail = 8.0
	otherVsBare  = 0.9
)

type ingestArgs struct {
	Format, Path, StoreDir string
	Lines                  int64 // the file's lines: the run ends when all are read
	Ratio                  float64
	Auto                   bool
}

type ingestResult struct {
	Seconds float64 // wall time of the measured section
	CPU     float64 // CPU time (user + system, all threads) of the process during it
	Lines   int64
	IDs     int64
	Sampled float64 // timpush_exporter_pushids_sampled_total as last served
	Ratio   float64 // timpush_exporter_sample_ratio at the end
}

func (r ingestResult) perCPU() float64 { return float64(r.Lines) / r.CPU }

func runIngest(o *options) ([]row, error) {
	lines, rounds := 2_000_000, 5
	if o.quick {
		lines, rounds = 10_000, 1
	}
	files := map[string]string{}
	for _, f := range ingestFormats {
		path := filepath.Join(o.tmp, "ingest-"+f+".log")
		size, err := writeIngestFile(path, f, lines)
		if err != nil {
			return nil, err
		}
		logf("ingest: wrote %s: %s lines, %.0f bytes/line", path, si(float64(lines)), float64(size)/float64(lines))
		files[f] = path
	}
	defer func() {
		for _, p := range files {
			os.Remove(p)
		}
	}()
	mtail := findMtail(o.mtail)
	if mtail == "" {
		logf("ingest: no mtail (-mtail or PATH): the regex rows go without it (see README.md in this directory)")
	}
	var rows []row
	if o.wantFixed() {
		for _, f := range ingestFormats {
			r, err := ingestFormat(o, f, files[f], lines, rounds, false, mtail)
			if err != nil {
				return rows, err
			}
			rows = append(rows, r)
		}
	}
	if o.wantAuto() {
		r, err := ingestFormat(o, source.FormatRegex, files[source.FormatRegex], lines, rounds, true, mtail)
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// ingestFormat runs the File source and its baselines in paired rounds and
// makes the format's row.
func ingestFormat(o *options, format, path string, lines, rounds int, auto bool, mtail string) (row, error) {
	var last ingestResult
	var fileWall []float64
	var rss, bareRSS int64
	product := contender{"File", func(round int) (float64, error) {
		args := ingestArgs{Format: format, Path: path, Lines: int64(lines), Ratio: ingestRatio, Auto: auto,
			StoreDir: filepath.Join(o.tmp, fmt.Sprintf("ingest-%s-%v-%d", format, auto, round))}
		profile := ""
		if round == rounds-1 && !auto {
			profile = o.profilePath("ingest-" + format + ".cpu.pprof")
		}
		m, err := runChild("ingest", args, 1, profile, &last)
		os.RemoveAll(args.StoreDir)
		if err != nil {
			return 0, err
		}
		if last.Lines != int64(lines) {
			return 0, fmt.Errorf("read %d lines of %d", last.Lines, lines)
		}
		rss = max(rss, m)
		fileWall = append(fileWall, float64(last.Lines)/last.Seconds)
		logf("ingest %s auto=%v round %d: File→collector %s lines/CPU-s (%s lines/s wall), %.0f sampled", format, auto, round+1,
			si(last.perCPU()), si(float64(last.Lines)/last.Seconds), last.Sampled)
		return last.perCPU(), nil
	}}
	bare := func(name, kind string) contender {
		return contender{name, func(round int) (float64, error) {
			var br ingestResult
			m, err := runChild("bare", ingestArgs{Format: kind, Path: path}, 1, "", &br)
			if err != nil {
				return 0, err
			}
			if name == "bare" {
				bareRSS = max(bareRSS, m)
			}
			logf("ingest %s round %d: %s %s lines/CPU-s", format, round+1, name, si(br.perCPU()))
			return br.perCPU(), nil
		}}
	}
	baselines := []contender{bare("bare", format)}
	if format == source.FormatJSON && !auto {
		baselines = append(baselines, bare("encoding/json", jsonStdlib))
	}
	if format == source.FormatRegex && mtail != "" {
		baselines = append(baselines, contender{"mtail", func(round int) (float64, error) {
			v, err := runMtail(o, mtail, path, int64(lines))
			if err == nil {
				logf("ingest %s round %d: mtail %s lines/CPU-s", format, round+1, si(v))
			}
			return v, err
		}})
	}
	res, err := runPaired(rounds, product, baselines...)
	if err != nil {
		return row{}, err
	}
	return ingestRow(format, lines, auto, res, last, median(fileWall), rss, bareRSS, mtail != ""), nil
}

// ingestRow prints the medians of each contender and the paired ratios.
// It judges by CPU time: the machine is shared, and lines per CPU-second
// of a one-core process is what it does with a core of its own.
func ingestRow(format string, lines int, auto bool, res *pairedResult, last ingestResult, wall float64, rss, bareRSS int64, haveMtail bool) row {
	sampling := fmt.Sprintf("sample_ratio %g", ingestRatio)
	if auto {
		sampling = "sample_ratio auto"
	}
	vsBare := spreadOf(res.ratios("File", "bare"))
	fig := fmt.Sprintf("File→collector %s lines/CPU-s (%s lines/s wall, peak RSS %s); bare loop %s lines/CPU-s (peak RSS %s); File ÷ bare %s",
		si(res.median("File")), si(wall), mb(float64(rss)), si(res.median("bare")), mb(float64(bareRSS)), vsBare)
	target, ok := fmt.Sprintf("≥ %g× the bare loop", otherVsBare), vsBare.med >= otherVsBare
	if format == source.FormatRegex {
		target, ok = fmt.Sprintf("≥ %g× the bare loop, ≥ %g× mtail", regexVsBare, regexVsMtail), vsBare.med >= regexVsBare
		if haveMtail {
			vsMtail := spreadOf(res.ratios("File", "mtail"))
			fig += fmt.Sprintf("; mtail %s lines/CPU-s, File ÷ mtail %s", si(res.median("mtail")), vsMtail)
			ok = ok && vsMtail.med >= regexVsMtail
		} else {
			fig += "; mtail not found, not compared"
			ok = false
		}
	}
	if _, have := res.values["encoding/json"]; have {
		fig += fmt.Sprintf("; for reference, a bare loop with encoding/json (Unmarshal into a struct, same ID check): %s lines/CPU-s, File ÷ it %s",
			si(res.median("encoding/json")), spreadOf(res.ratios("File", "encoding/json")))
	}
	if auto {
		fig += fmt.Sprintf("; %.0f sampled, ratio in force at the end %.3g", last.Sampled, last.Ratio)
	}
	fig += fmt.Sprintf(" (ratios: median of %d paired rounds, min–max)", res.rounds)
	return row{
		bench:  fmt.Sprintf("ingest %s, %s lines, 1 pinned core, %s", format, si(float64(lines)), sampling),
		figure: fig,
		target: target,
		met:    verdict(ok),
	}
}

// writeIngestFile writes n lines of format, half of them with an ID.
func writeIngestFile(path, format string, n int) (int64, error) {
	fh, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	var size int64
	var buf []byte
	for i := range n {
		buf = ingestLine(buf[:0], format, i)
		size += int64(len(buf))
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return 0, err
	}
	return size, fh.Close()
}

// ingestID is the PushID of line i, shaped like Tencent's MsgIDs.
func ingestID(i int) string { return fmt.Sprintf("144115233406643804-1764036001-%010d", i) }

// ingestLine appends line i of format (with its newline). Even lines carry
// an ID. regex and json lines are padded to 140 bytes; plain ID lines are
// the bare 40-byte ID and the others 240 bytes of text (so 140 on average).
func ingestLine(b []byte, format string, i int) []byte {
	ts := fmt.Sprintf("2026-11-25T10:%02d:%02d.%06dZ", i/60000%60, i/1000%60, i%1000000)
	switch format {
	case source.FormatRegex:
		if i%2 == 0 {
			b = fmt.Appendf(b, `%s level=info msg="sendmsg ok" to=user%d msg_id=%s took=%dms`, ts, i%977, ingestID(i), i%50)
		} else {
			b = fmt.Appendf(b, `%s level=debug msg="cache refreshed" entries=%d region=ap-shanghai took=%dms`, ts, i, i%7)
		}
		return append(pad(b, 139, " node=im-gw-07"), '\n')
	case source.FormatJSON:
		if i%2 == 0 {
			b = fmt.Appendf(b, `{"ts":"%s","level":"info","msg":"sendmsg ok","to":"user%d","PushID":"%s","took_ms":%d`, ts, i%977, ingestID(i), i%50)
		} else {
			b = fmt.Appendf(b, `{"ts":"%s","level":"debug","msg":"cache refreshed","entries":%d,"region":"ap-shanghai","took_ms":%d`, ts, i, i%7)
		}
		b = append(b, `,"trace":"`...)
		return append(pad(b, 137, "0123456789abcdef"), "\"}\n"...)
	default:
		if i%2 == 0 {
			return append(append(b, ingestID(i)...), '\n')
		}
		b = fmt.Appendf(b, "%s level=debug msg=\"cache refreshed\" entries=%d region=ap-shanghai", ts, i)
		return append(pad(b, 239, " node=im-gw-07 shard=12"), '\n')
	}
}

// pad extends b with filler (repeated, the last copy cut to fit) to width bytes.
func pad(b []byte, width int, filler string) []byte {
	for len(b) < width {
		b = append(b, filler[:min(len(filler), width-len(b))]...)
	}
	return b
}
