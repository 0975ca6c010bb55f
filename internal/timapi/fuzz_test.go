package timapi

import (
	"context"
	"os"
	"testing"
	"time"
)

type nopLimiter struct{}

func (nopLimiter) Wait(context.Context) (func(sent, replied time.Time), error) {
	return func(time.Time, time.Time) {}, nil
}

// FuzzTraceReply feeds arbitrary reply bodies through the same envelope
// classification and trace decoding as a real call: no panic, and a
// decoded trace only ever holds the documented statuses and stages.
func FuzzTraceReply(f *testing.F) {
	example, err := os.ReadFile("testdata/normal_push_trace.example.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":[]}`,
		`{"ActionStatus":"FAIL","ErrorCode":70001,"ErrorInfo":"expired"}`,
		`{"ActionStatus":"OK","ErrorCode":"0","InstanceTrace":[{"PushPlatform":"3","LastActiveTerminal":2,"OfflinePushStat":{"DeviceStat":{"PushStatus":7}}}]}`,
		`{"ActionStatus":"OK","InstanceTrace":{}}`,
		`{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":[{"PushTime":"2025-13-45 99:99:99"}]}`,
		`{"Action`, `null`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	c, err := New(Options{SDKAppID: 1400000000, Identifier: "admin", SecretKey: "0123456789abcdef0123", BaseURL: "http://127.0.0.1:1", Limiter: nopLimiter{}})
	if err != nil {
		f.Fatal(err)
	}
	loc := time.FixedZone("UTC+8", 8*3600)
	f.Fuzz(func(t *testing.T, body []byte) {
		var tr *Trace
		e := c.parseReply("normal_push_trace", 200, body, "sig", func(b []byte) error {
			var err error
			tr, err = decodeTrace("p", b, loc)
			return err
		})
		if e != nil {
			if e.Label() == "" || e.Error() == "" {
				t.Fatalf("error without label or message: %#v", e)
			}
			return
		}
		if tr == nil {
			t.Fatal("no error and no trace")
		}
		for _, in := range tr.Instances {
			for s, r := range in.Stages {
				if r.Status != StatusUnreported && r.Status != StatusSuccess && r.Status != StatusFailure {
					t.Fatalf("stage %d status %d outside 0/1/2", s, r.Status)
				}
			}
		}
	})
}
