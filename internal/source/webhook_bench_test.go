package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// One PushID per request is the common case: Tencent sends one after-send
// callback per message. These benchmarks run the webhook's handlers on it,
// sampled and unsampled, against a bare handler that only reads the body
// and answers 200 (the same one bench/ uses), in the same binary:
//
//	go test -run '^$' -bench 'BenchmarkWebhookOneID' ./internal/source/
//
// The sink is a stub whose Durable returns at once, so the figures are the
// handler's own cost, without a commit or fsync.

// benchSink keeps nothing; Durable returns at once.
type benchSink struct {
	ratio  float64
	mu     sync.Mutex
	offers int
}

func (s *benchSink) Offer(Batch) {
	s.mu.Lock()
	s.offers++
	s.mu.Unlock()
}
func (s *benchSink) Ratio(string, int) (float64, bool) { return s.ratio, true }
func (s *benchSink) Durable(context.Context) error     { return nil }
func (s *benchSink) Cursor(string) ([]byte, bool)      { return nil, false }
func (s *benchSink) Cursors(string) map[string][]byte  { return nil }

// benchBareHandler only reads the body and answers 200.
var benchBareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
})

// benchCase is one handler and the request it gets (%d in the body: a
// serial). Each request shape has its own bare case: the bare handler reads
// the same URL and body.
type benchCase struct {
	name   string
	ratio  float64 // sink's ratio; < 0 for the bare handler
	target string
	body   string
}

var benchCases = func() []benchCase {
	const c2cTarget = "/webhook/tencent?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI"
	var cases []benchCase
	for _, req := range []struct{ name, target, body string }{
		{"push_ids", "/webhook/push-ids?app=prod", `{"PushID":"144115233406643804-1727580296-%d"}`},
		{"tencent_c2c", c2cTarget, benchC2C},
	} {
		for _, m := range []struct {
			mode  string
			ratio float64
		}{{"bare", -1}, {"unsampled", 0}, {"sampled", 1}} {
			cases = append(cases, benchCase{req.name + "/" + m.mode, m.ratio, req.target, req.body})
		}
	}
	return cases
}()

// benchC2C is a C2C.CallbackAfterSendMsg body as Tencent documents it.
const benchC2C = `{"CallbackCommand":"C2C.CallbackAfterSendMsg","From_Account":"jared","To_Account":"Jonh","MsgSeq":48374,` +
	`"MsgRandom":2837546,"MsgTime":1557481126,"MsgKey":"48374_2837546_1557481126","MsgId":"144115233406643804-1727580296-%d",` +
	`"OnlineOnlyFlag":1,"SendMsgResult":0,"ErrorInfo":"send msg succeed","UnreadMsgNum":0,` +
	`"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}],"CloudCustomData":"your cloud custom data"}`

func (c benchCase) handler(b *testing.B) http.Handler {
	b.Helper()
	if c.ratio < 0 {
		return benchBareHandler
	}
	apps := []WebhookApp{{Name: "prod", SDKAppID: 1400000001}}
	w, err := NewWebhook(WebhookOptions{Apps: func() []WebhookApp { return apps }, Clock: clock.Real{}}, &benchSink{ratio: c.ratio})
	if err != nil {
		b.Fatal(err)
	}
	return w.Handler()
}

// reportCPU reports the process CPU time per op since cpu (processCPU).
func reportCPU(b *testing.B, cpu int64) {
	if now := processCPU(); now > 0 && b.N > 0 {
		b.ReportMetric(float64(now-cpu)/float64(b.N), "cpu-ns/op")
	}
}

// benchWriter is a ResponseWriter that keeps nothing.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkWebhookOneIDHandler calls each handler directly: its own cost,
// without HTTP.
func BenchmarkWebhookOneIDHandler(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			h := c.handler(b)
			var serial atomic.Int64
			b.ReportAllocs()
			cpu := processCPU()
			defer func() { reportCPU(b, cpu) }()
			b.RunParallel(func(pb *testing.PB) {
				body := make([]byte, 0, 1024)
				rd := bytes.NewReader(nil)
				w := &benchWriter{h: http.Header{}}
				req := httptest.NewRequest(http.MethodPost, c.target, nil)
				for pb.Next() {
					body = fmt.Appendf(body[:0], c.body, serial.Add(1))
					rd.Reset(body)
					r := req.Clone(context.Background())
					r.Body, r.ContentLength = io.NopCloser(rd), int64(len(body))
					clear(w.h)
					h.ServeHTTP(w, r)
					if w.status != 0 && w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}

// BenchmarkWebhookOneIDHTTP posts through net/http on loopback from 64
// concurrent clients, as bench/ does: request/s against the bare handler.
func BenchmarkWebhookOneIDHTTP(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewUnstartedServer(c.handler(b))
			srv.Config.ReadHeaderTimeout = 5 * time.Second
			srv.Start()
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			url := srv.URL + c.target
			var serial atomic.Int64
			b.SetParallelism(32) // 64 clients on the 2 cores this machine has
			b.ResetTimer()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				body := make([]byte, 0, 1024)
				for pb.Next() {
					body = fmt.Appendf(body[:0], c.body, serial.Add(1))
					resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			reportCPU(b, cpu) // clients and server: both are in this process
		})
	}
}
