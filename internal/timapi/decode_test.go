package timapi

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

var shanghai = time.FixedZone("UTC+8", 8*3600)

func TestDecodeExampleReply(t *testing.T) {
	body, err := os.ReadFile("testdata/normal_push_trace.example.json")
	if err != nil {
		t.Fatal(err)
	}
	// Through the whole client, with the default (nil) Location.
	api := newFakeAPI(t, nil, okReply(string(body)))
	o, _, _ := testOptions(api, nil)
	o.Clock = nil
	tr, err := mustNew(t, o).Trace(context.Background(), "144115233406643804-1727580296-4026038328")
	if err != nil {
		t.Fatal(err)
	}
	if tr.PushID != "144115233406643804-1727580296-4026038328" || len(tr.Instances) != 1 {
		t.Fatalf("trace = %+v", tr)
	}
	in := tr.Instances[0]
	if in.InstanceID != "101205908" || in.System != "APNS" || in.PushPlatform != 1 ||
		in.LastActiveTerminal != 1 || in.NotificationStatus != 0 || in.HasOnline {
		t.Errorf("instance = %+v", in)
	}
	if want := time.Date(2025, 3, 7, 10, 4, 47, 0, shanghai); !in.PushTime.Equal(want) {
		t.Errorf("PushTime = %v, want %v (China time)", in.PushTime, want)
	}
	for s := StageIM; s <= StageClick; s++ {
		if r := in.Stages[s]; r.Status != StatusSuccess || r.ErrorCode != 0 || r.ErrorInfo != "success" || r.EventTime.IsZero() {
			t.Errorf("stage %s = %+v", s, r)
		}
	}
	for _, s := range []Stage{StageOnlineChannel, StageOnlineDevice} {
		if in.Stages[s].Reported() {
			t.Errorf("stage %s reported without OnlinePushStat", s)
		}
	}
	// The documented example's offline stages are six days after the push.
	if d := in.Stages[StageDevice].EventTime.Sub(in.PushTime); d != 6*24*time.Hour+6*time.Hour+11*time.Minute+42*time.Second {
		t.Errorf("device - push = %v", d)
	}
}

func TestDecodeTrace(t *testing.T) {
	const stat = `{"PushStatus":1,"ErrorCode":0,"ErrorInfo":"ok","EventTime":"2025-03-07 10:04:48"}`
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, tr *Trace)
	}{
		{"empty InstanceTrace", `{"ActionStatus":"OK","ErrorCode":0,"InstanceTrace":[]}`, wantInstances(0)},
		{"missing InstanceTrace", `{"ActionStatus":"OK","ErrorCode":0}`, wantInstances(0)},
		{"null InstanceTrace", `{"InstanceTrace":null}`, wantInstances(0)},
		{"snake_case last_active_terminal", `{"InstanceTrace":[{"last_active_terminal":3}]}`, func(t *testing.T, tr *Trace) {
			if got := tr.Instances[0].LastActiveTerminal; got != 3 {
				t.Errorf("LastActiveTerminal = %d", got)
			}
		}},
		{"CamelCase LastActiveTerminal", `{"InstanceTrace":[{"LastActiveTerminal":"2"}]}`, func(t *testing.T, tr *Trace) {
			if got := tr.Instances[0].LastActiveTerminal; got != 2 {
				t.Errorf("LastActiveTerminal = %d", got)
			}
		}},
		{"no stat sections at all", `{"InstanceTrace":[{"InstanceId":"1"}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			if in.HasOnline {
				t.Error("HasOnline without OnlinePushStat")
			}
			for s, r := range in.Stages {
				if r != (StageResult{}) {
					t.Errorf("stage %s = %+v, want zero", Stage(s), r)
				}
			}
		}},
		{"online route present", `{"InstanceTrace":[{"OnlinePushStat":{"ChannelStat":` + stat + `,"DeviceStat":{"PushStatus":2,"ErrorCode":"-1","ErrorInfo":"offline"}}}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			ch, dev := in.Stages[StageOnlineChannel], in.Stages[StageOnlineDevice]
			if !in.HasOnline || ch.Status != StatusSuccess || dev.Status != StatusFailure || dev.ErrorCode != -1 || !dev.EventTime.IsZero() {
				t.Errorf("online = %v %+v %+v", in.HasOnline, ch, dev)
			}
		}},
		{"empty online section", `{"InstanceTrace":[{"OnlinePushStat":{}}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			if !in.HasOnline || in.Stages[StageOnlineChannel].Reported() {
				t.Errorf("instance = %+v", in)
			}
		}},
		{"odd statuses", `{"InstanceTrace":[{"IMCommitStat":{"IMStat":{"PushStatus":0}},"OfflinePushStat":{"OfflineStat":{"PushStatus":3},"ChannelStat":{"PushStatus":-1},"DeviceStat":{"PushStatus":"2"},"ClickStat":{"PushStatus":null}}}]}`, func(t *testing.T, tr *Trace) {
			st := tr.Instances[0].Stages
			want := map[Stage]Status{StageIM: StatusUnreported, StageOffline: StatusUnreported, StageChannel: StatusUnreported, StageDevice: StatusFailure, StageClick: StatusUnreported}
			for s, w := range want {
				if st[s].Status != w {
					t.Errorf("stage %s status = %d, want %d", s, st[s].Status, w)
				}
			}
		}},
		{"unknown fields everywhere", `{"RequestId":"x","Extra":{"a":[1]},"InstanceTrace":[{"New":1,"Token":"t","CertId":0,"PushPlatform":7,"IMCommitStat":{"IMStat":{"PushStatus":1,"Later":true},"Other":{}}}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			if in.PushPlatform != 7 || in.Stages[StageIM].Status != StatusSuccess {
				t.Errorf("instance = %+v", in)
			}
		}},
		{"numbers as strings", `{"InstanceTrace":[{"InstanceId":12345,"PushPlatform":"4","NotificationStatus":"1","IMCommitStat":{"IMStat":{"PushStatus":"1","ErrorCode":"0"}}}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			if in.InstanceID != "12345" || in.PushPlatform != 4 || in.NotificationStatus != 1 || in.Stages[StageIM].Status != StatusSuccess {
				t.Errorf("instance = %+v", in)
			}
		}},
		{"bad times are zero", `{"InstanceTrace":[{"PushTime":"0000-00-00 00:00:00","IMCommitStat":{"IMStat":{"PushStatus":1,"EventTime":"2025-13-01 00:00:00"}},"OfflinePushStat":{"OfflineStat":{"PushStatus":1,"EventTime":"yesterday"},"ChannelStat":{"PushStatus":1,"EventTime":""}}}]}`, func(t *testing.T, tr *Trace) {
			in := tr.Instances[0]
			if !in.PushTime.IsZero() || !in.Stages[StageIM].EventTime.IsZero() || !in.Stages[StageOffline].EventTime.IsZero() || !in.Stages[StageChannel].EventTime.IsZero() {
				t.Errorf("times = %v %+v", in.PushTime, in.Stages)
			}
		}},
		{"two instances", `{"InstanceTrace":[{"InstanceId":"a","PushPlatform":3},{"InstanceId":"b","PushPlatform":8}]}`, func(t *testing.T, tr *Trace) {
			if len(tr.Instances) != 2 || tr.Instances[0].InstanceID != "a" || tr.Instances[1].PushPlatform != 8 {
				t.Errorf("instances = %+v", tr.Instances)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := decodeTrace("id", []byte(tt.body), shanghai)
			if err != nil {
				t.Fatal(err)
			}
			if tr.PushID != "id" || tr.Instances == nil {
				t.Fatalf("trace = %+v", tr)
			}
			if len(tr.Instances) == 0 && !strings.Contains(tt.name, "InstanceTrace") {
				t.Fatal("no instances")
			}
			tt.check(t, tr)
		})
	}
}

func wantInstances(n int) func(*testing.T, *Trace) {
	return func(t *testing.T, tr *Trace) {
		t.Helper()
		if len(tr.Instances) != n {
			t.Errorf("%d instances, want %d", len(tr.Instances), n)
		}
	}
}

func TestDecodeTraceWrongShape(t *testing.T) {
	for _, body := range []string{
		`{"InstanceTrace":"none"}`,
		`{"InstanceTrace":[{"PushPlatform":{"x":1}}]}`,
		`{"InstanceTrace":[{"IMCommitStat":[]}]}`,
	} {
		if _, err := decodeTrace("id", []byte(body), shanghai); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}

func TestDecodeLocation(t *testing.T) {
	body := []byte(`{"InstanceTrace":[{"PushTime":"2025-03-07 10:04:47"}]}`)
	tr, err := decodeTrace("id", body, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 3, 7, 10, 4, 47, 0, time.UTC); !tr.Instances[0].PushTime.Equal(want) {
		t.Errorf("PushTime = %v, want %v", tr.Instances[0].PushTime, want)
	}
	if _, off := time.Now().In(defaultLocation()).Zone(); off != 8*3600 {
		t.Errorf("default location offset = %d, want +8h", off)
	}
}

func TestFlexInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{`1`, 1, false}, {`"42"`, 42, false}, {`-7`, -7, false}, {`"-1"`, -1, false},
		{`2.0`, 2, false}, {`""`, 0, false}, {`null`, 0, false},
		{`"abc"`, 0, true}, {`true`, 0, true}, {`{}`, 0, true}, {`[1]`, 0, true},
	}
	for _, tt := range tests {
		var f flexInt
		err := json.Unmarshal([]byte(tt.in), &f)
		if (err != nil) != tt.wantErr || (err == nil && int64(f) != tt.want) {
			t.Errorf("flexInt(%s) = %d, %v; want %d, err %v", tt.in, f, err, tt.want, tt.wantErr)
		}
	}
}

func TestFlexString(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"x"`, "x", false}, {`410`, "410", false}, {`-1`, "-1", false}, {`null`, "", false},
		{`true`, "true", false}, {`{}`, "", true}, {`["a"]`, "", true},
	}
	for _, tt := range tests {
		var f flexString
		err := json.Unmarshal([]byte(tt.in), &f)
		if (err != nil) != tt.wantErr || (err == nil && string(f) != tt.want) {
			t.Errorf("flexString(%s) = %q, %v; want %q, err %v", tt.in, f, err, tt.want, tt.wantErr)
		}
	}
}
