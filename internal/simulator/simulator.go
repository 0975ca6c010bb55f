// Package simulator is an independent stand-in for Tencent Cloud Chat's push
// REST API (normal_push_trace, normal_push_statistics, normal_push_loss) and
// its push result callback (Push.OfflinePush). It checks requests the way
// Tencent does (POST, query parameters, UserSig, a per-app rate limit),
// serves deterministic, realistic traces whose stages become visible over
// time, can inject network and server faults, and says which callback
// events Tencent would post for each push, and when (see PushEvents and
// CallbackSender).
//
// A push's trace is a pure function of the seed, its PushID, its send time
// (a whole second) and the failure rates in force then. By default the
// simulator registers every push it makes (about 1 KB each); in light mode
// (Config.Stateless) it stores nothing and rebuilds a trace from the PushID,
// which carries its send time, so runs of simulated weeks fit in memory.
//
// It shares no code with the client (internal/timapi) on purpose: it is the
// contract the client is tested against, written from the documentation.
// The exporter's --demo mode and the end-to-end tests run against it.
package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// App is one SDKAppID the simulator accepts.
type App struct {
	SDKAppID   int64
	Identifier string // the App administrator account
	SecretKey  string // key UserSigs are verified with
}

// Faults are per-call probabilities in [0,1], drawn from the seeded RNG
// before a call is answered. All are zero by default.
type Faults struct {
	HTTP502        float64 // HTTP 502 with an HTML body, as a gateway sends
	Internal90102  float64 // ErrorCode 90102 "internal error, try again later"
	Stall          float64 // wait StallFor (on the Clock) before answering normally
	CutJSON        float64 // a valid reply truncated mid-way
	RateLimitCode  float64 // ErrorCode 60007 although the limit was respected
	UserSigExpired float64 // ErrorCode 70001 although the UserSig is valid
	StallFor       time.Duration

	// CallbackRedelivery is the probability that a push callback event is
	// delivered a second time, identical, later (Tencent retries callbacks
	// that exceeded its frequency limit). Drawn per event, not per call.
	CallbackRedelivery float64
}

// DefaultStallFor is Faults.StallFor when it is left zero.
const DefaultStallFor = 4 * time.Second

// Config configures a Simulator.
type Config struct {
	Apps []App
	// RateLimit is the number of calls allowed per SDKAppID in any sliding
	// one-second window (all three endpoints together). Zero or negative
	// means 1; +Inf disables the limit. Below 1 it means one call per
	// 1/RateLimit seconds; above 1 the fraction is dropped.
	RateLimit float64
	// Clock drives reveal times, the rate window and stalls; nil means clock.Real{}.
	Clock clock.Clock
	// UserSigClock is what a UserSig's expiry is checked against; nil
	// means Clock. Tencent's library stamps a UserSig with the wall clock,
	// so a run in simulated time far from it checks against the wall clock.
	UserSigClock clock.Clock
	// Retention is how long registered pushes are kept (default 31 days,
	// longer than any query window). A long-running demo keeps a day.
	Retention time.Duration
	Seed      int64
	// Faults to inject; see Faults.
	Faults Faults
	// DeviceFailure overrides, by PushPlatform, the default probability that
	// the device stage fails once the vendor channel accepted the push.
	DeviceFailure map[int]float64
	// ChannelFailure overrides, by PushPlatform, the default probability
	// (2.5 %) that the vendor channel refuses a push.
	ChannelFailure map[int]float64
	// Stateless selects light mode: NewPush stores nothing, and a trace or
	// the callback events of a PushID are rebuilt from the send time its
	// PushID carries ("<tiny id>-<unix seconds>-<random>") and the failure
	// rates in force then. Memory stays flat however many pushes are made.
	// In light mode:
	//   - any well-formed PushID not older than 7 days is known, under every
	//     SDKAppID, and a PushID of another shape is unknown; RegisterPush
	//     does nothing;
	//   - Revealed returns nil;
	//   - statistics and loss have no pushes to count: they answer OK with
	//     zero totals and empty lists.
	Stateless bool
}

// Stats counts the calls made for one SDKAppID. Calls whose sdkappid is
// missing or unknown are counted under SDKAppID 0.
type Stats struct {
	Calls              int // every request that reached the handler
	OK                 int // complete successful replies (ActionStatus OK, not cut)
	OverLimit          int // calls that exceeded the rate limit (answered 60007)
	RateLimitedReplies int // every 60007 reply: OverLimit plus injected ones
	AuthFailures       int // genuine identity / UserSig / unknown-app failures
	BadRequests        int // malformed method, path, URL or body
	FaultsInjected     int // calls whose reply a fault changed (stalls included)
}

// Outcome is one reported stage of one instance of one push, as delivered
// in a complete, successful trace reply.
type Outcome struct {
	SDKAppID   int64
	PushID     string
	InstanceID string
	Platform   int    // the instance's PushPlatform (0 for online-only instances)
	Stage      string // "im", "offline", "channel", "device", "click", "online_channel", "online_device"
	Status     int    // 1 success, 2 failure
	ErrorCode  int
}

// retention is how long registered pushes are kept: longer than any query
// window (traces 7 days, statistics 30 days), so memory stays bounded in a
// long-running --demo.
const retention = 31 * 24 * time.Hour

// Simulator serves the fake API. Its methods are safe for concurrent use.
type Simulator struct {
	retention time.Duration
	clock     clock.Clock
	sigClock  clock.Clock
	seed      int64
	faults    Faults
	apps      map[int64]App
	limitN    int           // calls allowed per window
	limitW    time.Duration // window length
	limited   bool

	stateless bool

	mu       sync.Mutex
	pushes   map[pushKey]*push // empty in light mode
	order    []pushKey         // registration order, for expiry
	history  []rateChange      // failure rates over time; never empty
	idRNG    *rand.Rand        // PushIDs made by NewPush
	faultRNG *rand.Rand
	windows  map[int64]*window
	stats    map[int64]*Stats

	srv *http.Server
}

type pushKey struct {
	app int64
	id  string
}

// New returns a simulator for cfg.
func New(cfg Config) *Simulator {
	s := &Simulator{
		clock:     cfg.Clock,
		seed:      cfg.Seed,
		faults:    cfg.Faults,
		stateless: cfg.Stateless,
		history:   []rateChange{{rates: configuredRates(cfg)}},
		apps:      make(map[int64]App, len(cfg.Apps)),
		pushes:    make(map[pushKey]*push),
		idRNG:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		faultRNG:  rand.New(rand.NewPCG(uint64(cfg.Seed), 0xfa017fa017)),
		windows:   make(map[int64]*window),
		stats:     make(map[int64]*Stats),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	s.retention = cfg.Retention
	if s.retention <= 0 {
		s.retention = retention
	}
	s.sigClock = cfg.UserSigClock
	if s.sigClock == nil {
		s.sigClock = s.clock
	}
	if s.faults.StallFor <= 0 {
		s.faults.StallFor = DefaultStallFor
	}
	for _, a := range cfg.Apps {
		s.apps[a.SDKAppID] = a
	}
	s.limitN, s.limitW, s.limited = limitFor(cfg.RateLimit)
	s.faults.CallbackRedelivery = clamp01(s.faults.CallbackRedelivery)
	return s
}

func limitFor(perSecond float64) (n int, w time.Duration, limited bool) {
	switch {
	case math.IsInf(perSecond, 1):
		return 0, 0, false
	case perSecond <= 0 || math.IsNaN(perSecond):
		return 1, time.Second, true
	case perSecond < 1:
		return 1, time.Duration(float64(time.Second) / perSecond), true
	case perSecond > 1e6:
		return 0, 0, false
	}
	return int(perSecond), time.Second, true
}

func clamp01(p float64) float64 {
	if math.IsNaN(p) || p < 0 {
		return 0
	}
	return math.Min(p, 1)
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the base URL to give the client, e.g. "http://127.0.0.1:41234".
func (s *Simulator) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", fmt.Errorf("simulator already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator: listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go s.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server started by Start, dropping open connections (which
// also ends stalled requests). It is a no-op if Start was not called.
func (s *Simulator) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// sentNow is the send time of a push made now: the Clock's time to the
// whole second, all that PushTime and a PushID can show. It is made as
// light mode makes it from a PushID, so that times compare equal.
func (s *Simulator) sentNow() time.Time { return time.Unix(s.clock.Now().Unix(), 0) }

// NewPush makes a push sent now (per the Clock) and returns its PushID,
// shaped like a message ID: "<sender tiny id>-<client time>-<random>",
// the client time being the send time in unix seconds. It registers the
// push, except in light mode.
func (s *Simulator) NewPush(sdkappid int64) string {
	at := s.sentNow()
	s.mu.Lock()
	var id string
	for {
		tiny := 144115200000000000 + s.idRNG.Int64N(100000000000)
		id = formatPushID(tiny, at.Unix(), s.idRNG.Uint32())
		if _, dup := s.pushes[pushKey{sdkappid, id}]; !dup {
			break
		}
	}
	s.mu.Unlock()
	if !s.stateless {
		s.register(sdkappid, id, at)
	}
	return id
}

// RegisterPush registers a push with a caller-chosen ID, sent now. A second
// registration of the same app and ID is ignored. In light mode it does
// nothing: a PushID is known there only by its shape and the time in it.
func (s *Simulator) RegisterPush(sdkappid int64, pushID string) {
	if !s.stateless {
		s.register(sdkappid, pushID, s.sentNow())
	}
}

func (s *Simulator) register(app int64, id string, at time.Time) {
	s.mu.Lock()
	rates := s.ratesAtLocked(at)
	s.mu.Unlock()
	p := generate(s.seed, id, at, rates) // pure; outside the lock
	key := pushKey{app, id}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.pushes[key]; dup {
		return
	}
	s.pushes[key] = p
	s.order = append(s.order, key)
	for len(s.order) > 0 {
		old, ok := s.pushes[s.order[0]]
		if ok && !old.at.Before(at.Add(-s.retention)) {
			break
		}
		delete(s.pushes, s.order[0])
		s.order = s.order[1:]
	}
}

// Stats returns the counters of sdkappid (0: calls with a missing or unknown sdkappid).
func (s *Simulator) Stats(sdkappid int64) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[sdkappid]; st != nil {
		return *st
	}
	return Stats{}
}

// statsLocked returns the counters of app, creating them. s.mu must be held.
func (s *Simulator) statsLocked(app int64) *Stats {
	st := s.stats[app]
	if st == nil {
		st = &Stats{}
		s.stats[app] = st
	}
	return st
}

// Revealed returns every stage outcome delivered in a complete, successful
// trace reply, once each, ordered by app, PushID, instance and stage. It is
// not available in light mode, which keeps no pushes: there it returns nil.
func (s *Simulator) Revealed() []Outcome {
	s.mu.Lock()
	keys := make([]pushKey, 0, len(s.pushes))
	for k, p := range s.pushes {
		if p.anyRevealed {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].app != keys[j].app {
			return keys[i].app < keys[j].app
		}
		return keys[i].id < keys[j].id
	})
	var out []Outcome
	for _, k := range keys {
		p := s.pushes[k]
		for i := range p.instances {
			in := &p.instances[i]
			for st := range numStages {
				if !in.revealed[st] {
					continue
				}
				ev := in.stages[st]
				out = append(out, Outcome{SDKAppID: k.app, PushID: k.id, InstanceID: in.id,
					Platform: in.platform, Stage: stageNames[st], Status: ev.status, ErrorCode: ev.code})
			}
		}
	}
	s.mu.Unlock()
	return out
}

// itoa is strconv.Itoa for int64s, used for instance and cert IDs.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
