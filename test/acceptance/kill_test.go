package acceptance

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

// Schedule of TestKillAndRestart.
const (
	feedFor      = 30 * time.Second // the log file and the webhook are fed this long
	killsInFeed  = 3                // SIGKILLs while input flows
	maxDowntime  = 1500 * time.Millisecond
	scrapeEvery  = 200 * time.Millisecond
	feedInterval = 600 * time.Millisecond // each feeder waits 1x-2x this between writes
)

// TestKillAndRestart feeds a log file and the webhook continuously, kills
// the exporter with SIGKILL at random moments (three times while input
// flows, once while requeries are pending) and restarts it on the same
// --storage.path. The log is rotated by rename + create while the exporter
// is down after the first two kills, and while it runs shortly before the
// third, so that the kill may come while the old file is being read to
// its end. A scraper reads /metrics every 200 ms throughout and no
// persisted counter may ever go down, across restarts included. Every ID
// written to the file and every ID of a webhook request answered 2xx must be
// counted once (the webhook feeder retries what failed while the exporter
// was down, as Tencent does), and the final counters must equal the traces
// served, with no call over the limit.
func TestKillAndRestart(t *testing.T) {
	skipShort(t)
	t.Parallel()
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	env := newEnv(t, seed, simulator.Faults{})
	exp := env.exp
	exp.startReady()
	led := newLedger()
	start := time.Now()
	since := func() string { return time.Since(start).Round(time.Millisecond).String() }

	mon := newMonitor(exp.metricsAddr)
	monDone := make(chan struct{})
	go func() { defer close(monDone); mon.run(scrapeEvery) }()

	// feedCtx ends the feed; abortCtx, at the end of the test, also ends
	// the webhook feeder's retries (after a failure the exporter may be
	// gone for good).
	feedCtx, stopFeed := context.WithTimeout(context.Background(), feedFor)
	defer stopFeed()
	abortCtx, abort := context.WithCancel(context.Background())
	var feeders sync.WaitGroup
	t.Cleanup(func() {
		abort()
		feeders.Wait()
		mon.stop()
		<-monDone
	})
	log := newRotatingLog(t, filepath.Join(env.logDir, "push.log"))
	fileRNG := rand.New(rand.NewPCG(rng.Uint64(), 2))
	hookRNG := rand.New(rand.NewPCG(rng.Uint64(), 3))
	feeders.Add(2)
	fileErr := make(chan error, 1)
	go func() { defer feeders.Done(); fileErr <- feedFile(feedCtx, log, env.sim, led, fileRNG) }()
	type result struct {
		stats string
		err   error
	}
	hookResult := make(chan result, 1)
	go func() {
		defer feeders.Done()
		stats, err := feedWebhook(feedCtx, abortCtx, env.hooks(), env.sim, led, hookRNG)
		hookResult <- result{stats, err}
	}()

	// Kill times: one in each third of the feed, plus one after it, while
	// the last PushIDs wait for their requeries.
	var killAt []time.Duration
	slot := feedFor / killsInFeed
	for i := range killsInFeed {
		killAt = append(killAt, time.Duration(i)*slot+slot/4+time.Duration(rng.Int64N(int64(slot/2))))
	}
	killAt = append(killAt, feedFor+5*time.Second+time.Duration(rng.Int64N(int64(15*time.Second))))
	for i, at := range killAt {
		down := time.Duration(rng.Int64N(int64(maxDowntime)))
		t.Logf("kill %d planned at +%v, down for %v", i+1, at.Round(time.Millisecond), down.Round(time.Millisecond))
		if i == 2 {
			before := time.Duration(rng.Int64N(int64(time.Second)))
			time.Sleep(time.Until(start.Add(at - before)))
			log.rotate(fmt.Sprintf("%s.%d", log.path, i+1))
			t.Logf("+%s: log rotated while running, %v before the kill", since(), before.Round(time.Millisecond))
		}
		time.Sleep(time.Until(start.Add(at)))
		if i == len(killAt)-1 {
			feeders.Wait() // the webhook feeder's retries are over: nothing is in flight
		}
		exp.kill()
		env.note(fmt.Sprintf("SIGKILL %d", i+1))
		mon.restarted()
		t.Logf("+%s: SIGKILL %d", since(), i+1)
		if i < 2 {
			time.Sleep(down / 2)
			log.rotate(fmt.Sprintf("%s.%d", log.path, i+1)) // outside the glob push*.log
			t.Logf("+%s: log rotated while down", since())
			down -= down / 2
		}
		time.Sleep(down)
		exp.start()
		env.note(fmt.Sprintf("restart %d", i+1))
		exp.waitReady(20 * time.Second)
		t.Logf("+%s: restarted, ready", since())
	}
	if err := <-fileErr; err != nil {
		t.Fatal(err)
	}
	hr := <-hookResult
	if hr.err != nil {
		t.Fatalf("webhook feeder: %v", hr.err)
	}
	t.Logf("webhook feeder: %s", hr.stats)

	good := led.goodSet()
	settle(t, exp, len(good), 2*lastQuery+60*time.Second)
	mon.stop()
	<-monDone
	s, monotonic, err := scrapeTyped(exp.metricsAddr()) // settled: nothing changes any more
	if err != nil {
		t.Fatal(err)
	}
	final := s.persisted(monotonic)
	mon.check(t, final)
	checkSampled(t, s, len(good))
	// Counters and file positions are saved together: replaying from the
	// saved positions, rotated files included, counts every line once.
	if got, want := s.get(mReceived, "app", appName, "source", pushid.SourceFile), led.occurrences[pushid.SourceFile]; got != float64(want) {
		t.Errorf("%s{source=file} = %v, want %d (the file lines with an ID)", mReceived, got, want)
	}
	compareWithServed(t, s, env.sim, good)
	env.checkRateLimit()
	t.Logf("%d distinct PushIDs (%d file lines with an ID, %d webhook IDs answered 2xx, %d deliberate duplicates); duplicates counted %v, received %v",
		len(good), led.occurrences[pushid.SourceFile], led.occurrences[pushid.SourceWebhook], led.dups,
		s.get(mDup, "app", appName), s.family(mReceived))

	// A clean stop and start serve the same counters.
	exp.stop()
	exp.startReady()
	after, monotonic, err := scrapeTyped(exp.metricsAddr())
	if err != nil {
		t.Fatal(err)
	}
	diffSamples(t, "after a restart", after.persisted(monotonic), "before", final)
	exp.stop()
}

// testSeed is ACCEPTANCE_SEED if set, else a new seed; it is logged so a
// failing run can be replayed.
func testSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if v := os.Getenv("ACCEPTANCE_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ACCEPTANCE_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with ACCEPTANCE_SEED=%d)", seed, seed)
	return seed
}

// feedFile appends lines to the log until ctx ends: mostly one new ID,
// sometimes junk, sometimes an ID written before.
func feedFile(ctx context.Context, f io.StringWriter, sim *simulator.Simulator, led *ledger, rng *rand.Rand) error {
	var written []string
	for n := 0; ; n++ {
		var line string
		switch x := rng.IntN(10); {
		case x == 0 && len(written) > 0:
			id := written[rng.IntN(len(written))]
			line = idLine(n, id)
			led.deliver(pushid.SourceFile, id)
		case x == 1:
			line = "INFO nothing to see \xff\xfe here\n"
		default:
			id := sim.NewPush(appID)
			written = append(written, id)
			line = idLine(n, id)
			led.deliver(pushid.SourceFile, id)
		}
		if _, err := f.WriteString(line); err != nil {
			return err
		}
		if !sleepCtx(ctx, feedInterval+time.Duration(rng.Int64N(int64(feedInterval)))) {
			return nil
		}
	}
}

// feedWebhook sends requests until ctx ends, alternating between the JSON
// endpoint and Tencent callbacks, each with one or two new IDs and
// sometimes one sent before. A request is retried until it is answered 2xx,
// as Tencent retries a callback; its IDs count as delivered only then. A
// 4xx reply is an error: retrying would not help.
func feedWebhook(ctx, abort context.Context, h *hooks, sim *simulator.Simulator, led *ledger, rng *rand.Rand) (string, error) {
	var sent []string
	requests, failures := 0, map[string]int{}
	for n := 0; ; n++ {
		ids := []string{sim.NewPush(appID)}
		if rng.IntN(2) == 0 {
			ids = append(ids, sim.NewPush(appID))
		}
		if len(sent) > 0 && rng.IntN(5) == 0 {
			ids = append(ids, sent[rng.IntN(len(sent))])
		}
		kind := n % 3
		if kind == 2 && len(ids) > 1 {
			kind = 1 // a C2C callback carries one MsgId
		}
		for {
			var (
				code int
				err  error
			)
			// Not ctx: a request started before the end is seen through.
			reqCtx, cancel := context.WithTimeout(abort, 20*time.Second)
			switch kind {
			case 0:
				code, err = h.pushIDs(reqCtx, h.bearerToken, "application/json", jsonIDs(ids...))
			case 1:
				code, err = h.tencent(reqCtx, h.callbackToken, cmdOfflinePush, time.Now(), offlinePushBody(ids...))
			default:
				code, err = h.tencent(reqCtx, h.callbackToken, cmdC2C, time.Now(), sendMsgBody(cmdC2C, ids[0]))
			}
			cancel()
			if err == nil && code/100 == 2 {
				break
			}
			if err == nil && code/100 == 4 {
				return "", fmt.Errorf("request %d (IDs %v) answered %d", n, ids, code)
			}
			if err != nil {
				failures["error"]++
			} else {
				failures[http.StatusText(code)]++
			}
			if !sleepCtx(abort, 100*time.Millisecond) {
				return "", abort.Err()
			}
		}
		requests++
		led.deliver(pushid.SourceWebhook, ids...)
		sent = append(sent, ids...)
		if !sleepCtx(ctx, feedInterval+time.Duration(rng.Int64N(int64(feedInterval)))) {
			return fmt.Sprintf("%d requests answered 2xx; failed attempts retried: %v", requests, failures), nil
		}
	}
}

// rotatingLog is the log feedFile writes, rotated by the test as logrotate
// does with a writer that reopens its log at once: rename, then create.
type rotatingLog struct {
	t    *testing.T
	path string
	mu   sync.Mutex
	f    *os.File
}

func newRotatingLog(t *testing.T, path string) *rotatingLog {
	t.Helper()
	l := &rotatingLog{t: t, path: path}
	l.f = l.open()
	t.Cleanup(func() { l.f.Close() })
	return l
}

func (l *rotatingLog) open() *os.File {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	return f
}

func (l *rotatingLog) WriteString(s string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.WriteString(s)
}

// rotate renames the log to to and goes on writing to a new log.
func (l *rotatingLog) rotate(to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.Rename(l.path, to); err != nil {
		l.t.Fatal(err)
	}
	l.f.Close()
	l.f = l.open()
}

// sleepCtx sleeps d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// monitor scrapes /metrics on a ticker and remembers, for every persisted
// series, the highest value seen; a lower value later (in the same run or
// after a restart) is a violation.
type monitor struct {
	addr     func() string // the current run's metrics listener, "" while down
	quit     chan struct{}
	stopOnce sync.Once

	mu         sync.Mutex
	gen        int // the run being scraped, counted from 0; incremented at each restart
	last       map[string]seen
	violations []string
	scrapes    int
	perRun     map[int]int
}

type seen struct {
	v   float64
	run int
	at  time.Time
}

func newMonitor(addr func() string) *monitor {
	return &monitor{addr: addr, quit: make(chan struct{}), last: map[string]seen{}, perRun: map[int]int{}}
}

func (m *monitor) run(every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-tk.C:
		}
		s, monotonic, err := scrapeTyped(m.addr())
		if err != nil {
			continue // down, or starting
		}
		m.observe(s.persisted(monotonic))
	}
}

func (m *monitor) observe(s samples) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scrapes++
	m.perRun[m.gen]++
	now := time.Now()
	for k, v := range s {
		if prev, ok := m.last[k]; ok && v < prev.v {
			m.violations = append(m.violations, fmt.Sprintf("%s went down from %v (run %d, %s) to %v (run %d, %s)",
				k, prev.v, prev.run+1, prev.at.Format("15:04:05.000"), v, m.gen+1, now.Format("15:04:05.000")))
		}
		if prev, ok := m.last[k]; !ok || v >= prev.v {
			m.last[k] = seen{v, m.gen, now}
		}
	}
}

// restarted marks the start of the next run (for the report only).
func (m *monitor) restarted() {
	m.mu.Lock()
	m.gen++
	m.mu.Unlock()
}

func (m *monitor) stop() { m.stopOnce.Do(func() { close(m.quit) }) }

// check reports every decrease seen, and every series seen at some point
// that the final scrape lacks or shows lower.
func (m *monitor) check(t *testing.T, final samples) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	runs := make([]int, 0, len(m.perRun))
	for r := range m.perRun {
		runs = append(runs, r)
	}
	sort.Ints(runs)
	t.Logf("scraper: %d scrapes over %d runs (per run %v), %d persisted series tracked", m.scrapes, len(runs), m.perRun, len(m.last))
	for _, v := range firstN(m.violations, 30) {
		t.Errorf("counter decreased: %s", v)
	}
	if len(m.violations) > 30 {
		t.Errorf("… %d decreases in all", len(m.violations))
	}
	for k, prev := range m.last {
		if v, ok := final[k]; !ok || v < prev.v {
			t.Errorf("%s: %v at the end (present: %v), %v seen before", k, v, ok, prev.v)
		}
	}
}
