package simulator

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// CallbackOfflinePush is the CallbackCommand of the push result events of
// single and group messages.
const CallbackOfflinePush = "Push.OfflinePush"

// PushStage values of the events the simulator makes. Tencent does not
// document what PushStage's values mean (its pages show only the example
// value 1): this numbering is the simulator's own stand-in, and the
// exporter must only ever use the number as a label.
const (
	PushStageChannel = 1 // the vendor channel accepted (ErrCode 0) or refused the push
	PushStageDevice  = 2 // the push arrived on the device, or the vendor reported it did not
	PushStageClick   = 3 // the user clicked the notification (successes only)
)

// EventTypeC2C is EventType 1, a one-to-one message; the simulator makes
// no group pushes (EventType 2).
const EventTypeC2C = 1

// Delivery delays, invented: Tencent does not say how soon it posts a
// result, nor when it retries one.
const (
	minDeliveryDelay   = time.Second      // after the stage's own time
	maxDeliveryDelay   = 5 * time.Second  //
	minRedeliveryDelay = 30 * time.Second // after the first delivery
	maxRedeliveryDelay = 3 * time.Minute  //
)

// PushEvent is one push result event Tencent would post to the app's
// callback URL, with the moment it is delivered. All fields but DeliverAt
// and SDKAppID/InstanceID are those of the callback body (CallbackBody).
type PushEvent struct {
	SDKAppID   int64  // the app (the callback's SdkAppid query parameter)
	InstanceID string // the trace's InstanceId: not part of the body, for matching with the trace

	EventType   int // EventTypeC2C
	FromAccount string
	ToAccount   string
	MsgKey      string // "<MsgSeq>_<MsgRandom>_<MsgTime>"
	MsgSeq      uint32
	MsgRandom   uint32 // the PushID's random part when it has NewPush's shape
	MsgTime     int64  // unix seconds: the push's send time
	PushID      string

	PushPlatform int
	PushStage    int // PushStageChannel, PushStageDevice or PushStageClick
	ErrCode      int // 0 on success, else the vendor code the trace shows for that stage
	ErrInfo      string
	EventTime    time.Time // the stage's own time (the trace's EventTime); whole seconds in the body

	// DeliverAt is when Tencent posts the event: 1-5 s after EventTime, or
	// for a redelivered copy (otherwise identical) 30 s to 3 min after the
	// first delivery.
	DeliverAt time.Time
}

// PushEvents returns the push result events Tencent would send for a push
// the simulator knows (as normal_push_trace would: at most 7 days old),
// ordered by DeliverAt; nil for an unknown push.
//
// Each instance on the offline route gets one event per stage outcome it
// reaches: the vendor channel's verdict, then (if accepted) the device
// arrival's, then (if delivered and clicked) the click. Outcomes, codes,
// texts, platforms and times are the trace's. With
// Faults.CallbackRedelivery an event is also delivered a second time.
// Events are a pure function of the seed, the PushID, the rates in force
// at its send time and CallbackRedelivery, in both modes.
func (s *Simulator) PushEvents(sdkappid int64, pushID string) []PushEvent {
	p := s.known(sdkappid, pushID, s.clock.Now())
	if p == nil {
		return nil
	}
	return pushEvents(s.seed, sdkappid, pushID, p, s.faults.CallbackRedelivery)
}

// eventStream keeps the events' draws apart from the trace's.
const eventStream = 0xca11bac4

var eventStages = [...]struct{ stage, pushStage int }{
	{stChannel, PushStageChannel}, {stDevice, PushStageDevice}, {stClick, PushStageClick},
}

func pushEvents(seed, app int64, id string, p *push, redeliver float64) []PushEvent {
	h := fnv.New64a()
	h.Write([]byte(id))
	r := rand.New(rand.NewPCG(uint64(seed)^eventStream, h.Sum64()))
	base := PushEvent{SDKAppID: app, EventType: EventTypeC2C, PushID: id,
		FromAccount: "user" + strconv.Itoa(r.IntN(1000000)), ToAccount: "user" + strconv.Itoa(r.IntN(1000000)),
		MsgSeq: 1 + r.Uint32N(1<<24), MsgRandom: r.Uint32(), MsgTime: p.at.Unix()}
	if _, random, ok := parsePushID(id); ok {
		base.MsgRandom = random
	}
	base.MsgKey = strconv.FormatUint(uint64(base.MsgSeq), 10) + "_" + strconv.FormatUint(uint64(base.MsgRandom), 10) +
		"_" + strconv.FormatInt(base.MsgTime, 10)
	var out []PushEvent
	for i := range p.instances {
		in := &p.instances[i]
		if !in.offline {
			continue
		}
		for _, st := range eventStages {
			ev := in.stages[st.stage]
			if ev == nil || ev.status == 0 {
				break // never reached
			}
			e := base
			e.InstanceID, e.PushPlatform, e.PushStage = in.id, in.platform, st.pushStage
			e.ErrCode, e.ErrInfo, e.EventTime = ev.code, "OK", ev.at
			if ev.status != 1 {
				e.ErrInfo = ev.info
			}
			e.DeliverAt = ev.at.Add(between(r, minDeliveryDelay, maxDeliveryDelay))
			// Both draws always happen, so the redelivery rate moves no
			// other event.
			again, later := r.Float64() < redeliver, between(r, minRedeliveryDelay, maxRedeliveryDelay)
			out = append(out, e)
			if again {
				e.DeliverAt = e.DeliverAt.Add(later)
				out = append(out, e)
			}
			if ev.status != 1 {
				break // nothing after a failure
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeliverAt.Before(out[j].DeliverAt) })
	return out
}
