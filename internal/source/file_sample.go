package source

import "github.com/timpush/timpush_exporter/internal/pushid"

// fileSampler decides, line by line, which PushIDs a File hands on. Most
// of a busy log's IDs are only counted: deciding on the ID's bytes, before
// any string or batch entry exists, was worth 14 % of a regex log's ingest
// CPU (batch building and the GC work it made).
//
// The sink's answer for an app covers the next AskEvery of its IDs. It is
// asked for them ahead, as Sink.Ratio wants (so a burst is cut within
// them), and again at the first ID of each poll, so that a slow log does
// not use an old answer for minutes. Then the IDs of the last answer that
// were not used yet are not reported twice: the sink is told only of the
// new ones (AskEvery minus the unused).
type fileSampler struct {
	sink     Sink
	apps     map[string]*appSampling
	last     *appSampling // the app of the last ID: a log is usually all one app's
	received []pushid.Count
}

type appSampling struct {
	name   string
	ratio  float64
	known  bool
	left   int  // IDs the last answer still covers
	fresh  bool // asked during this poll
	recvAt int  // index in received, -1 when not counted since the last take
}

// maxSampledApps bounds the apps remembered: the app group of a regex can
// name any number of unknown apps. Past it, the table starts again.
const maxSampledApps = 1024

func newFileSampler(sink Sink) *fileSampler {
	return &fileSampler{sink: sink, apps: make(map[string]*appSampling)}
}

// newPoll makes the next ID of every app ask the sink again.
func (s *fileSampler) newPoll() {
	for _, a := range s.apps {
		a.fresh = false
	}
}

// keep counts one PushID of app with hash h as received and reports
// whether it is handed on.
func (s *fileSampler) keep(app string, h uint64) bool {
	a := s.last
	if a == nil || a.name != app {
		a = s.lookup(app)
		s.last = a
	}
	if a.left == 0 || !a.fresh {
		a.ratio, a.known = s.sink.Ratio(app, AskEvery-a.left)
		a.left, a.fresh = AskEvery, true
	}
	a.left--
	if a.recvAt < 0 {
		a.recvAt = len(s.received)
		s.received = append(s.received, pushid.Count{App: app, Source: pushid.SourceFile})
	}
	s.received[a.recvAt].N++
	return a.known && pushid.Sampled(h, a.ratio)
}

func (s *fileSampler) lookup(app string) *appSampling {
	if a, ok := s.apps[app]; ok {
		return a
	}
	if len(s.apps) >= maxSampledApps {
		s.apps = make(map[string]*appSampling) // counts not taken yet stay in received
	}
	a := &appSampling{name: app, recvAt: -1}
	s.apps[app] = a
	return a
}

// take returns the counts since the last take, for one Offer. The slice
// is reused: Sink.Offer does not keep it.
func (s *fileSampler) take() []pushid.Count {
	r := s.received
	for _, c := range r {
		if a, ok := s.apps[c.App]; ok {
			a.recvAt = -1
		}
	}
	s.received = s.received[:0]
	return r
}
