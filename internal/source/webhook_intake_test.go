package source

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// TestWebhookUnsampledNeedsNoFsync: a request with no sampled PushID and
// no event is answered at once, without waiting for Durable (which here
// would never return), and its IDs are still counted as received.
func TestWebhookUnsampledNeedsNoFsync(t *testing.T) {
	for _, tt := range []struct{ name, target, body string }{
		{"push_ids", "/webhook/push-ids?app=prod", `{"PushID":"p-1"}`},
		{"tencent c2c", whTencentURL(whProdAppID, tencentC2CAfterSendMsg, false, 0), whBody(t, "webhook-c2c.json")},
		{"tencent group", whTencentURL(whProdAppID, tencentGroupAfterSendMsg, false, 0), whBody(t, "webhook-group.json")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			e.sink.setRatio(0)
			e.sink.block = make(chan struct{}) // never closed: Durable would hang
			rec := e.serve(httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body)))
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			offered, _ := e.sink.state()
			_, received := e.sink.taken()
			if len(offered) != 0 || received != 1 || e.sink.durable != 0 || e.sink.offers != 1 {
				t.Errorf("offered %v, received %d, Durable called %d times, %d offers", offered, received, e.sink.durable, e.sink.offers)
			}
		})
	}
}

// TestWebhookEventsAlwaysDurable: events are never sampled, so a callback
// with events waits for Durable even when its PushIDs are not sampled.
func TestWebhookEventsAlwaysDurable(t *testing.T) {
	e := newWhEnv(t)
	e.sink.setRatio(0)
	e.sink.block, e.sink.entered = make(chan struct{}), make(chan struct{}, 1)
	done := make(chan *whRecorder)
	req := httptest.NewRequest(http.MethodPost, whTencentURL(whProdAppID, tencentOfflinePush, false, 0),
		strings.NewReader(whBody(t, "webhook-offlinepush.json")))
	go func() { done <- e.serve(req) }()
	whWaitDurable(t, e, done)
	close(e.sink.block)
	if rec := <-done; rec.Code != http.StatusOK {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	offered, _ := e.sink.state()
	events, received := e.sink.taken()
	if len(offered) != 0 || len(events) != 3 || received != 2 {
		t.Errorf("offered %v, %d events, %d received", offered, len(events), received)
	}
}

// TestWebhookSampling: the IDs handed on are those pushid.Sampled keeps,
// and the sink is asked about at most AskEvery IDs at a time.
func TestWebhookSampling(t *testing.T) {
	e := newWhEnv(t)
	e.sink.setRatio(0.3)
	var body strings.Builder
	var want []string
	for i := range 250 {
		id := fmt.Sprintf("id-%d", i)
		body.WriteString(id + "\n")
		if pushid.Sampled(pushid.Hash(id), 0.3) {
			want = append(want, id)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", "text/plain")
	if rec := e.serve(req); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"accepted":250}` {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	offered, _ := e.sink.state()
	var got []string
	for _, id := range offered {
		got = append(got, id.PushID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
		t.Errorf("offered %d IDs, want the %d sampled ones", len(got), len(want))
	}
	if _, received := e.sink.taken(); received != 250 {
		t.Errorf("received %d, want 250", received)
	}
	if fmt.Sprint(e.sink.asked) != "[100 100 50]" {
		t.Errorf("asked Ratio for %v IDs, want [100 100 50]", e.sink.asked)
	}
}

// TestWebhookInvalidUTF8: invalid UTF-8 or an unpaired surrogate inside a
// JSON string is not turned into U+FFFD (which would collide with a real
// U+FFFD ID): push-ids rejects the body, Tencent's endpoint skips the ID,
// counted, and acknowledges the rest as Tencent expects.
func TestWebhookInvalidUTF8(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"raw byte", "{\"PushID\":\"a\xffb\"}", `{"error":"PushID 0: invalid PushID: not valid UTF-8"}`},
		{"in a list", "{\"PushIDs\":[\"ok\",\"a\xc3\"]}", `{"error":"PushID 1: invalid PushID: not valid UTF-8"}`},
		{"lone surrogate", `{"PushID":"a\ud800"}`, `{"error":"PushID 0: invalid PushID: not valid UTF-8"}`},
		{"lone low surrogate", `{"PushIDs":["\udc00"]}`, `{"error":"PushID 0: invalid PushID: not valid UTF-8"}`},
		{"real U+FFFD", `{"PushID":"a\ufffdb"}`, `{"accepted":1}`},
		{"real U+FFFD raw", "{\"PushID\":\"a\xef\xbf\xbdb\"}", `{"accepted":1}`},
		{"surrogate pair", `{"PushID":"a\ud83d\ude00"}`, `{"accepted":1}`},
		{"invalid elsewhere", "{\"PushID\":\"ok\",\"Note\":\"\xff\"}", `{"accepted":1}`},
	} {
		t.Run("push_ids/"+tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			rec := e.serve(httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", strings.NewReader(tt.body)))
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("got %d %s, want %s", rec.Code, got, tt.want)
			}
			offered, _ := e.sink.state()
			if tt.want[2] == 'e' && len(offered) != 0 {
				t.Errorf("rejected, but offered %v", offered)
			}
		})
	}
	for _, tt := range []struct{ name, cmd, body string }{
		{"MsgId", tencentC2CAfterSendMsg, "{\"MsgId\":\"m\xff\"}"},
		{"MsgId surrogate", tencentGroupAfterSendMsg, `{"MsgId":"m\udfff"}`},
		{"PushID", tencentOfflinePush, "{\"Events\":[{\"PushID\":\"p\xfe\",\"PushPlatform\":3,\"PushStage\":1,\"ErrCode\":0}]}"},
	} {
		t.Run("tencent/"+tt.name, func(t *testing.T) {
			e := newWhEnv(t)
			rec := e.tencent(whTencentURL(whProdAppID, tt.cmd, false, 0), tt.body)
			if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != whOK {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			offered, _ := e.sink.state()
			if len(offered) != 0 || testutil.ToFloat64(e.w.ignoredBy[ignoredInvalidID]) != 1 {
				t.Errorf("offered %v, invalid_id %v", offered, testutil.ToFloat64(e.w.ignoredBy[ignoredInvalidID]))
			}
		})
	}
}
