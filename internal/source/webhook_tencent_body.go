package source

import (
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
)

// The top-level members of a callback body that matter here; the rest (and
// unknown members) are skipped.
var (
	tencentNameCommand = wjFold("CallbackCommand")
	tencentNameMsgID   = wjFold("MsgId")
	tencentNameEvents  = wjFold("Events")
)

// tencentBody holds those members as sent.
type tencentBody struct {
	commandKind, msgIDKind, eventsKind wjKind
	command, msgID, events             []byte
}

// read checks the body's syntax and picks its members. The body must be an
// object (or null). CallbackCommand and MsgId must be strings and Events an
// array, when present and not null, and Events may appear only once: as
// decoding them into a struct did, anything else makes the body invalid.
func (b *tencentBody) read(data []byte) error {
	eventsSeen := 0
	err := wjWalkObject(data, func(key []byte, kind wjKind, val []byte) error {
		switch {
		case wjKeyIs(key, tencentNameCommand):
			b.commandKind, b.command = kind, val
		case wjKeyIs(key, tencentNameMsgID):
			b.msgIDKind, b.msgID = kind, val
		case wjKeyIs(key, tencentNameEvents):
			b.eventsKind, b.events = kind, val
			eventsSeen++
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case !wjKindIs(b.commandKind, wjString), !wjKindIs(b.msgIDKind, wjString),
		!wjKindIs(b.eventsKind, wjArray), eventsSeen > 1:
		return errWJSyntax
	}
	return nil
}

// wjKindIs reports whether a member is absent, null or of kind want.
func wjKindIs(kind, want wjKind) bool {
	return kind == want || kind == wjAbsent || kind == wjNull
}

// tencentTake turns one callback body into IDs (in sc.ids) and events (in
// sc.events), counting what it leaves aside.
type tencentTake struct {
	app WebhookApp
	now time.Time
	sc  *whScratch

	ignored   whIgnored
	badEvents int
	problem   string // why the first bad event was bad: a member name
	noTime    int    // events given the receive time
}

// body takes what the callback command cmd (from the query string; else
// from the body, else from the first event, as Push.OfflinePush bodies have
// only Events at the top level) carries.
func (t *tencentTake) body(cmd string, b *tencentBody) {
	if b.eventsKind == wjArray {
		_ = wjWalkArray(b.events, func(kind wjKind, val []byte) error {
			t.sc.raw = append(t.sc.raw, tencentRawEvent{})
			t.sc.raw[len(t.sc.raw)-1].read(kind, val)
			return nil
		})
	}
	if cmd == "" && b.commandKind == wjString {
		s, _ := wjUnquote(b.command, nil)
		cmd = string(s)
	}
	if cmd == "" && len(t.sc.raw) > 0 && t.sc.raw[0].kinds[evCommand] == wjString {
		s, _ := wjUnquote(t.sc.raw[0].vals[evCommand], nil)
		cmd = string(s)
	}
	switch cmd {
	case tencentC2CAfterSendMsg, tencentGroupAfterSendMsg:
		// Older bodies have only MsgKey, which is not a PushID: no_id.
		t.id(b.msgIDKind, b.msgID)
	case tencentOfflinePush, tencentAllMemberPush:
		if len(t.sc.raw) == 0 {
			if cmd == tencentOfflinePush {
				t.ignored[ignoredNoID]++
			} else {
				t.ignored[ignoredNoEvent]++
			}
		}
		for i := range t.sc.raw {
			raw := &t.sc.raw[i]
			if cmd == tencentOfflinePush {
				t.id(raw.kinds[evPushID], raw.vals[evPushID])
			}
			t.event(raw)
		}
	default:
		t.ignored[ignoredCommand]++
	}
}

// id takes one ID (MsgId or an event's PushID) if it is a valid PushID.
// Invalid ones are counted and skipped rather than rejected: Tencent would
// only send the same body again. Invalid UTF-8 is invalid here, where
// encoding/json made it U+FFFD.
func (t *tencentTake) id(kind wjKind, val []byte) {
	switch kind {
	case wjAbsent, wjNull:
		t.ignored[ignoredNoID]++
		return
	case wjString:
	default:
		t.ignored[ignoredInvalidID]++
		return
	}
	s, _ := wjUnquote(val, nil)
	switch {
	case len(s) == 0:
		t.ignored[ignoredNoID]++
	case !pushid.ValidBytes(s):
		t.ignored[ignoredInvalidID]++
	default:
		t.sc.ids = append(t.sc.ids, s)
	}
}

// event takes one push result event, or counts it as bad.
func (t *tencentTake) event(raw *tencentRawEvent) {
	problem := "not an object"
	if raw.object {
		ev, p, timeOK := raw.event(t.app, t.now)
		if p == "" {
			t.sc.events = append(t.sc.events, ev)
			if !timeOK {
				t.noTime++
			}
			return
		}
		problem = p
	}
	t.ignored[ignoredBadEvent]++
	if t.badEvents++; t.badEvents == 1 {
		t.problem = problem
	}
}
