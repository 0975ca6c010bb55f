package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/ledger"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
	"github.com/timpush/timpush_exporter/internal/store"
)

// Benchmark 5, memory: a child process offers N new PushIDs (sample ratio
// 1, 40-byte IDs like Tencent's) to a collector with a real state file, in
// chunks, each saved by a checkpoint (Durable) as they would be over time,
// and reports the live heap growth after GC, VmRSS and VmHWM.
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
}

func runMemory(o *options) ([]row, error) {
	n, big, settle := 100_000, 1_000_000, 30*time.Second
	if o.quick {
		n, big, settle = 5_000, 20_000, 0
	}
	var pend, dd, ddBig memoryResult
	if _, err := runChild("memory", memoryArgs{Dir: filepath.Join(o.tmp, "mem-pending"), N: n, MaxPending: n, Chunk: 1000,
		HeapProf: o.profilePath("memory-pending.heap.pprof"), Settle: settle}, 0, "", &pend); err != nil {
		return nil, err
	}
	if _, err := runChild("memory", memoryArgs{Dir: filepath.Join(o.tmp, "mem-dedup"), N: n, MaxPending: 1, Chunk: 1000}, 0, "", &dd); err != nil {
		return nil, err
	}
	if _, err := runChild("memory", memoryArgs{Dir: filepath.Join(o.tmp, "mem-dedup-big"), N: big, MaxPending: 1, Chunk: max(1000, big/100)}, 0, "", &ddBig); err != nil {
		return nil, err
	}
	for _, d := range []string{"mem-pending", "mem-dedup", "mem-dedup-big"} {
		os.RemoveAll(filepath.Join(o.tmp, d))
	}
	logf("memory: pending %+v; dedup %+v; dedup %d: %+v", pend, dd, big, ddBig)
	return []row{
		{
			bench: fmt.Sprintf("memory per pending PushID (%s pending, 40-byte IDs)", si(float64(n))),
			figure: fmt.Sprintf("%.0f B per pending PushID (live heap after GC), of which %.0f B its dedup entry and %.0f B the pending record",
				pend.PerID, dd.PerID, pend.PerID-dd.PerID),
			target: "≤ 200 B",
			met:    verdict(pend.PerID <= 200 && pend.Pending >= float64(n)),
		},
		{
			bench: fmt.Sprintf("RSS at %s pending", si(float64(n))),
			figure: fmt.Sprintf("VmRSS %s right after loading (anonymous %s, of which Go heap held %s for %s live; file-backed %s: the state file's mmap), %s after %s idle (heap held %s); peak (VmHWM) %s; state file %s",
				mb(float64(pend.RSS)), mb(float64(pend.RSSAnon)), mb(float64(pend.HeapSys)), mb(pend.HeapDelta), mb(float64(pend.RSSFile)),
				mb(float64(pend.RSSSettled)), settle, mb(float64(pend.HeapSysSettled)), mb(float64(pend.HWM)), mb(float64(pend.FileBytes))),
			target: "≤ 100 MB",
			met:    verdict(pend.HWM <= 100e6),
		},
		{
			bench: "memory per dedup entry",
			figure: fmt.Sprintf("%.1f B at %s entries, %.1f B at %s entries (live heap after GC); state file %s at %s entries (%.1f B each)",
				dd.PerID, si(float64(n)), ddBig.PerID, si(float64(big)), mb(float64(ddBig.FileBytes)), si(float64(big)), float64(ddBig.FileBytes)/float64(big)),
		},
	}, nil
}

// childMemory loads N PushIDs into a collector and measures it.
func childMemory(raw json.RawMessage, _ string) (any, error) {
	var a memoryArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	st, _, err := store.Open(a.Dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	c, err := newPipeline(st, reg, ledger.Options{MaxDedup: max(a.N, 1_000_000)}, benchApp{name: benchAppTag, ratio: 1,
		queryDelay: time.Hour, requeryAfter: []time.Duration{5 * time.Minute, 30 * time.Minute}, maxPending: a.MaxPending, tracer: idleTracer{}})
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
	seen := time.Now()
	for i := 0; i < a.N; i += a.Chunk {
		ids := make([]pushid.ID, 0, a.Chunk)
		for j := i; j < min(i+a.Chunk, a.N); j++ {
			ids = append(ids, pushid.ID{App: benchAppTag, PushID: fmt.Sprintf("144115233406643804-1764036003-%010d", j),
				Source: pushid.SourceWebhook, Seen: seen})
		}
		offer(c, ids)
		if err := c.Durable(ctx); err != nil {
			return nil, err
		}
	}
	if err := save(); err != nil {
		return nil, err
	}
	after := liveHeap()
	res := memoryResult{
		HeapDelta: after - before,
		PerID:     (after - before) / float64(a.N),
		Pending:   gatherSum(reg, "timpush_exporter_pending_pushids", nil),
		RSS:       procStatus("VmRSS"),
		RSSAnon:   procStatus("RssAnon"),
		RSSFile:   procStatus("RssFile"),
		HWM:       procStatus("VmHWM"),
		HeapSys:   heapHeld(),
	}
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
