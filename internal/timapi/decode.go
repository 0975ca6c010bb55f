package timapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Tencent's documentation is loose about types (its own examples disagree
// with its field tables), so scalars are decoded through two small types that
// accept a number or a numeric string. Anything structurally different (an
// object where a number belongs) is still an error: that is a changed API,
// not sloppiness, and must not be read as zeros.

// flexInt accepts 1, "1", 1.0, "" and null (the last two as 0). A number
// that is not an integer of int64's range (1.5, 1e300, "NaN", "Inf") becomes
// outOfRange: converting it would give a platform-defined value
// (1e300 became -9223372036854775808), and a code of that value is labelled
// out_of_range (CodeLabel).
type flexInt int64

// outOfRange stands for a number that is not an integer of int64's range.
const outOfRange = math.MinInt64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*f = 0
			return nil
		}
		b = []byte(s)
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // 1e999 is +Inf with ErrRange
		return fmt.Errorf("not a number: %.40q", b)
	}
	// 2^63 is exactly representable and just out of range, so the bounds
	// are compared as floats that way round.
	if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
		*f = outOfRange
		return nil
	}
	*f = flexInt(x)
	return nil
}

// flexString accepts a string, a number (kept as written, e.g. 410 -> "410"),
// a boolean or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("expected a string, got %.40q", b)
	default:
		*f = flexString(b)
	}
	return nil
}

// envelope is the part every reply shares.
type envelope struct {
	ActionStatus flexString
	ErrorCode    flexInt
	ErrorInfo    flexString
}

// TimeLayout is the layout of PushTime and EventTime. The strings carry no
// zone; Options.Location supplies it.
const TimeLayout = "2006-01-02 15:04:05"

func parseTime(s flexString, loc *time.Location) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.ParseInLocation(TimeLayout, string(s), loc)
	if err != nil {
		return time.Time{} // documented as "zero when absent or unparsable"
	}
	return t
}

type stageWire struct {
	PushStatus flexInt
	ErrorCode  flexInt
	ErrorInfo  flexString
	EventTime  flexString
}

func (w *stageWire) result(loc *time.Location) StageResult {
	if w == nil {
		return StageResult{}
	}
	r := StageResult{
		ErrorCode: int(w.ErrorCode),
		ErrorInfo: string(w.ErrorInfo),
		EventTime: parseTime(w.EventTime, loc),
	}
	switch Status(w.PushStatus) {
	case StatusSuccess, StatusFailure:
		r.Status = Status(w.PushStatus)
	default:
		r.Status = StatusUnreported
	}
	return r
}

type instanceWire struct {
	InstanceID         flexString `json:"InstanceId"`
	PushTime           flexString
	DeviceModel        flexString
	System             flexString
	SystemVersion      flexString
	PushPlatform       flexInt
	NotificationStatus flexInt
	// The example reply spells it last_active_terminal, the field table
	// LastActiveTerminal; accept both, snake case first.
	LastActiveTerminalSnake *flexInt `json:"last_active_terminal"`
	LastActiveTerminal      *flexInt `json:"LastActiveTerminal"`
	SdkVersion              flexString
	PushVersion             flexString
	IMCommitStat            *struct{ IMStat *stageWire }
	OfflinePushStat         *struct{ OfflineStat, ChannelStat, DeviceStat, ClickStat *stageWire }
	OnlinePushStat          *struct{ ChannelStat, DeviceStat *stageWire }
}

// traceWire is the reply of normal_push_trace. Token and CertId are
// deliberately not decoded: the exporter has no use for device tokens.
type traceWire struct {
	InstanceTrace []instanceWire
}

func (w *instanceWire) instance(loc *time.Location) Instance {
	in := Instance{
		InstanceID:         string(w.InstanceID),
		PushTime:           parseTime(w.PushTime, loc),
		DeviceModel:        string(w.DeviceModel),
		System:             string(w.System),
		SystemVersion:      string(w.SystemVersion),
		PushPlatform:       int(w.PushPlatform),
		NotificationStatus: int(w.NotificationStatus),
		SdkVersion:         string(w.SdkVersion),
		PushVersion:        string(w.PushVersion),
	}
	switch {
	case w.LastActiveTerminalSnake != nil:
		in.LastActiveTerminal = int(*w.LastActiveTerminalSnake)
	case w.LastActiveTerminal != nil:
		in.LastActiveTerminal = int(*w.LastActiveTerminal)
	}
	if s := w.IMCommitStat; s != nil {
		in.Stages[StageIM] = s.IMStat.result(loc)
	}
	if s := w.OfflinePushStat; s != nil {
		in.Stages[StageOffline] = s.OfflineStat.result(loc)
		in.Stages[StageChannel] = s.ChannelStat.result(loc)
		in.Stages[StageDevice] = s.DeviceStat.result(loc)
		in.Stages[StageClick] = s.ClickStat.result(loc)
	}
	if s := w.OnlinePushStat; s != nil {
		in.HasOnline = true
		in.Stages[StageOnlineChannel] = s.ChannelStat.result(loc)
		in.Stages[StageOnlineDevice] = s.DeviceStat.result(loc)
	}
	return in
}

// decodeTrace turns a successful reply body into a Trace.
//
// The reply for an unknown PushID, or one whose data has not arrived yet, is
// not documented; an empty or missing InstanceTrace is taken to mean "nothing
// known (yet)" and yields a Trace with no instances, not an error.
func decodeTrace(pushID string, body []byte, loc *time.Location) (*Trace, error) {
	var w traceWire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	t := &Trace{PushID: pushID, Instances: make([]Instance, 0, len(w.InstanceTrace))}
	for i := range w.InstanceTrace {
		t.Instances = append(t.Instances, w.InstanceTrace[i].instance(loc))
	}
	return t, nil
}
