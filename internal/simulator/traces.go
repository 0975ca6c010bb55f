package simulator

import (
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Stages, in the order of Outcome.Stage's values.
const (
	stIM = iota
	stOffline
	stChannel
	stDevice
	stClick
	stOnlineChannel
	stOnlineDevice
	numStages
)

var stageNames = [numStages]string{"im", "offline", "channel", "device", "click", "online_channel", "online_device"}

// traceRetention: Tencent keeps trace data 7 days; older pushes get the
// same reply as unknown ones.
const traceRetention = 7 * 24 * time.Hour

// shanghai is UTC+8, the zone of PushTime/EventTime. China has had no DST
// since 1991, so a fixed zone is exact and needs no tzdata.
var shanghai = time.FixedZone("CST", 8*3600)

const timeLayout = "2006-01-02 15:04:05"

func fmtTime(t time.Time) string { return t.In(shanghai).Format(timeLayout) }

// stageEvent is the final outcome of one stage and when it becomes visible.
// status 0 marks a stage that never gets an outcome (a click that does not
// happen) but is listed with PushStatus 0.
type stageEvent struct {
	status     int // 1 success, 2 failure, 0 never reported
	code       int
	info       string
	at         time.Time
	zeroHidden bool // before it is visible: PushStatus 0 (true) or absent (false)
}

type instance struct {
	id, model, system, sysVer string
	token, certID             string
	sdkVer, pushVer           string
	platform, notif, active   int
	snakeCase                 bool // last_active_terminal rather than LastActiveTerminal
	offline, online           bool // has OfflinePushStat / OnlinePushStat
	stages                    [numStages]*stageEvent
	revealed                  [numStages]bool // guarded by Simulator.mu
}

type push struct {
	at          time.Time
	instances   []instance
	anyRevealed bool // guarded by Simulator.mu
}

// generate makes the whole (final) trace of a push. It is a pure function
// of seed, PushID, push time and the failure rates.
func generate(seed int64, id string, at time.Time, rates failureRates) *push {
	h := fnv.New64a()
	h.Write([]byte(id))
	r := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	n := 1
	switch x := r.Float64(); {
	case x >= 0.92:
		n = 3
	case x >= 0.70:
		n = 2
	}
	p := &push{at: at, instances: make([]instance, n)}
	for i := range p.instances {
		genInstance(r, &p.instances[i], at, rates)
	}
	return p
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

func genInstance(r *rand.Rand, in *instance, at time.Time, rates failureRates) {
	v := pickVendor(r)
	in.platform = v.platform
	in.id = itoa(100000000 + r.Int64N(900000000))
	in.system, in.model, in.sysVer = v.system, pick(r, v.models), pick(r, v.versions)
	if v.platform == 0 && r.IntN(3) == 0 { // online only: an iPhone or an Android phone
		ios := vendorFor(1)
		in.system, in.model, in.sysVer = "iOS", pick(r, ios.models), pick(r, ios.versions)
	}
	in.token = v.token(r)
	in.certID = "0"
	if v.platform != 0 && r.Float64() < 0.8 {
		in.certID = itoa(10000 + r.Int64N(90000))
	}
	in.sdkVer = pick(r, []string{"7.9.5666", "8.0.6091", "8.1.6103", "8.2.6325"})
	in.pushVer = pick(r, []string{"", "8.0.6091", "8.1.6116", "8.2.6325"})
	in.notif = 1
	if r.Float64() < 0.10 {
		in.notif = 0
	}
	in.active = r.IntN(2)
	in.snakeCase = r.IntN(2) == 0

	ev := func(status, code int, info string, t time.Time) *stageEvent {
		if status == 1 {
			info = "success"
		}
		return &stageEvent{status: status, code: code, info: info, at: t, zeroHidden: r.IntN(2) == 0}
	}
	t := at.Add(between(r, 0, 400*time.Millisecond))
	in.stages[stIM] = ev(1, 0, "", t)

	if v.platform != 0 {
		in.offline = true
		genOffline(r, in, v, at, t, rates.channel[v.platform], rates.device[v.platform], ev)
	}
	if v.platform == 0 || r.Float64() < 0.15 {
		in.online = true
		// The online route's failure codes are not documented; these are stand-ins.
		oc := t.Add(between(r, 0, time.Second))
		if r.Float64() < 0.01 {
			in.stages[stOnlineChannel] = ev(2, 2, "no online connection", oc)
			return
		}
		in.stages[stOnlineChannel] = ev(1, 0, "", oc)
		od := oc.Add(between(r, 200*time.Millisecond, 5*time.Second))
		if r.Float64() < 0.03 {
			in.stages[stOnlineDevice] = ev(2, 3, "no ack from device", od)
			return
		}
		in.stages[stOnlineDevice] = ev(1, 0, "", od)
	}
}

// genOffline fills offline, channel, device and click. Offline and channel
// become visible within 2 s of the push, the device 2-40 s after it, a click
// 10-120 s after it (and after the device).
func genOffline(r *rand.Rand, in *instance, v *vendor, at, t time.Time, channelFail, deviceFail float64,
	ev func(status, code int, info string, t time.Time) *stageEvent) {
	t = t.Add(between(r, 0, 600*time.Millisecond))
	if r.Float64() < 0.012 {
		in.stages[stOffline] = ev(2, -1, "token not uploaded", t)
		return
	}
	in.stages[stOffline] = ev(1, 0, "", t)
	t = t.Add(between(r, 0, 900*time.Millisecond))
	if r.Float64() < channelFail {
		e := pickErr(r, v.channel)
		in.stages[stChannel] = ev(2, e.code, e.info, t)
		return
	}
	in.stages[stChannel] = ev(1, 0, "", t)
	dev := at.Add(between(r, 2*time.Second, 40*time.Second))
	if r.Float64() < deviceFail {
		e := pickErr(r, v.device)
		in.stages[stDevice] = ev(2, e.code, e.info, dev)
		return
	}
	in.stages[stDevice] = ev(1, 0, "", dev)
	clicked := r.Float64() < 0.12
	click := at.Add(between(r, 10*time.Second, 120*time.Second))
	if !click.After(dev) {
		click = dev.Add(between(r, time.Second, 10*time.Second))
	}
	switch {
	case clicked && in.notif == 1:
		in.stages[stClick] = ev(1, 0, "", click)
	case r.IntN(2) == 0:
		in.stages[stClick] = &stageEvent{zeroHidden: true} // listed forever as PushStatus 0
	}
}

// Wire format of a trace reply.
type statJSON struct {
	PushStatus int
	ErrorCode  int
	ErrorInfo  string
	EventTime  string
}

type instanceJSON struct {
	InstanceId         string //nolint:revive // Tencent's spelling
	PushTime           string
	DeviceModel        string
	System             string
	SystemVersion      string
	PushPlatform       int
	Token              string
	CertId             string //nolint:revive // Tencent's spelling
	SdkVersion         string
	PushVersion        string
	NotificationStatus int
	SnakeActive        *int                        `json:"last_active_terminal,omitempty"`
	LastActiveTerminal *int                        `json:",omitempty"`
	IMCommitStat       *struct{ IMStat *statJSON } `json:",omitempty"`
	OfflinePushStat    *offlineJSON                `json:",omitempty"`
	OnlinePushStat     *onlineJSON                 `json:",omitempty"`
}

type offlineJSON struct {
	OfflineStat *statJSON `json:",omitempty"`
	ChannelStat *statJSON `json:",omitempty"`
	DeviceStat  *statJSON `json:",omitempty"`
	ClickStat   *statJSON `json:",omitempty"`
}

type onlineJSON struct {
	ChannelStat *statJSON `json:",omitempty"`
	DeviceStat  *statJSON `json:",omitempty"`
}

type traceReply struct {
	ActionStatus  string
	ErrorCode     int
	ErrorInfo     string
	InstanceTrace []instanceJSON
}

// shown is one stage rendered with an outcome: instance index and stage.
type shown struct{ inst, stage int }

// render builds the reply of p as seen at now and lists the outcomes in it.
// Stages after a failure are absent; a stage not yet visible is absent or
// PushStatus 0 (fixed per stage at generation).
func render(p *push, now time.Time) ([]instanceJSON, []shown) {
	out := make([]instanceJSON, len(p.instances))
	var seen []shown
	for i := range p.instances {
		in := &p.instances[i]
		j := instanceJSON{InstanceId: in.id, PushTime: fmtTime(p.at), DeviceModel: in.model, System: in.system,
			SystemVersion: in.sysVer, PushPlatform: in.platform, Token: in.token, CertId: in.certID,
			SdkVersion: in.sdkVer, PushVersion: in.pushVer, NotificationStatus: in.notif}
		active := in.active
		if in.snakeCase {
			j.SnakeActive = &active
		} else {
			j.LastActiveTerminal = &active
		}
		var st [numStages]*statJSON
		chain := func(open bool, stages ...int) {
			for _, s := range stages {
				ev := in.stages[s]
				if ev == nil {
					return
				}
				if open && ev.status != 0 && !now.Before(ev.at) {
					st[s] = &statJSON{ev.status, ev.code, ev.info, fmtTime(ev.at)}
					seen = append(seen, shown{i, s})
					open = ev.status == 1
					continue
				}
				open = false
				if ev.zeroHidden {
					st[s] = &statJSON{}
				}
			}
		}
		chain(true, stIM)
		imOK := st[stIM] != nil && st[stIM].PushStatus == 1
		chain(imOK, stOffline, stChannel, stDevice, stClick)
		chain(imOK, stOnlineChannel, stOnlineDevice)
		if st[stIM] != nil {
			j.IMCommitStat = &struct{ IMStat *statJSON }{st[stIM]}
		}
		if o := (offlineJSON{st[stOffline], st[stChannel], st[stDevice], st[stClick]}); in.offline && o != (offlineJSON{}) {
			j.OfflinePushStat = &o
		}
		if o := (onlineJSON{st[stOnlineChannel], st[stOnlineDevice]}); in.online && o != (onlineJSON{}) {
			j.OnlinePushStat = &o
		}
		out[i] = j
	}
	return out, seen
}

// trace answers normal_push_trace for {"PushID": "..."}.
func (s *Simulator) trace(app int64, body map[string]json.RawMessage) reply {
	var id string
	if raw, ok := body["PushID"]; !ok || json.Unmarshal(raw, &id) != nil || id == "" || len(id) > 1024 {
		return errReply(codeInvalidParams, "invalid PushID")
	}
	now := s.clock.Now()
	p := s.known(app, id, now)
	if p == nil {
		// Not documented: the reply for an unknown (or expired) PushID. We
		// answer OK with an empty InstanceTrace, the friendliest guess.
		return okReply(traceReply{"OK", 0, "", []instanceJSON{}}, nil)
	}
	// render reads only what generate wrote, never changed afterwards.
	insts, seen := render(p, now)
	// "sucess" is the spelling of Tencent's own example reply.
	rep := okReply(traceReply{"OK", 0, "sucess", insts}, nil)
	if s.stateless {
		return rep // nothing to remember
	}
	key := pushKey{app, id}
	rep.delivered = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pushes[key] != p {
			return // expired meanwhile
		}
		for _, sh := range seen {
			p.instances[sh.inst].revealed[sh.stage] = true
		}
		p.anyRevealed = p.anyRevealed || len(seen) > 0
	}
	return rep
}
