package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A measurement that needs a process of its own (one core, its own peak
// RSS, a cold start) runs in a child: this same binary (or, under go test,
// the test binary, whose TestMain dispatches the same way) started with
// childEnv set to a childSpec. The child prints its result as JSON.
const childEnv = "TIMPUSH_BENCH_CHILD"

type childSpec struct {
	Kind    string
	Args    json.RawMessage
	Profile string // CPU profile of the measured section, "" for none
}

// childReply is what a child prints: its result and its own peak RSS.
type childReply struct {
	Result  any
	PeakRSS int64 // VmHWM in bytes at the end of the run
}

// childKinds are the measurements a child can run. Each returns a
// JSON-encodable result.
var childKinds = map[string]func(args json.RawMessage, profile string) (any, error){
	"ingest":  childIngest,
	"bare":    childBare,
	"memory":  childMemory,
	"restore": childRestore,
}

func isChild() bool { return os.Getenv(childEnv) != "" }

func childMain() int {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	fn, ok := childKinds[spec.Kind]
	if !ok {
		fmt.Fprintln(os.Stderr, "bench child: unknown kind", spec.Kind)
		return 2
	}
	res, err := fn(spec.Args, spec.Profile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", spec.Kind, err)
		return 1
	}
	// The peak RSS is read here, by the child of itself, and not from the
	// parent's wait4 rusage: Linux carries ru_maxrss across exec, and Go
	// starts a child sharing the parent's memory until it execs, so that
	// figure is never less than the parent's own peak.
	if err := json.NewEncoder(os.Stdout).Encode(childReply{Result: res, PeakRSS: procStatus("VmHWM")}); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// runChild runs kind with args in a new process and decodes its result
// into out. gomaxprocs > 0 sets GOMAXPROCS for the child; 1 also pins it
// to one core (see pinned). It returns the child's peak RSS in bytes, as
// the child read it (VmHWM).
func runChild(kind string, args any, gomaxprocs int, profile string, out any) (int64, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	spec, err := json.Marshal(childSpec{Kind: kind, Args: raw, Profile: profile})
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	if gomaxprocs == 1 {
		cmd = pinned(exe)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	if gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	}
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("child %s: %w", kind, err)
	}
	var reply struct {
		Result  json.RawMessage
		PeakRSS int64
	}
	if err := json.Unmarshal(stdout.Bytes(), &reply); err != nil {
		return 0, fmt.Errorf("child %s: decoding its reply: %w", kind, err)
	}
	if err := json.Unmarshal(reply.Result, out); err != nil {
		return 0, fmt.Errorf("child %s: decoding its result: %w", kind, err)
	}
	return reply.PeakRSS, nil
}

// pinnedCore is the core one-core runs are pinned to: the last, the same
// for a run and its baselines.
var pinnedCore = strconv.Itoa(runtime.NumCPU() - 1)

// pinned is exec.Command(name, args...) run on pinnedCore with taskset,
// where there is one: every thread of the process (the runtime's, the GC's)
// then shares that core, and its CPU time is what the program needs of
// one core. taskset execs the program, so the rusage is the program's.
func pinned(name string, args ...string) *exec.Cmd {
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return exec.Command(name, args...)
	}
	return exec.Command(ts, append([]string{"-c", pinnedCore, name}, args...)...)
}

// startCPUProfile starts a CPU profile into path ("" for none) and returns
// the function that stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes a heap profile into path ("" for none).
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

// procStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM),
// or 0 where there is no /proc.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok || k != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the 1-minute load average (other processes share the
// machine; the figures say how busy it was).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
