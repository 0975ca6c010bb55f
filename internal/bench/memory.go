package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
)

// Benchmark 5, memory and its growth (issue 15 §3): for 10 k, 100 k and
// 1 M pending PushIDs (sample ratio 1, 40-byte IDs like Tencent's), a
// child process builds the state with a real state file, offering the IDs
// in 100 chunks, each saved by a checkpoint (Durable) as they would be
// over time. Then, in fresh processes, the state is loaded from the file
// as at start-up, and a few checkpoints of new IDs are timed on it.
// Reported per size: the live heap per pending ID after GC, the peak RSS
// of the child (its VmHWM), the load time and the time of one checkpoint;
// and the growth exponents, the log-log slope between the smallest and
// the largest size, of load time and of memory: 1 is linear.
//
// The loads run in rounds, one process per size, the sizes in an order
// that rotates from round to round; each round gives its own slope, and
// the table prints their median and spread (min–max).
//
// With max_pending ≥ N every ID stays pending (and is in the dedup set);
// with max_pending 1 each new ID pushes the previous one out (queue_full),
// leaving N dedup entries and nothing pending: their difference is the
// cost of the pending record alone.

type memoryArgs struct {
	Dir        string
	N          int
	MaxPending int
	Chunk      int
	HeapProf   string
	Settle     time.Duration // idle time before RSS is read again (RSSSettled)
	// Load restores the state in Dir instead of building it, then times
	// Checkpoints checkpoints of Chunk new IDs each.
	Load        bool
	Checkpoints int
	CPUProf     string // CPU profile of the load, "" for none
	GCPercent   int    // debug.SetGCPercent for the child, 0 for the default (GOGC)
	MemLimit    int64  // debug.SetMemoryLimit for the child (GOMEMLIMIT), 0 for none
}

type memoryResult struct {
	HeapDelta float64 // bytes of live heap added by the N IDs
	PerID     float64
	Pending   float64
	RSS       int64 // VmRSS after loading
	RSSAnon   int64 // of which anonymous memory (the Go heap and runtime)
	RSSFile   int64 // and file pages (the state file's mmap)
	HWM       int64 // VmHWM
	HeapSys   int64 // runtime.MemStats.HeapSys - HeapReleased: heap memory the runtime holds
	// After Settle of idleness (the runtime returns freed memory gradually).
	RSSSettled, HeapSysSettled int64
	FileBytes                  int64 // state.db size after the last checkpoint
	// Load only: store.Open (with its check) and New + SetApps + Restore,
	// and the median of the timed checkpoints.
	OpenSec, RestoreSec, CheckpointSec float64
	// Load only: the same two parts of VmRSS after the timed checkpoints.
	CheckpointedRSSAnon, CheckpointedRSSFile int64
	PeakRSS                                  int64 // the child's VmHWM at its end, filled in from its reply
}

func (r memoryResult) loadSec() float64 { return r.OpenSec + r.RestoreSec }

// memorySize is what was measured at one size.
type memorySize struct {
	n            int
	built, dedup memoryResult
	loads        []memoryResult // one per round
	lowGC        []memoryResult // the largest size only: loaded with GOGC=lowGCPercent
	memLimit     []memoryResult // the largest size only: loaded with GOMEMLIMIT=memLimitBytes
	builtLimited memoryResult   // the largest size only: built with GOMEMLIMIT=memLimitBytes
}

// lowGCPercent is the GOGC of the extra load of the largest size. The
// pending records hold no pointers, so a collection costs little however
// many are pending, and a lower GOGC trades that little for the heap
// headroom (GOGC=100 lets the heap reach twice the live heap).
const lowGCPercent = 25

// memLimitBytes is the GOMEMLIMIT of a third load of the largest size: the
// soft limit a user can set (the environment variable) to make the
// runtime collect before the heap doubles, instead of lowering GOGC for
// the whole life of the process.
const memLimitBytes = 250 << 20

func runMemory(o *options) ([]row, error) {
	sizes, rounds, ckpts := []int{10_000, 100_000, 1_000_000}, 3, 5
	if o.quick {
		sizes, rounds, ckpts = []int{1_000, 4_000, 16_000}, 2, 2
	}
	// Size 0, an empty state file, is the baseline: what the process
	// needs with nothing saved, measured in the same rounds.
	sizes = append([]int{0}, sizes...)
	all := make([]*memorySize, len(sizes))
	for i, n := range sizes {
		s, err := buildMemory(o, n)
		if err != nil {
			return nil, err
		}
		all[i] = s
	}
	defer func() {
		for _, s := range all {
			os.RemoveAll(memoryDir(o, s.n))
		}
	}()
	// The largest state built once more under the memory limit: a process
	// that takes in its pending PushIDs as it runs, instead of loading them.
	hi := all[len(all)-1]
	limited := filepath.Join(o.tmp, "mem-limited")
	var err error
	hi.builtLimited.PeakRSS, err = runChild("memory", memoryArgs{Dir: limited, N: hi.n, MaxPending: hi.n, Chunk: max(1000, hi.n/100), MemLimit: memLimitBytes}, 0, "", &hi.builtLimited)
	os.RemoveAll(limited)
	if err != nil {
		return nil, err
	}
	logf("memory: built %d pending with GOMEMLIMIT=%d: %+v", hi.n, memLimitBytes, hi.builtLimited)
	// load runs one load of s's state in a fresh process. Each load starts
	// from the state as built: the timed checkpoints change the copy it
	// loads.
	load := func(s *memorySize, args memoryArgs, what string, round int) (memoryResult, error) {
		dir := filepath.Join(o.tmp, "mem-load")
		if err := copyDir(memoryDir(o, s.n), dir); err != nil {
			return memoryResult{}, err
		}
		defer os.RemoveAll(dir)
		args.Dir, args.N, args.MaxPending, args.Chunk = dir, s.n, s.n+ckpts*1000, 1000
		args.Load, args.Checkpoints = true, ckpts
		var res memoryResult
		peak, err := runChild("memory", args, 0, "", &res)
		if err != nil {
			return memoryResult{}, err
		}
		res.PeakRSS = peak
		logf("memory: load %d pending%s, round %d: %+v", s.n, what, round+1, res)
		return res, nil
	}
	for r := range rounds {
		for i := range all {
			s := all[(i+r)%len(all)]
			prof := ""
			if r == rounds-1 && s.n == sizes[len(sizes)-1] {
				prof = o.profilePath("memory-load.cpu.pprof")
			}
			res, err := load(s, memoryArgs{CPUProf: prof, HeapProf: o.profilePath(fmt.Sprintf("memory-load-%d.heap.pprof", s.n))}, "", r)
			if err != nil {
				return nil, err
			}
			s.loads = append(s.loads, res)
			if s.n != sizes[len(sizes)-1] {
				continue
			}
			if res, err = load(s, memoryArgs{GCPercent: lowGCPercent}, fmt.Sprintf(" with GOGC=%d", lowGCPercent), r); err != nil {
				return nil, err
			}
			s.lowGC = append(s.lowGC, res)
			if res, err = load(s, memoryArgs{MemLimit: memLimitBytes}, fmt.Sprintf(" with GOMEMLIMIT=%d", memLimitBytes), r); err != nil {
				return nil, err
			}
			s.memLimit = append(s.memLimit, res)
		}
	}
	return memoryRows(all, rounds), nil
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func memoryDir(o *options, n int) string { return filepath.Join(o.tmp, fmt.Sprintf("mem-%d", n)) }

// buildMemory makes the state file of n pending IDs, and measures n dedup
// entries alone (max_pending 1) to tell the two apart.
func buildMemory(o *options, n int) (*memorySize, error) {
	s := &memorySize{n: n}
	chunk := max(1000, n/100)
	var err error
	if s.built.PeakRSS, err = runChild("memory", memoryArgs{Dir: memoryDir(o, n), N: n, MaxPending: max(n, 1), Chunk: chunk,
		HeapProf: o.profilePath(fmt.Sprintf("memory-build-%d.heap.pprof", n))}, 0, "", &s.built); err != nil {
		return nil, err
	}
	if n == 0 {
		return s, nil
	}
	dd := filepath.Join(o.tmp, "mem-dedup")
	defer os.RemoveAll(dd)
	if s.dedup.PeakRSS, err = runChild("memory", memoryArgs{Dir: dd, N: n, MaxPending: 1, Chunk: chunk}, 0, "", &s.dedup); err != nil {
		return nil, err
	}
	logf("memory: built %d pending: %+v; %d dedup entries: %+v", n, s.built, n, s.dedup)
	return s, nil
}

func memoryRows(all []*memorySize, rounds int) []row {
	base := all[0]
	// Above the baseline of the same round: what the pending IDs add.
	heapAdded := func(s *memorySize, r int) float64 { return s.loads[r].HeapDelta - base.loads[r].HeapDelta }
	loadAdded := func(s *memorySize, r int) float64 { return s.loads[r].loadSec() - base.loads[r].loadSec() }
	perRound := func(s *memorySize, f func(*memorySize, int) float64) float64 {
		xs := make([]float64, rounds)
		for r := range xs {
			xs[r] = f(s, r)
		}
		return median(xs)
	}
	field := func(f func(memoryResult) float64) func(*memorySize, int) float64 {
		return func(s *memorySize, r int) float64 { return f(s.loads[r]) }
	}
	var rows []row
	for _, s := range all[1:] {
		loaded := perRound(s, heapAdded) / float64(s.n)
		loadPeak := perRound(s, field(func(r memoryResult) float64 { return float64(r.PeakRSS) }))
		peak := max(float64(s.built.PeakRSS), loadPeak)
		rows = append(rows, row{
			bench: fmt.Sprintf("memory per pending PushID, %s pending (40-byte IDs)", si(float64(s.n))),
			figure: fmt.Sprintf("%.0f B per pending ID after loading, %.0f B after building (of which %.0f B its dedup entry and %.0f B the pending record); live heap after GC. "+
				"Peak RSS %s (building %s, loading %s; after loading VmRSS %s, Go heap held %s). "+
				"Load %s (open and check %s, restore %s; %s more than an empty state). One checkpoint of 1,000 new IDs %s. State file %s. Medians of %d rounds",
				loaded, s.built.PerID, s.dedup.PerID, s.built.PerID-s.dedup.PerID,
				mb(peak), mb(float64(s.built.PeakRSS)), mb(loadPeak),
				mb(perRound(s, field(func(r memoryResult) float64 { return float64(r.RSS) }))),
				mb(perRound(s, field(func(r memoryResult) float64 { return float64(r.HeapSys) }))),
				ms(sec(perRound(s, field(memoryResult.loadSec)))),
				ms(sec(perRound(s, field(func(r memoryResult) float64 { return r.OpenSec })))),
				ms(sec(perRound(s, field(func(r memoryResult) float64 { return r.RestoreSec })))),
				ms(sec(perRound(s, loadAdded))),
				ms(sec(perRound(s, field(func(r memoryResult) float64 { return r.CheckpointSec })))),
				mb(float64(s.built.FileBytes)), rounds),
			target: "≤ 200 B per ID; peak RSS ≤ 300 MB at 1 M",
			met:    verdict(loaded <= 200 && s.built.PerID <= 200 && (s.n < 1_000_000 || peak <= 300e6) && allPending(s)),
		})
	}
	lo, hi := all[1], all[len(all)-1]
	slopes := func(f func(*memorySize, int) float64) spread {
		xs := make([]float64, rounds)
		for r := range xs {
			xs[r] = logSlope(float64(lo.n), f(lo, r), float64(hi.n), f(hi, r))
		}
		return spreadOf(xs)
	}
	load, heap := slopes(loadAdded), slopes(heapAdded)
	rss := slopes(field(func(r memoryResult) float64 { return float64(r.PeakRSS) }))
	ckpt := slopes(field(func(r memoryResult) float64 { return r.CheckpointSec }))
	rows = append(rows, row{
		bench: fmt.Sprintf("memory growth from %s to %s pending (log-log slope; 1 is linear)", si(float64(lo.n)), si(float64(hi.n))),
		figure: fmt.Sprintf("load time %s and live heap %s, both above an empty state's; peak RSS of the load %s (absolute); "+
			"one checkpoint of 1,000 new IDs %s (0: independent of what is pending); median (min–max) of %d rounds' slopes",
			slopeString(load), slopeString(heap), slopeString(rss), slopeString(ckpt), rounds),
		target: "linear: slope ≤ 1.05",
		met:    verdict(load.med <= 1.05 && heap.med <= 1.05),
	})
	lowPeak, lowLoad := medianPeakAndLoad(hi.lowGC)
	rows = append(rows, row{
		bench: fmt.Sprintf("peak RSS loading %s pending with GOGC=%d", si(float64(hi.n)), lowGCPercent),
		figure: fmt.Sprintf("%s (with the default GOGC %s); load %s (default %s); median of %d rounds",
			mb(lowPeak), mb(perRound(hi, field(func(r memoryResult) float64 { return float64(r.PeakRSS) }))),
			ms(sec(lowLoad)), ms(sec(perRound(hi, field(memoryResult.loadSec)))), len(hi.lowGC)),
		target: "≤ 300 MB",
		met:    verdict(lowPeak <= 300e6),
	})
	limPeak, limLoad := medianPeakAndLoad(hi.memLimit)
	rows = append(rows, row{
		bench: fmt.Sprintf("peak RSS loading %s pending with GOMEMLIMIT=%dMiB", si(float64(hi.n)), memLimitBytes>>20),
		figure: fmt.Sprintf("%s; load %s (default %s); median of %d rounds",
			mb(limPeak), ms(sec(limLoad)), ms(sec(perRound(hi, field(memoryResult.loadSec)))), len(hi.memLimit)),
		target: "≤ 300 MB",
		met:    verdict(limPeak <= 300e6),
	})
	rows = append(rows, row{
		bench: fmt.Sprintf("peak RSS building %s pending with GOMEMLIMIT=%dMiB", si(float64(hi.n)), memLimitBytes>>20),
		figure: fmt.Sprintf("%s (with no limit %s): a process that takes in its %s pending PushIDs in 100 checkpoints, instead of loading them",
			mb(float64(hi.builtLimited.PeakRSS)), mb(float64(hi.built.PeakRSS)), si(float64(hi.n))),
		target: "≤ 300 MB",
		met:    verdict(hi.builtLimited.PeakRSS <= 300e6),
	})
	rows = append(rows, row{
		bench: "memory per dedup entry",
		figure: fmt.Sprintf("%s (live heap after GC); state file %s at %s entries (%.1f B each)",
			dedupFigures(all[1:]), mb(float64(hi.dedup.FileBytes)), si(float64(hi.n)), float64(hi.dedup.FileBytes)/float64(hi.n)),
	})
	return rows
}

// medianPeakAndLoad are the median peak RSS and load time of loads.
func medianPeakAndLoad(loads []memoryResult) (peak, load float64) {
	var ps, ls []float64
	for _, r := range loads {
		ps, ls = append(ps, float64(r.PeakRSS)), append(ls, r.loadSec())
	}
	return median(ps), median(ls)
}

func allPending(s *memorySize) bool {
	if s.built.Pending < float64(s.n) {
		return false
	}
	for _, r := range s.loads {
		if r.Pending < float64(s.n) {
			return false
		}
	}
	return true
}

func dedupFigures(all []*memorySize) string {
	var parts []string
	for _, s := range all {
		parts = append(parts, fmt.Sprintf("%.1f B at %s entries", s.dedup.PerID, si(float64(s.n))))
	}
	return strings.Join(parts, ", ")
}

// perID is delta shared among n IDs (0 for none: JSON has no NaN).
func perID(delta float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return delta / float64(n)
}

// logSlope is the growth exponent k of y = c·x^k through two points.
func logSlope(x0, y0, x1, y1 float64) float64 {
	return math.Log(y1/y0) / math.Log(x1/x0)
}

func slopeString(s spread) string { return fmt.Sprintf("%.2f (%.2f–%.2f)", s.med, s.lo, s.hi) }

// childMemory builds or loads N PushIDs in a collector and measures it.
func childMemory(raw json.RawMessage, _ string) (any, error) {
	var a memoryArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if a.GCPercent > 0 {
		debug.SetGCPercent(a.GCPercent)
	}
	if a.MemLimit > 0 {
		debug.SetMemoryLimit(a.MemLimit)
	}
	if a.Load {
		return loadMemory(a)
	}
	st, _, err := store.Open(a.Dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	c, err := newPipeline(st, reg, ledger.Options{MaxDedup: max(a.MaxPending, 1_000_000)}, memoryApp(a.MaxPending))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	save := func() error {
		c.Offer(source.Batch{})
		return c.Durable(ctx)
	}
	if err := save(); err != nil {
		return nil, err
	}
	before := liveHeap()
	for i := 0; i < a.N; i += a.Chunk {
		offer(c, memoryIDs(i, min(i+a.Chunk, a.N)))
		if err := c.Durable(ctx); err != nil {
			return nil, err
		}
	}
	if err := save(); err != nil {
		return nil, err
	}
	after := liveHeap()
	res := measure(before, after, a.N, reg)
	if a.Settle > 0 {
		time.Sleep(a.Settle)
		res.RSSSettled, res.HeapSysSettled = procStatus("VmRSS"), heapHeld()
	}
	if err := writeHeapProfile(a.HeapProf); err != nil {
		return nil, err
	}
	cancel()
	if err := <-runDone; err != nil {
		return nil, err
	}
	if fi, err := os.Stat(st.Path()); err == nil {
		res.FileBytes = fi.Size()
	}
	runtime.KeepAlive(c)
	return res, nil
}

// loadMemory restores the state in a.Dir as the exporter does at start,
// measures it, then times checkpoints of new IDs on it. The scheduler does
// not run: nothing else works meanwhile.
func loadMemory(a memoryArgs) (any, error) {
	before := liveHeap()
	stop, err := startCPUProfile(a.CPUProf)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	st, _, err := store.Open(a.Dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t1 := time.Now()
	reg := prometheus.NewRegistry()
	c, err := newPipeline(st, reg, ledger.Options{MaxDedup: max(a.MaxPending, 1_000_000)}, memoryApp(a.MaxPending))
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	stop()
	after := liveHeap()
	res := measure(before, after, a.N, reg)
	res.OpenSec, res.RestoreSec = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds()
	if err := writeHeapProfile(a.HeapProf); err != nil {
		return nil, err
	}
	var times []float64
	for i := range a.Checkpoints {
		from := a.N + i*a.Chunk
		start := time.Now()
		offer(c, memoryIDs(from, from+a.Chunk))
		if err := c.Checkpoint(); err != nil {
			return nil, err
		}
		times = append(times, time.Since(start).Seconds())
	}
	res.CheckpointSec = median(slices.Clone(times))
	res.CheckpointedRSSAnon, res.CheckpointedRSSFile = procStatus("RssAnon"), procStatus("RssFile")
	runtime.KeepAlive(c)
	return res, nil
}

func memoryApp(maxPending int) benchApp {
	return benchApp{name: benchAppTag, ratio: 1, queryDelay: time.Hour, requeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute},
		maxPending: maxPending, tracer: idleTracer{}}
}

// memoryIDs are the PushIDs numbered [from, to), seen now.
func memoryIDs(from, to int) []pushid.ID {
	seen := time.Now()
	ids := make([]pushid.ID, 0, to-from)
	for j := from; j < to; j++ {
		ids = append(ids, pushid.ID{App: benchAppTag, PushID: fmt.Sprintf("144115233406643804-1764036003-%010d", j),
			Source: pushid.SourceWebhook, Seen: seen})
	}
	return ids
}

// heapHeld is the heap memory the runtime holds from the OS.
func heapHeld() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapSys - m.HeapReleased)
}

// liveHeap is HeapAlloc after two collections (the second frees what the
// first's finalizers released).
func liveHeap() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// measure is what a memory child reports of itself once n PushIDs are
// pending: the live heap it grew by (from before to after) and the
// process's memory as the kernel sees it.
func measure(before, after float64, n int, reg prometheus.Gatherer) memoryResult {
	return memoryResult{
		HeapDelta: after - before,
		PerID:     perID(after-before, n),
		Pending:   gatherSum(reg, "timpush_exporter_pending_pushids", nil),
		RSS:       procStatus("VmRSS"),
		RSSAnon:   procStatus("RssAnon"),
		RSSFile:   procStatus("RssFile"),
		HWM:       procStatus("VmHWM"),
		HeapSys:   heapHeld(),
	}
}
