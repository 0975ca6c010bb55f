package pushid

import (
	"math"
	"time"
)

// Event is one push result event of Tencent's push callback
// (Push.OfflinePush for single and group messages, Push.AllMemberPush for
// all-user and tag pushes): the outcome of one stage of one push on one
// recipient, reported in real time for every push, sampled or not.
type Event struct {
	App      string
	Platform int // PushPlatform, as in the trace API (0 unknown, 1 APNs, … 8 Honor)
	// Stage is PushStage. Tencent documents only the example value 1, not
	// what the values mean, so it is kept as the number it is.
	Stage   int
	ErrCode int64  // 0: success; ErrCodeOutOfRange when the number did not fit
	ErrInfo string // Tencent's text; never compared
	Time    time.Time
	// Key identifies the event: a hash of every field as received. A
	// redelivered event (Tencent retries callbacks) has the same Key, so it
	// is counted once.
	Key uint64
}

// ErrCodeOutOfRange stands for an ErrCode that was not an integer of a
// sensible size (1e300, a fraction, NaN).
const ErrCodeOutOfRange = math.MinInt64

// Failed reports whether the event is a failure (ErrCode ≠ 0).
func (e *Event) Failed() bool { return e.ErrCode != 0 }

// Count is how many PushIDs of one app a source read, sampled or not,
// duplicates included: timpush_exporter_pushids_received_total.
type Count struct {
	App    string
	Source string // SourceFile, SourceWebhook, SourceDemo
	N      int
}
