package timapi

import (
	"strconv"
	"testing"
)

// TestCodeLabel: a code that is not an integer of the 32-bit range gets one
// label, out_of_range; ErrorCode 1e300 used to become
// error_code="-9223372036854775808" (issue 13.11).
func TestCodeLabel(t *testing.T) {
	for _, tt := range []struct {
		json, want string
	}{
		{`80300007`, "80300007"}, // Huawei's "token invalid"
		{`-1`, "-1"},
		{`"410"`, "410"},
		{`2.0`, "2"},
		{`1e3`, "1000"},
		{`2147483647`, "2147483647"},
		{`-2147483648`, "-2147483648"},
		{`2147483648`, LabelOutOfRange},
		{`-2147483649`, LabelOutOfRange},
		{`9223372036854775807`, LabelOutOfRange},
		{`9223372036854775808`, LabelOutOfRange},
		{`1e300`, LabelOutOfRange},
		{`-1e300`, LabelOutOfRange},
		{`1e999`, LabelOutOfRange},
		{`1.5`, LabelOutOfRange},
		{`"NaN"`, LabelOutOfRange},
		{`"Inf"`, LabelOutOfRange},
		{`"-Infinity"`, LabelOutOfRange},
	} {
		body := `{"InstanceTrace":[{"OfflinePushStat":{"DeviceStat":{"PushStatus":2,"ErrorCode":` + tt.json + `}}}]}`
		tr, err := decodeTrace("id", []byte(body), shanghai)
		if err != nil {
			t.Errorf("ErrorCode %s: %v", tt.json, err)
			continue
		}
		stage := CodeLabel(tr.Instances[0].Stages[StageDevice].ErrorCode)
		e := &Error{Code: tr.Instances[0].Stages[StageDevice].ErrorCode}
		if stage != tt.want || e.Label() != tt.want {
			t.Errorf("ErrorCode %s: stage label %q, API error label %q; want %q", tt.json, stage, e.Label(), tt.want)
		}
	}
	if got := CodeLabel(0); got != "0" {
		t.Errorf("CodeLabel(0) = %q", got)
	}
	if got := (&Error{Code: outOfRange, Class: ClassTransient}).Error(); got != "timapi: error code "+LabelOutOfRange+" [transient]" {
		t.Errorf("Error() = %q", got)
	}
	if got := strconv.Itoa(int(flexInt(outOfRange))); CodeLabel(int(flexInt(outOfRange))) == got {
		t.Errorf("the out-of-range value is labelled as a number")
	}
}
