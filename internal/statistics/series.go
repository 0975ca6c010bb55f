package statistics

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/timpush/timpush_exporter/internal/timapi"
)

// Bounds of the loss series, per app and phase.
const (
	// MaxErrorCodes is how many error codes get series of their own; the
	// rest are summed in error_code="other" and get no info row.
	MaxErrorCodes = 50
	// MaxErrorInfo is the length in characters of an error_info label;
	// longer texts end in "…".
	MaxErrorInfo = 100
)

// Label values the API's data does not provide.
const (
	platformAll = "all"     // the totals over every platform
	codeOther   = "other"   // codes beyond MaxErrorCodes
	codeUnknown = "unknown" // an empty ErrCode
)

// The phase label values of the loss lists.
const (
	phaseReadyToSend       = "ready_to_send"       // lost before the vendor accepted the push
	phasePostSendDelivered = "post_send_delivered" // accepted by the vendor, not delivered
)

// kinds are the kind label values of the four counts of a statistics reply,
// in the order of counts.
var kinds = [4]string{"total", "sent", "delivered", "clicked"}

// point is one series of one app: its label values after app, and its value.
type point struct {
	labels []string
	value  float64
}

// statisticsPoints turns a reply into push_statistics_pushes rows
// (platform, kind). Negative counts are skipped; platforms that share a
// label value (unknown numbers are all "other") are summed.
func statisticsPoints(s *timapi.Statistics) []point {
	sums := map[[2]string]float64{}
	add := func(platform string, counts [4]int64) {
		for i, n := range counts {
			if n >= 0 {
				sums[[2]string{platform, kinds[i]}] += float64(n)
			}
		}
	}
	add(platformAll, [4]int64{s.TotalCount, s.SentCount, s.DeliveredCount, s.ClickCount})
	for _, p := range s.PlatformStatistics {
		add(timapi.PlatformName(p.PushPlatform), [4]int64{p.TotalCount, p.SentCount, p.DeliveredCount, p.ClickCount})
	}
	out := make([]point, 0, len(sums))
	for k, v := range sums {
		out = append(out, point{labels: []string{k[0], k[1]}, value: v})
	}
	sortPoints(out)
	return out
}

// lossRow is one usable row of a loss list, its strings cleaned.
type lossRow struct {
	platform, code, info string
	count                int64
}

// lossPoints turns a reply into push_loss_pushes rows (platform, phase,
// error_code) and push_loss_reason_info rows (the same plus error_info).
func lossPoints(l *timapi.Loss) (counts, info []point) {
	for _, ph := range []struct {
		name            string
		all, byPlatform []timapi.LossReason
	}{
		{phaseReadyToSend, l.ReadyToSendLoss, l.PlatformReadyToSendLoss},
		{phasePostSendDelivered, l.PostSendDeliveredLoss, l.PlatformPostSendDeliveredLoss},
	} {
		rows := append(lossRows(ph.all, false), lossRows(ph.byPlatform, true)...)
		c, i := phasePoints(ph.name, rows)
		counts, info = append(counts, c...), append(info, i...)
	}
	sortPoints(counts)
	sortPoints(info)
	return counts, info
}

// lossRows cleans a list: negative counts are dropped, an empty code is
// "unknown", and the platform is "all" for the lists that are not per
// platform (whatever PushPlatform they carry).
func lossRows(list []timapi.LossReason, perPlatform bool) []lossRow {
	out := make([]lossRow, 0, len(list))
	for _, r := range list {
		if r.ErrCount < 0 {
			continue
		}
		row := lossRow{platform: platformAll, code: clean(r.ErrCode), info: clean(r.ErrInfo), count: r.ErrCount}
		if perPlatform {
			row.platform = timapi.PlatformName(r.PushPlatform)
		}
		if row.code == "" {
			row.code = codeUnknown
		}
		out = append(out, row)
	}
	return out
}

// phasePoints keeps the MaxErrorCodes codes with the most losses in the
// phase (ties by code), sums the others in "other", and joins the distinct
// texts of each kept code into one info row.
func phasePoints(phase string, rows []lossRow) (counts, info []point) {
	totals := map[string]int64{}
	for _, r := range rows {
		totals[r.code] += r.count
	}
	codes := make([]string, 0, len(totals))
	for c := range totals {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b))
	})
	kept := map[string]bool{}
	for _, c := range codes[:min(len(codes), MaxErrorCodes)] {
		kept[c] = true
	}
	sums := map[[2]string]float64{}   // platform, code
	texts := map[[2]string][]string{} // distinct texts of kept codes
	for _, r := range rows {
		k := [2]string{r.platform, r.code}
		if !kept[r.code] {
			k[1] = codeOther
		}
		sums[k] += float64(r.count)
		if kept[r.code] && r.info != "" && !slices.Contains(texts[k], r.info) {
			texts[k] = append(texts[k], r.info)
		}
	}
	for k, v := range sums {
		counts = append(counts, point{labels: []string{k[0], phase, k[1]}, value: v})
	}
	for k, t := range texts {
		slices.Sort(t)
		info = append(info, point{labels: []string{k[0], phase, k[1], truncate(strings.Join(t, " | "), MaxErrorInfo)}, value: 1})
	}
	return counts, info
}

// clean makes an API string a tidy label value: valid UTF-8, runs of
// white space (newlines included) as one space, trimmed, at most
// MaxErrorInfo characters.
func clean(s string) string {
	return truncate(strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " "), MaxErrorInfo)
}

// truncate shortens s to n characters, the last one "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func sortPoints(ps []point) {
	slices.SortFunc(ps, func(a, b point) int { return slices.Compare(a.labels, b.labels) })
}
