package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestCallbackSign(t *testing.T) {
	// The example of Tencent's documentation (shared reference §3).
	const want = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
	if got := CallbackSign("xxxxyyyy", "1669872112"); got != want {
		t.Fatalf("Sign %s, want %s", got, want)
	}
}

func TestCallbackQuery(t *testing.T) {
	now := time.Unix(1669872112, 0)
	q := CallbackQuery(testApp, "", now)
	if got := q.Encode(); got != "CallbackCommand=Push.OfflinePush&SdkAppid=1400000001&contenttype=json" {
		t.Errorf("without a token: %s", got)
	}
	q = CallbackQuery(testApp, "xxxxyyyy", now)
	if q.Get("RequestTime") != "1669872112" || q.Get("Sign") != CallbackSign("xxxxyyyy", "1669872112") {
		t.Errorf("with a token: %s", q.Encode())
	}
	if bytes.Contains([]byte(q.Encode()), []byte("xxxxyyyy")) {
		t.Error("the token is in the query string")
	}
}

// TestCallbackBody decodes a body with the field names of Tencent's
// documentation, not with our types.
func TestCallbackBody(t *testing.T) {
	s, _ := newSim(t, testConfig())
	var events []PushEvent
	for len(events) < 3 {
		events = append(events, s.PushEvents(testApp, s.NewPush(testApp))...)
	}
	var body struct{ Events []map[string]any }
	raw := CallbackBody(events)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || len(body.Events) != len(events) {
		t.Fatalf("body %s: %v", raw, err)
	}
	fields := []string{"CallbackCommand", "EventType", "EventTime", "From_Account", "To_Account", "PushPlatform",
		"PushStage", "MsgKey", "MsgSeq", "MsgRandom", "MsgTime", "PushID", "ErrCode", "ErrInfo"}
	for i, got := range body.Events {
		e := events[i]
		if len(got) != len(fields) {
			t.Errorf("event %d has %d fields, want %d: %v", i, len(got), len(fields), got)
		}
		want := map[string]string{"CallbackCommand": CallbackOfflinePush, "EventType": "1",
			"EventTime": fmt.Sprint(e.EventTime.Unix()), "From_Account": e.FromAccount, "To_Account": e.ToAccount,
			"PushPlatform": fmt.Sprint(e.PushPlatform), "PushStage": fmt.Sprint(e.PushStage), "MsgKey": e.MsgKey,
			"MsgSeq": fmt.Sprint(e.MsgSeq), "MsgRandom": fmt.Sprint(e.MsgRandom), "MsgTime": fmt.Sprint(e.MsgTime),
			"PushID": e.PushID, "ErrCode": fmt.Sprint(e.ErrCode), "ErrInfo": e.ErrInfo}
		for _, f := range fields {
			if v := fmt.Sprint(got[f]); v != want[f] {
				t.Errorf("event %d %s = %s, want %s", i, f, v, want[f])
			}
		}
	}
	// Bodies Tencent would not send are still encoded, for tests.
	if got := string(CallbackBody(nil)); got != `{"Events":[]}` {
		t.Errorf("no events: %s", got)
	}
}
