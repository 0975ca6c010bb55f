package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// mtail is the anchor of the regex rows: the tailer most exporters of this
// kind are compared with. It cannot be built from the Go module proxy;
// Debian's package can be unpacked without installing it (see README.md).
// It runs with -one_shot (read the file from its start to its end, print
// the metrics, exit) and a program that counts the lines the same regex
// matches, pinned like the other runs. Its figure is the process's CPU
// time less that of the same run on an empty file (start-up, compiling the
// program), measured in the same round.

// findMtail returns flagPath, or mtail from PATH, or "".
func findMtail(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	p, err := exec.LookPath("mtail")
	if err != nil {
		return ""
	}
	return p
}

// mtailCount finds the count in mtail's output, printed as a float (1e+06).
var mtailCount = regexp.MustCompile(`(?m)^pushids\{[^}]*\} (\S+)`)

// runMtail reads path (lines long) with mtail and returns lines per
// CPU-second.
func runMtail(o *options, mtail, path string, lines int64) (float64, error) {
	progs := filepath.Join(o.tmp, "mtail-progs")
	if err := os.MkdirAll(progs, 0o755); err != nil {
		return 0, err
	}
	prog := "counter pushids\n/" + ingestRegex.String() + "/ {\n  pushids++\n}\n"
	if err := os.WriteFile(filepath.Join(progs, "ids.mtail"), []byte(prog), 0o644); err != nil {
		return 0, err
	}
	empty := filepath.Join(o.tmp, "mtail-empty.log")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return 0, err
	}
	base, _, err := mtailOnce(mtail, progs, empty)
	if err != nil {
		return 0, err
	}
	cpu, count, err := mtailOnce(mtail, progs, path)
	if err != nil {
		return 0, err
	}
	if count != lines/2 {
		return 0, fmt.Errorf("mtail counted %d IDs, want %d", count, lines/2)
	}
	return float64(lines) / (cpu - base).Seconds(), nil
}

// mtailOnce runs mtail -one_shot over log and returns its CPU time and the
// count it printed.
func mtailOnce(mtail, progs, log string) (time.Duration, int64, error) {
	args := []string{"-progs", progs, "-logs", log, "-one_shot", "-one_shot_format", "prometheus", "-logtostderr"}
	cmd := pinned(mtail, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("mtail: %w: %s", err, errOut.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, fmt.Errorf("mtail: no rusage")
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var count float64
	if m := mtailCount.FindSubmatch(out.Bytes()); m != nil {
		count, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return cpu, int64(count), nil
}
