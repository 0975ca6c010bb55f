package source

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// whEvents posts an OfflinePush body and returns the events offered.
func (e *whEnv) whEvents(body string) []pushid.Event {
	e.t.Helper()
	rec := e.tencent(whTencentURL(whProdAppID, tencentOfflinePush, false, 0), body)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != whOK {
		e.t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	events, _ := e.sink.taken()
	return events
}

// TestTencentDocumentedEvents: Tencent's documented examples become the
// events they describe.
func TestTencentDocumentedEvents(t *testing.T) {
	e := newWhEnv(t)
	e.whEvents(whBody(t, "webhook-offlinepush-doc.json"))
	rec := e.tencent(whTencentURL(whProdAppID, tencentAllMemberPush, false, 0), whBody(t, "webhook-allmemberpush-doc.json"))
	if rec.Code != 200 {
		t.Fatalf("all member push: %d %s", rec.Code, rec.Body)
	}
	events, _ := e.sink.taken()
	want := []struct {
		platform, stage int
		time            int64
	}{{1, 1, 1557481127}, {1, 1, 1557481127}, {1, 1, 1557481128}, {0, 1, 1557481129}}
	if len(events) != len(want) {
		t.Fatalf("got %d events: %+v", len(events), events)
	}
	keys := map[uint64]bool{}
	for i, ev := range events {
		w := want[i]
		if ev.App != "prod" || ev.Platform != w.platform || ev.Stage != w.stage || ev.ErrCode != 0 || ev.ErrInfo != "OK" ||
			!ev.Time.Equal(time.Unix(w.time, 0)) || ev.Failed() {
			t.Errorf("event %d = %+v, want platform %d, stage %d, code 0, OK, time %d", i, ev, w.platform, w.stage, w.time)
		}
		keys[ev.Key] = true
	}
	if len(keys) != len(events) {
		t.Errorf("%d distinct keys for %d different events", len(keys), len(events))
	}
	if n := testutil.ToFloat64(e.w.eventsNoTime); n != 0 {
		t.Errorf("events without time = %v", n)
	}
}

// TestTencentEventFields covers the lenient reading of each member, and
// which problems make an event bad.
func TestTencentEventFields(t *testing.T) {
	const base = `"PushPlatform":3,"PushStage":2,"ErrCode":0`
	tests := []struct {
		name    string
		members string // the event's members
		check   func(pushid.Event) bool
		bad     bool
		noTime  bool
	}{
		{"numbers", base + `,"EventTime":1557481127`, func(ev pushid.Event) bool {
			return ev.Platform == 3 && ev.Stage == 2 && ev.ErrCode == 0 && ev.Time.Equal(time.Unix(1557481127, 0))
		}, false, false},
		{"numeric strings", `"PushPlatform":"3","PushStage":" 2 ","ErrCode":"410","EventTime":"1557481127"`, func(ev pushid.Event) bool {
			return ev.Platform == 3 && ev.Stage == 2 && ev.ErrCode == 410 && ev.Failed() && ev.Time.Unix() == 1557481127
		}, false, false},
		{"integral floats", `"PushPlatform":3.0,"PushStage":2e0,"ErrCode":-1.0,"EventTime":1557481127.5`, func(ev pushid.Event) bool {
			return ev.Platform == 3 && ev.Stage == 2 && ev.ErrCode == -1 && ev.Time.Equal(time.Unix(1557481127, 5e8))
		}, false, false},
		{"milliseconds", base + `,"EventTime":1557481127123`, func(ev pushid.Event) bool { return ev.Time.Equal(time.UnixMilli(1557481127123)) }, false, false},
		{"ErrCode 1e300", `"PushPlatform":3,"PushStage":2,"ErrCode":1e300`, func(ev pushid.Event) bool {
			return ev.ErrCode == pushid.ErrCodeOutOfRange && ev.Failed()
		}, false, true},
		{"ErrCode 1.5", `"PushPlatform":3,"PushStage":2,"ErrCode":1.5`, func(ev pushid.Event) bool { return ev.ErrCode == pushid.ErrCodeOutOfRange }, false, true},
		{"ErrCode 2^63", `"PushPlatform":3,"PushStage":2,"ErrCode":9223372036854775808`, func(ev pushid.Event) bool { return ev.ErrCode == pushid.ErrCodeOutOfRange }, false, true},
		{"ErrCode max int64", `"PushPlatform":3,"PushStage":2,"ErrCode":9223372036854775807`, func(ev pushid.Event) bool { return ev.ErrCode == 1<<63-1 }, false, true},
		{"ErrCode text", `"PushPlatform":3,"PushStage":2,"ErrCode":"abc"`, func(ev pushid.Event) bool { return ev.ErrCode == pushid.ErrCodeOutOfRange }, false, true},
		{"ErrInfo", base + `,"ErrInfo":"token \u00e9xpired"`, func(ev pushid.Event) bool { return ev.ErrInfo == "token éxpired" }, false, true},
		{"ErrInfo invalid UTF-8", base + ",\"ErrInfo\":\"a\xffb\"", func(ev pushid.Event) bool { return ev.ErrInfo == "a\uFFFDb" }, false, true},
		{"ErrInfo long", base + `,"ErrInfo":"` + strings.Repeat("é", 600) + `"`, func(ev pushid.Event) bool {
			return len(ev.ErrInfo) == tencentMaxErrInfo && ev.ErrInfo == strings.Repeat("é", 512)
		}, false, true},
		{"ErrInfo null", base + `,"ErrInfo":null`, func(ev pushid.Event) bool { return ev.ErrInfo == "" }, false, true},
		{"no EventTime", base, func(ev pushid.Event) bool { return ev.Time.Equal(whNow) }, false, true},
		{"EventTime text", base + `,"EventTime":"2024-01-02 03:04:05"`, func(ev pushid.Event) bool { return ev.Time.Equal(whNow) }, false, true},
		{"EventTime zero", base + `,"EventTime":0`, func(ev pushid.Event) bool { return ev.Time.Equal(whNow) }, false, true},
		{"EventTime negative", base + `,"EventTime":-5`, func(ev pushid.Event) bool { return ev.Time.Equal(whNow) }, false, true},
		{"mixed case keys", `"pushplatform":3,"PUSHSTAGE":2,"errcode":0,"eventtime":1557481127`, func(ev pushid.Event) bool {
			return ev.Platform == 3 && ev.Stage == 2 && ev.Time.Unix() == 1557481127
		}, false, false},
		{"platform missing", `"PushStage":2,"ErrCode":0`, nil, true, false},
		{"stage missing", `"PushPlatform":3,"ErrCode":0`, nil, true, false},
		{"ErrCode missing", `"PushPlatform":3,"PushStage":2`, nil, true, false},
		{"ErrCode null", `"PushPlatform":3,"PushStage":2,"ErrCode":null`, nil, true, false},
		{"ErrCode empty", `"PushPlatform":3,"PushStage":2,"ErrCode":""`, nil, true, false},
		{"ErrCode bool", `"PushPlatform":3,"PushStage":2,"ErrCode":false`, nil, true, false},
		{"platform name", `"PushPlatform":"Apple","PushStage":2,"ErrCode":0`, nil, true, false},
		{"platform negative", `"PushPlatform":-1,"PushStage":2,"ErrCode":0`, nil, true, false},
		{"platform huge", `"PushPlatform":65536,"PushStage":2,"ErrCode":0`, nil, true, false},
		{"stage fraction", `"PushPlatform":3,"PushStage":1.5,"ErrCode":0`, nil, true, false},
		{"stage object", `"PushPlatform":3,"PushStage":{},"ErrCode":0`, nil, true, false},
		{"ErrInfo number", base + `,"ErrInfo":5`, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			events := e.whEvents(`{"Events":[{"PushID":"p-1",` + tt.members + `}]}`)
			bad := testutil.ToFloat64(e.w.ignoredBy[ignoredBadEvent])
			if tt.bad {
				if len(events) != 0 || bad != 1 {
					t.Fatalf("got events %+v and %v bad, want one bad event", events, bad)
				}
				return
			}
			if len(events) != 1 || bad != 0 {
				t.Fatalf("got events %+v and %v bad", events, bad)
			}
			if !tt.check(events[0]) {
				t.Errorf("event %+v", events[0])
			}
			if got, want := testutil.ToFloat64(e.w.eventsNoTime), map[bool]float64{true: 1}[tt.noTime]; got != want {
				t.Errorf("events without time = %v, want %v", got, want)
			}
			if offered, _ := e.sink.state(); len(offered) != 1 {
				t.Errorf("the PushID of the event was not taken: %v", offered)
			}
		})
	}
}

// TestTencentBadEventKeepsOthers: a malformed event costs only itself; its
// PushID is still taken.
func TestTencentBadEventKeepsOthers(t *testing.T) {
	e := newWhEnv(t)
	body := `{"Events":[
		{"PushID":"p-1","PushPlatform":3,"PushStage":1,"ErrCode":0},
		{"PushID":"p-2","PushStage":1,"ErrCode":0},
		7,
		null,
		{"PushID":"p-3","PushPlatform":true,"PushStage":1,"ErrCode":0},
		{"PushID":"p-4","PushPlatform":6,"PushStage":3,"ErrCode":10302,"ErrInfo":"regId invalid"}]}`
	events := e.whEvents(body)
	if len(events) != 2 || events[0].Platform != 3 || events[1].Platform != 6 || events[1].ErrCode != 10302 {
		t.Fatalf("events %+v", events)
	}
	offered, _ := e.sink.state()
	if got := fmt.Sprint(offered); len(offered) != 4 || !strings.Contains(got, "p-2") || !strings.Contains(got, "p-3") {
		t.Errorf("offered %s", got)
	}
	for reason, want := range map[int]float64{ignoredBadEvent: 4, ignoredNoID: 2} {
		if got := testutil.ToFloat64(e.w.ignoredBy[reason]); got != want {
			t.Errorf("ignored %s = %v, want %v", ignoredReasonNames[reason], got, want)
		}
	}
	if !strings.Contains(e.logs.String(), "first_problem=PushPlatform") {
		t.Errorf("bad events not logged with their problem: %s", e.logs.String())
	}
}

// TestTencentEventKey: a redelivered event has the same key whatever its
// formatting; any change to an identifying member, or another app, gives
// another key.
func TestTencentEventKey(t *testing.T) {
	const event = `{"CallbackCommand":"Push.OfflinePush","EventType":1,"EventTime":1557481127,"From_Account":"user1",` +
		`"To_Account":"user2","PushPlatform":1,"PushStage":1,"MsgKey":"48374_2837546_1557481126","MsgSeq":48374,` +
		`"MsgRandom":2837546,"MsgTime":1557481126,"PushID":"p-1","ErrCode":0,"ErrInfo":"OK"}`
	key := func(sdkappid, ev string) uint64 {
		t.Helper()
		s := wjScanner{data: []byte(ev)}
		kind, val, err := s.value()
		if err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		var raw tencentRawEvent
		raw.read(kind, val)
		app := WebhookApp{Name: "prod", SDKAppID: 1400000001}
		if sdkappid != "" {
			app.SDKAppID = 1400000002
		}
		got, problem, _ := raw.event(app, whNow)
		if problem != "" {
			t.Fatalf("%s: %s", ev, problem)
		}
		return got.Key
	}
	k := key("", event)
	same := map[string]string{
		"reordered":   `{"ErrInfo":"OK","ErrCode":0,"PushID":"p-1","MsgTime":1557481126,"MsgRandom":2837546,"MsgSeq":48374,"MsgKey":"48374_2837546_1557481126","PushStage":1,"PushPlatform":1,"To_Account":"user2","From_Account":"user1","EventTime":1557481127,"EventType":1,"CallbackCommand":"Push.OfflinePush"}`,
		"spaced":      strings.ReplaceAll(strings.ReplaceAll(event, ",", " ,\n "), ":", " : "),
		"escaped":     strings.Replace(event, `"user1"`, `"\u0075ser1"`, 1),
		"key case":    strings.Replace(event, `"MsgKey"`, `"msgkey"`, 1),
		"unknown key": strings.Replace(event, `{`, `{"Extra":[1,2],`, 1),
	}
	for name, ev := range same {
		if got := key("", ev); got != k {
			t.Errorf("%s: key %x, want %x", name, got, k)
		}
	}
	keys := map[uint64]string{k: "original"}
	for _, change := range [][2]string{
		{`"EventType":1`, `"EventType":2`}, {`"EventTime":1557481127`, `"EventTime":1557481128`},
		{`"From_Account":"user1"`, `"From_Account":"user3"`}, {`"To_Account":"user2"`, `"To_Account":"user4"`},
		{`"PushPlatform":1`, `"PushPlatform":2`}, {`"PushStage":1`, `"PushStage":2`},
		{`"MsgKey":"48374_2837546_1557481126"`, `"MsgKey":"48374_2837546_1557481127"`}, {`"MsgSeq":48374`, `"MsgSeq":48375`},
		{`"MsgRandom":2837546`, `"MsgRandom":2837547`}, {`"MsgTime":1557481126`, `"MsgTime":1557481125`},
		{`"PushID":"p-1"`, `"PushID":"p-2"`}, {`"ErrCode":0`, `"ErrCode":1`}, {`"ErrInfo":"OK"`, `"ErrInfo":"ok"`},
		{`"CallbackCommand":"Push.OfflinePush"`, `"CallbackCommand":"Push.AllMemberPush"`},
		{`"PushStage":1`, `"PushStage":"1"`}, {`"ErrInfo":"OK"`, `"ErrInfo":"OK","GroupID":""`},
		{`"PushID":"p-1"`, `"PushID":"p-1","TaskId":"t"`}, {`"ErrCode":0`, `"ErrCode":0,"TaskTime":1`},
		{`"ErrInfo":"OK"`, `"ErrInfo":""`}, {`,"ErrInfo":"OK"`, ``},
	} {
		ev := strings.Replace(event, change[0], change[1], 1)
		got := key("", ev)
		if other, dup := keys[got]; dup {
			t.Errorf("%s → %s: key %x is also %s's", change[0], change[1], got, other)
		}
		keys[got] = change[1]
	}
	if key("other app", event) == k {
		t.Error("the same event of another app has the same key")
	}
}

// TestTencentRedelivery: the same body posted twice gives the same events
// (the ledger counts each Key once).
func TestTencentRedelivery(t *testing.T) {
	e := newWhEnv(t)
	body := whBody(t, "webhook-offlinepush.json")
	first := e.whEvents(body)
	e.clk.Advance(time.Minute)
	both := e.whEvents(body)
	if len(first) != 3 || len(both) != 6 {
		t.Fatalf("got %d then %d events", len(first), len(both))
	}
	for i := range first {
		if both[3+i].Key != first[i].Key || !both[3+i].Time.Equal(first[i].Time) {
			t.Errorf("redelivered event %d: %+v, first %+v", i, both[3+i], first[i])
		}
	}
}
