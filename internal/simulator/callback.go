package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// MaxCallbackEvents is the most events Tencent puts in one callback body.
const MaxCallbackEvents = 100

// callbackEventJSON is one event of a Push.OfflinePush body, fields in the
// order of Tencent's documentation.
type callbackEventJSON struct {
	CallbackCommand string
	EventType       int
	EventTime       int64  // unix seconds
	FromAccount     string `json:"From_Account"`
	ToAccount       string `json:"To_Account"`
	PushPlatform    int
	PushStage       int
	MsgKey          string
	MsgSeq          uint32
	MsgRandom       uint32
	MsgTime         int64
	PushID          string
	ErrCode         int
	ErrInfo         string
}

// CallbackBody is the JSON body Tencent posts for events:
// {"Events":[…]}. Tencent sends 1 to MaxCallbackEvents events per body
// (CallbackSender never sends more); CallbackBody encodes whatever it is
// given, so that tests can also build the bodies Tencent would not send.
func CallbackBody(events []PushEvent) []byte {
	body := struct{ Events []callbackEventJSON }{make([]callbackEventJSON, len(events))}
	for i, e := range events {
		body.Events[i] = callbackEventJSON{CallbackCommand: CallbackOfflinePush, EventType: e.EventType,
			EventTime: e.EventTime.Unix(), FromAccount: e.FromAccount, ToAccount: e.ToAccount,
			PushPlatform: e.PushPlatform, PushStage: e.PushStage, MsgKey: e.MsgKey, MsgSeq: e.MsgSeq,
			MsgRandom: e.MsgRandom, MsgTime: e.MsgTime, PushID: e.PushID, ErrCode: e.ErrCode, ErrInfo: e.ErrInfo}
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic("simulator: marshal callback body: " + err.Error()) // our own types: cannot happen
	}
	return b
}

// CallbackQuery is the query string of a Push.OfflinePush callback of
// sdkappid sent at now. With a token (the callback authentication token
// set in Tencent's console) it carries RequestTime and Sign.
func CallbackQuery(sdkappid int64, token string, now time.Time) url.Values {
	q := url.Values{
		"SdkAppid":        {strconv.FormatInt(sdkappid, 10)},
		"CallbackCommand": {CallbackOfflinePush},
		"contenttype":     {"json"},
	}
	if token != "" {
		rt := strconv.FormatInt(now.Unix(), 10)
		q.Set("RequestTime", rt)
		q.Set("Sign", CallbackSign(token, rt))
	}
	return q
}

// CallbackSign is Tencent's callback signature: lowercase hex SHA-256 (not
// an HMAC) of the token followed by the RequestTime string.
func CallbackSign(token, requestTime string) string {
	sum := sha256.Sum256([]byte(token + requestTime))
	return hex.EncodeToString(sum[:])
}
