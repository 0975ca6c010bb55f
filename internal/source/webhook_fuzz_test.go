package source

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// whCheckReply checks what every fuzzed request must satisfy: a 2xx or 4xx
// status, a JSON body, only valid IDs of a configured app offered, and
// only events with label-sized platform and stage.
func whCheckReply(t *testing.T, e *whEnv, rec *whRecorder) []pushid.ID {
	t.Helper()
	if c := rec.Code / 100; c != 2 && c != 4 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("reply is not JSON: %q", rec.Body)
	}
	offered, _ := e.sink.state()
	for _, id := range offered {
		if err := pushid.Validate(id.PushID); err != nil {
			t.Fatalf("offered %q: %v", id.PushID, err)
		}
		if id.App != "prod" || id.Source != pushid.SourceWebhook {
			t.Fatalf("offered %+v", id)
		}
	}
	events, _ := e.sink.taken()
	for _, ev := range events {
		if ev.App != "prod" || ev.Platform < 0 || ev.Platform > tencentMaxLabelNumber || ev.Stage < 0 ||
			ev.Stage > tencentMaxLabelNumber || !utf8.ValidString(ev.ErrInfo) || len(ev.ErrInfo) > tencentMaxErrInfo || ev.Time.IsZero() {
			t.Fatalf("offered event %+v", ev)
		}
	}
	if rec.Code/100 != 2 && (len(offered) > 0 || len(events) > 0) {
		t.Fatalf("status %d but %d IDs and %d events offered", rec.Code, len(offered), len(events))
	}
	return offered
}

func FuzzTencentCallback(f *testing.F) {
	files, _ := filepath.Glob("testdata/webhook-*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, cmd := range []string{"", tencentC2CAfterSendMsg, tencentOfflinePush, tencentAllMemberPush} {
			f.Add("SdkAppid=1400000001&CallbackCommand="+cmd, b, false)
			f.Add("SdkAppid=1400000001&CallbackCommand="+cmd, b, true)
		}
	}
	f.Add("SdkAppid=1400000001&CallbackCommand=Push.OfflinePush", []byte(`{"Events":[{"PushID":"a\u0000b"},{},null,{"PushID":""}]}`), true)
	f.Add("SdkAppid=1400000001", []byte(`{"MsgId":"x"`), false)
	f.Add("SdkAppid=%zz&Sign=;", []byte("\xff"), false)
	f.Fuzz(func(t *testing.T, query string, body []byte, signed bool) {
		e := newWhEnv(t)
		if signed {
			// Sign with the fake clock's time, so auth passes and the body
			// is parsed; the fuzzed query may still spoil it.
			e.set(func(e *whEnv) { e.callbackToken = whToken })
			rt := strconv.FormatInt(whNow.Unix(), 10)
			query += "&RequestTime=" + rt + "&Sign=" + tencentSign(whToken, rt)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhook/tencent", bytes.NewReader(body))
		req.URL.RawQuery = query
		rec := e.serve(req)
		whCheckReply(t, e, rec)
	})
}

func FuzzPushIDsBody(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"PushID":"a-1"}`},
		{"application/json", `{"PushIDs":["a-1","a-2"],"PushID":"a-3"}`},
		{"", `{"PushIDs":[null,"a"]}`},
		{"text/plain", "a-1\r\n\n a-2 \n"},
		{"text/plain; charset=utf-8", "a\x00\n\xff\n"},
		{"text/plain; charset", "a-1"},
		{"application/json", `{"PushID":"\u007f"}`},
		{"application/json", `{"PushIDs":[]}`},
		{"application/json", "{\"PushID\":\"a\xffb\",\"PushIDs\":[\"\\ud800\"]}"},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		e := newWhEnv(t)
		req := httptest.NewRequest(http.MethodPost, "/webhook/push-ids?app=prod", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := e.serve(req)
		offered := whCheckReply(t, e, rec)
		if rec.Code == http.StatusOK {
			var got pushIDsAccepted
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Accepted != len(offered) || got.Accepted == 0 {
				t.Fatalf("reply %s, %d offered", rec.Body, len(offered))
			}
		}
	})
}
