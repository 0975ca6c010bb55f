package simulator

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// Longest windows Tencent accepts.
const (
	statisticsMaxWindow = 30 * 24 * time.Hour
	lossMaxWindow       = 7 * 24 * time.Hour
)

type platformStat struct {
	PushPlatform   int
	TotalCount     int
	SentCount      int
	DeliveredCount int
	ClickCount     int
}

type statisticsReply struct {
	ActionStatus       string
	ErrorCode          int
	ErrorInfo          string
	TotalCount         int // sendable
	SentCount          int // accepted by the vendor channel
	DeliveredCount     int // arrived on the device
	ClickCount         int
	PlatformStatistics []platformStat
}

type lossEntry struct {
	PushPlatform *int `json:",omitempty"`
	ErrCode      string
	ErrCount     int
	ErrInfo      string
}

type lossReply struct {
	ActionStatus                  string
	ErrorCode                     int
	ErrorInfo                     string
	ReadyToSendLoss               []lossEntry // lost before the vendor accepted the push
	PostSendDeliveredLoss         []lossEntry // lost between the vendor and the device
	PlatformReadyToSendLoss       []lossEntry
	PlatformPostSendDeliveredLoss []lossEntry
}

// window parses {StartTime, EndTime} (unix seconds) and checks its length.
func parseWindow(body map[string]json.RawMessage, maxLen time.Duration) (start, end int64, ok bool) {
	for name, dst := range map[string]*int64{"StartTime": &start, "EndTime": &end} {
		raw, present := body[name]
		if !present || json.Unmarshal(raw, dst) != nil {
			return 0, 0, false
		}
	}
	ok = start >= 0 && end >= start && end-start <= int64(maxLen/time.Second)
	return start, end, ok
}

func visible(ev *stageEvent, now time.Time) bool {
	return ev != nil && ev.status != 0 && !now.Before(ev.at)
}

// eachOffline calls fn for every offline-route instance of the app's pushes
// sent within [start, end]. s.mu must be held.
func (s *Simulator) eachOfflineLocked(app, start, end int64, fn func(in *instance)) {
	for k, p := range s.pushes {
		if k.app != app || p.at.Unix() < start || p.at.Unix() > end {
			continue
		}
		for i := range p.instances {
			if p.instances[i].offline {
				fn(&p.instances[i])
			}
		}
	}
}

// statistics answers normal_push_statistics: totals of what is visible now.
func (s *Simulator) statistics(app int64, body map[string]json.RawMessage) reply {
	start, end, ok := parseWindow(body, statisticsMaxWindow)
	if !ok {
		return errReply(codeInvalidParams, "invalid StartTime/EndTime (window at most 30 days)")
	}
	now := s.clock.Now()
	var per [numPlatforms]platformStat
	s.mu.Lock()
	s.eachOfflineLocked(app, start, end, func(in *instance) {
		ps := &per[in.platform]
		for st, n := range map[int]*int{stIM: &ps.TotalCount, stChannel: &ps.SentCount, stDevice: &ps.DeliveredCount, stClick: &ps.ClickCount} {
			if ev := in.stages[st]; visible(ev, now) && ev.status == 1 {
				*n++
			}
		}
	})
	s.mu.Unlock()
	rep := statisticsReply{ActionStatus: "OK", PlatformStatistics: []platformStat{}}
	for p, ps := range per {
		if ps.TotalCount == 0 {
			continue
		}
		ps.PushPlatform = p
		rep.PlatformStatistics = append(rep.PlatformStatistics, ps)
		rep.TotalCount += ps.TotalCount
		rep.SentCount += ps.SentCount
		rep.DeliveredCount += ps.DeliveredCount
		rep.ClickCount += ps.ClickCount
	}
	return okReply(rep, nil)
}

type lossKey struct {
	platform, code int
	info           string
}

// loss answers normal_push_loss: failures visible now, by error code.
func (s *Simulator) loss(app int64, body map[string]json.RawMessage) reply {
	start, end, ok := parseWindow(body, lossMaxWindow)
	if !ok {
		return errReply(codeInvalidParams, "invalid StartTime/EndTime (window at most 7 days)")
	}
	now := s.clock.Now()
	ready, post := map[lossKey]int{}, map[lossKey]int{}
	s.mu.Lock()
	s.eachOfflineLocked(app, start, end, func(in *instance) {
		for _, st := range []int{stOffline, stChannel, stDevice} {
			ev := in.stages[st]
			if !visible(ev, now) || ev.status != 2 {
				continue
			}
			m := ready
			if st == stDevice {
				m = post
			}
			m[lossKey{in.platform, ev.code, ev.info}]++
		}
	})
	s.mu.Unlock()
	rep := lossReply{ActionStatus: "OK"}
	rep.ReadyToSendLoss, rep.PlatformReadyToSendLoss = lossLists(ready)
	rep.PostSendDeliveredLoss, rep.PlatformPostSendDeliveredLoss = lossLists(post)
	return okReply(rep, nil)
}

// lossLists turns counts into the overall and per-platform lists, largest first.
func lossLists(m map[lossKey]int) (all, byPlatform []lossEntry) {
	overall := map[lossKey]int{}
	byPlatform = []lossEntry{}
	for k, n := range m {
		overall[lossKey{0, k.code, k.info}] += n
		p := k.platform
		byPlatform = append(byPlatform, lossEntry{&p, strconv.Itoa(k.code), n, k.info})
	}
	all = []lossEntry{}
	for k, n := range overall {
		all = append(all, lossEntry{nil, strconv.Itoa(k.code), n, k.info})
	}
	sortLoss(all)
	sortLoss(byPlatform)
	return all, byPlatform
}

func sortLoss(l []lossEntry) {
	plat := func(e lossEntry) int {
		if e.PushPlatform == nil {
			return 0
		}
		return *e.PushPlatform
	}
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.ErrCount != b.ErrCount {
			return a.ErrCount > b.ErrCount
		}
		if plat(a) != plat(b) {
			return plat(a) < plat(b)
		}
		if a.ErrCode != b.ErrCode {
			return a.ErrCode < b.ErrCode
		}
		return a.ErrInfo < b.ErrInfo
	})
}
