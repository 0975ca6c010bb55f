package source

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// Push result events (Push.OfflinePush, Push.AllMemberPush) become
// pushid.Events. Tencent documents their members as numbers, but the only
// values we have seen are examples, so numbers are read leniently: a JSON
// number or a string holding one, integral floats (3.0) included.

// The members of an event that are read or that identify it (its Key).
const (
	evCommand = iota
	evEventType
	evEventTime
	evPushID
	evTaskID
	evTaskTime
	evFrom
	evTo
	evPlatform
	evStage
	evMsgKey
	evMsgSeq
	evMsgRandom
	evMsgTime
	evGroupID
	evErrCode
	evErrInfo
	evFields
)

// tencentEventNames are the members' names, folded (wjFold) for wjKeyIs.
// GroupID also matches GroupId, as encoding/json would.
var tencentEventNames = func() (names [evFields]string) {
	for i, n := range [evFields]string{
		"CallbackCommand", "EventType", "EventTime", "PushID", "TaskId", "TaskTime",
		"From_Account", "To_Account", "PushPlatform", "PushStage", "MsgKey", "MsgSeq",
		"MsgRandom", "MsgTime", "GroupID", "ErrCode", "ErrInfo",
	} {
		names[i] = wjFold(n)
	}
	return names
}()

// tencentMaxLabelNumber bounds PushPlatform and PushStage, which become
// label values: a larger or negative one makes the event bad rather than
// a new series.
const tencentMaxLabelNumber = 1<<16 - 1

// tencentMaxErrInfo bounds the ErrInfo kept (bytes); vendors' texts are short.
const tencentMaxErrInfo = 1024

// tencentEventTimeMillis: an EventTime at or above it is in milliseconds
// (Tencent's group callbacks send milliseconds; 1e11 s is the year 5138).
const tencentEventTimeMillis = 1e11

// tencentRawEvent holds an event's members as sent: kind and raw bytes.
type tencentRawEvent struct {
	object bool // false: the element of Events was not an object
	kinds  [evFields]wjKind
	vals   [evFields][]byte
}

// read fills e from val, an element of Events as sent.
func (e *tencentRawEvent) read(kind wjKind, val []byte) {
	*e = tencentRawEvent{object: kind == wjObject}
	if !e.object {
		return
	}
	// val was checked with the whole body: no error can come back.
	_ = wjWalkMembers(val, func(key []byte, kind wjKind, val []byte) error {
		for i := range tencentEventNames {
			if wjKeyIs(key, tencentEventNames[i]) {
				e.kinds[i], e.vals[i] = kind, val // the last of duplicates wins
				break
			}
		}
		return nil
	})
}

// str is member i decoded as a string (absent and null are ""); ok is false
// for another type.
func (e *tencentRawEvent) str(i int) (s []byte, ok bool) {
	switch e.kinds[i] {
	case wjAbsent, wjNull:
		return nil, true
	case wjString:
		s, _ = wjUnquote(e.vals[i], nil)
		return s, true
	}
	return nil, false
}

// event makes the pushid.Event. problem names what made it impossible
// ("" if none); timeOK is false when EventTime was missing or no time, and
// the event was given now instead.
func (e *tencentRawEvent) event(app WebhookApp, now time.Time) (ev pushid.Event, problem string, timeOK bool) {
	platform, ok := tencentLabelNumber(e.kinds[evPlatform], e.vals[evPlatform])
	if !ok {
		return ev, "PushPlatform", false
	}
	stage, ok := tencentLabelNumber(e.kinds[evStage], e.vals[evStage])
	if !ok {
		return ev, "PushStage", false
	}
	code, ok := tencentErrCode(e.kinds[evErrCode], e.vals[evErrCode])
	if !ok {
		return ev, "ErrCode", false
	}
	info, ok := e.str(evErrInfo)
	if !ok {
		return ev, "ErrInfo", false
	}
	t, timeOK := tencentEventTime(e.kinds[evEventTime], e.vals[evEventTime])
	if !timeOK {
		t = now
	}
	return pushid.Event{
		App: app.Name, Platform: int(platform), Stage: int(stage),
		ErrCode: code, ErrInfo: tencentErrInfo(info), Time: t,
		Key: e.key(app.SDKAppID),
	}, "", timeOK
}

// key hashes every identifying member as sent, in a fixed order and
// independent of the members' order, spacing and escapes, under the app's
// SDKAppID: a redelivered event has the same key. Each member present adds
// its index, kind, length and value (strings decoded), so "1" and 1, an
// absent member and an empty one, all differ.
func (e *tencentRawEvent) key(sdkAppID int64) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(uint64(sdkAppID))
	var head [2 + binary.MaxVarintLen64]byte
	var small [128]byte
	for i := range evFields {
		kind := e.kinds[i]
		if kind == wjAbsent {
			continue
		}
		val := e.vals[i]
		if kind == wjString {
			val, _ = wjUnquote(val, small[:0])
		}
		head[0], head[1] = byte(i), byte(kind)
		n := binary.PutUvarint(head[2:], uint64(len(val)))
		_, _ = d.Write(head[:2+n])
		_, _ = d.Write(val)
	}
	return d.Sum64()
}

// tencentErrInfo is ErrInfo as kept: valid UTF-8 (it is only text, never an
// identity) and at most tencentMaxErrInfo bytes.
func tencentErrInfo(b []byte) string {
	if len(b) > tencentMaxErrInfo {
		b = b[:tencentMaxErrInfo]
		// Drop a character cut in two (at most UTFMax-1 bytes of it).
		for range utf8.UTFMax - 1 {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// tencentLabelNumber reads PushPlatform or PushStage: an integer from 0 to
// tencentMaxLabelNumber.
func tencentLabelNumber(kind wjKind, val []byte) (int64, bool) {
	text, ok := wjNumberText(kind, val)
	if !ok {
		return 0, false
	}
	n, exact := wjExactInt(text)
	return n, exact && 0 <= n && n <= tencentMaxLabelNumber
}

// tencentErrCode reads ErrCode. A number that is not an int64 exactly
// (1.5, 1e300) is pushid.ErrCodeOutOfRange, and so is a string that holds
// no number ("abc"): Tencent's loss API sends codes as strings, and such an
// event is a failure whose code we cannot name, better counted than
// dropped. ok is false when ErrCode is missing, null, "" or another type.
func tencentErrCode(kind wjKind, val []byte) (int64, bool) {
	if text, ok := wjNumberText(kind, val); ok {
		if n, exact := wjExactInt(text); exact {
			return n, true
		}
		return pushid.ErrCodeOutOfRange, true
	}
	if kind != wjString {
		return 0, false
	}
	s, _ := wjUnquote(val, nil)
	if len(bytes.Trim(s, " \t\r\n")) == 0 {
		return 0, false
	}
	return pushid.ErrCodeOutOfRange, true
}

// tencentEventTime reads EventTime: Unix seconds (milliseconds from
// tencentEventTimeMillis on), fractions allowed. ok is false for anything
// else, zero and negative times included.
func tencentEventTime(kind wjKind, val []byte) (time.Time, bool) {
	text, ok := wjNumberText(kind, val)
	if !ok {
		return time.Time{}, false
	}
	if n, exact := wjExactInt(text); exact {
		switch {
		case n <= 0:
			return time.Time{}, false
		case n >= tencentEventTimeMillis:
			return time.UnixMilli(n), true
		}
		return time.Unix(n, 0), true
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || !(f > 0 && f < tencentEventTimeMillis) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
