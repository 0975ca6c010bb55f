package statistics

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

func pt(value float64, labels ...string) point { return point{labels: labels, value: value} }

func TestStatisticsPointsLenient(t *testing.T) {
	got := statisticsPoints(&timapi.Statistics{
		TotalCount: 10, SentCount: -1, DeliveredCount: 7, ClickCount: 0,
		PlatformStatistics: []timapi.PlatformStatistics{
			{PushPlatform: 3, TotalCount: 4, SentCount: 4, DeliveredCount: 3, ClickCount: -5},
			{PushPlatform: 3, TotalCount: 1, SentCount: 1, DeliveredCount: 1, ClickCount: 1}, // repeated: summed
			{PushPlatform: 42, TotalCount: 2, SentCount: 2, DeliveredCount: 2, ClickCount: 2},
			{PushPlatform: 99, TotalCount: 3, SentCount: 3, DeliveredCount: 3, ClickCount: 3}, // both "other"
		},
	})
	want := []point{
		pt(0, "all", "clicked"), pt(7, "all", "delivered"), pt(10, "all", "total"), // sent: negative, skipped
		pt(1, "huawei", "clicked"), pt(4, "huawei", "delivered"), pt(5, "huawei", "sent"), pt(5, "huawei", "total"),
		pt(5, "other", "clicked"), pt(5, "other", "delivered"), pt(5, "other", "sent"), pt(5, "other", "total"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statisticsPoints =\n%v\nwant\n%v", got, want)
	}
}

func TestLossPointsLenient(t *testing.T) {
	long := strings.Repeat("é", MaxErrorInfo+20)
	counts, info := lossPoints(&timapi.Loss{
		ReadyToSendLoss: []timapi.LossReason{
			{PushPlatform: 7, ErrCode: "-1", ErrCount: 4, ErrInfo: "token not\n uploaded "}, // platform ignored: "all"
			{ErrCode: "", ErrCount: 2, ErrInfo: ""},                                         // no code: unknown, no text: no info row
			{ErrCode: "-3", ErrCount: -9, ErrInfo: "negative"},                              // skipped
			{ErrCode: "400", ErrCount: 1, ErrInfo: "BadDeviceToken"},
			{ErrCode: "400", ErrCount: 2, ErrInfo: "INVALID_ARGUMENT"}, // same code, two texts
			{ErrCode: "400", ErrCount: 3, ErrInfo: "BadDeviceToken"},
		},
		PlatformPostSendDeliveredLoss: []timapi.LossReason{
			{PushPlatform: 0, ErrCode: "\xff410", ErrCount: 1, ErrInfo: long}, // PushPlatform missing: unknown
			{PushPlatform: 8, ErrCode: " 80300007 ", ErrCount: 0, ErrInfo: "token invalid"},
		},
	})
	wantCounts := []point{
		pt(4, "all", "ready_to_send", "-1"), pt(6, "all", "ready_to_send", "400"), pt(2, "all", "ready_to_send", "unknown"),
		pt(0, "honor", "post_send_delivered", "80300007"),
		pt(1, "unknown", "post_send_delivered", "\uFFFD410"),
	}
	wantInfo := []point{
		pt(1, "all", "ready_to_send", "-1", "token not uploaded"),
		pt(1, "all", "ready_to_send", "400", "BadDeviceToken | INVALID_ARGUMENT"),
		pt(1, "honor", "post_send_delivered", "80300007", "token invalid"),
		pt(1, "unknown", "post_send_delivered", "\uFFFD410", strings.Repeat("é", MaxErrorInfo-1)+"…"),
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("counts =\n%v\nwant\n%v", counts, wantCounts)
	}
	if !reflect.DeepEqual(info, wantInfo) {
		t.Errorf("info =\n%v\nwant\n%v", info, wantInfo)
	}
	for _, p := range append(counts, info...) {
		for _, l := range p.labels {
			if !utf8.ValidString(l) || utf8.RuneCountInString(l) > MaxErrorInfo {
				t.Errorf("label value %q: invalid UTF-8 or longer than %d", l, MaxErrorInfo)
			}
		}
	}
}

// Joined texts are truncated as a whole.
func TestLossInfoJoinedTruncated(t *testing.T) {
	a, b := strings.Repeat("a", 60), strings.Repeat("b", 60)
	_, info := lossPoints(&timapi.Loss{PostSendDeliveredLoss: []timapi.LossReason{
		{ErrCode: "1", ErrCount: 1, ErrInfo: b}, {ErrCode: "1", ErrCount: 1, ErrInfo: a},
	}})
	want := (a + " | " + b)[:MaxErrorInfo-1] + "…"
	if len(info) != 1 || info[0].labels[3] != want {
		t.Errorf("info = %v, want one row %q", info, want)
	}
}

// 51 codes in a phase: the 50 with the most losses keep their series and
// texts; the least one goes to "other", on every platform it appears on.
func TestLossCodeCap(t *testing.T) {
	var all, byPlatform []timapi.LossReason
	for i := range MaxErrorCodes + 1 {
		code := fmt.Sprint(1000 + i)
		n := int64(100 + i) // code 1000 has the fewest losses
		all = append(all, timapi.LossReason{ErrCode: code, ErrCount: n, ErrInfo: "text " + code})
		byPlatform = append(byPlatform, timapi.LossReason{PushPlatform: 1 + i%2, ErrCode: code, ErrCount: n, ErrInfo: "text " + code})
	}
	// The other phase has its own budget.
	post := []timapi.LossReason{{ErrCode: "1000", ErrCount: 1, ErrInfo: "text 1000"}}
	counts, info := lossPoints(&timapi.Loss{ReadyToSendLoss: all, PlatformReadyToSendLoss: byPlatform, PostSendDeliveredLoss: post})

	codes := map[string]bool{}
	got := map[string]float64{}
	for _, p := range counts {
		if p.labels[1] == phaseReadyToSend {
			codes[p.labels[2]] = true
		}
		got[strings.Join(p.labels, "/")] = p.value
	}
	if len(codes) != MaxErrorCodes+1 || !codes[codeOther] || codes["1000"] {
		t.Errorf("ready_to_send codes = %d (%v), want %d plus other, without 1000", len(codes), codes, MaxErrorCodes)
	}
	for key, want := range map[string]float64{
		"all/ready_to_send/other": 100, "apns/ready_to_send/other": 100, "xiaomi/ready_to_send/other": 0,
		"all/ready_to_send/1050": 150, "xiaomi/ready_to_send/1001": 101, "all/post_send_delivered/1000": 1,
	} {
		if v, ok := got[key]; (want == 0 && ok) || (want != 0 && v != want) {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for _, p := range info {
		if p.labels[2] == codeOther || (p.labels[1] == phaseReadyToSend && p.labels[2] == "1000") {
			t.Errorf("info row for a code beyond the cap: %v", p.labels)
		}
	}
	if len(info) != 2*MaxErrorCodes+1 { // all and one platform per kept code, plus post
		t.Errorf("%d info rows, want %d", len(info), 2*MaxErrorCodes+1)
	}
}
