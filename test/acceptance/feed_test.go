package acceptance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Tencent callback commands used by the tests.
const (
	cmdOfflinePush = "Push.OfflinePush"
	cmdC2C         = "C2C.CallbackAfterSendMsg"
	cmdGroup       = "Group.CallbackAfterSendMsg"
	cmdAllMember   = "Push.AllMemberPush" // acknowledged, carries no PushID we take
)

// hooks sends requests to the exporter's webhook listener, wherever the
// current run listens.
type hooks struct {
	addr          func() string
	bearerToken   string
	callbackToken string
	client        *http.Client
}

func (e *env) hooks() *hooks {
	return &hooks{
		addr:          e.exp.webhookAddr,
		bearerToken:   e.bearerToken,
		callbackToken: e.callbackToken,
		// Longer than the exporter's 10 s wait for a checkpoint.
		client: &http.Client{Timeout: 15 * time.Second},
	}
}

// pushIDs posts body to /webhook/push-ids?app=acc with the given bearer
// token ("" sends no Authorization header) and returns the status code.
func (h *hooks) pushIDs(ctx context.Context, token, contentType string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.addr()+"/webhook/push-ids?app="+appName, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(req)
}

// tencent posts a callback as Tencent sends it: the query string carries
// SdkAppid, CallbackCommand, RequestTime and Sign = sha256hex(token +
// RequestTime), signed here with token.
func (h *hooks) tencent(ctx context.Context, token, command string, requestTime time.Time, body []byte) (int, error) {
	rt := strconv.FormatInt(requestTime.Unix(), 10)
	sum := sha256.Sum256([]byte(token + rt))
	q := url.Values{
		"SdkAppid":        {strconv.Itoa(appID)},
		"CallbackCommand": {command},
		"contenttype":     {"json"},
		"ClientIP":        {"127.0.0.1"},
		"OptPlatform":     {"RESTAPI"},
		"RequestTime":     {rt},
		"Sign":            {hex.EncodeToString(sum[:])},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+h.addr()+"/webhook/tencent?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	return h.do(req)
}

func (h *hooks) do(req *http.Request) (int, error) {
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Bodies.

func jsonIDs(ids ...string) []byte {
	b, _ := json.Marshal(map[string][]string{"PushIDs": ids})
	return b
}

func textIDs(ids ...string) []byte {
	var b bytes.Buffer
	for _, id := range ids {
		fmt.Fprintf(&b, "  %s\t\r\n\n", id) // blank lines and spaces are ignored
	}
	return b.Bytes()
}

func offlinePushBody(ids ...string) []byte {
	type event struct {
		CallbackCommand string
		EventType       int
		EventTime       int64
		From_Account    string //nolint:revive // Tencent's spelling
		To_Account      string //nolint:revive // Tencent's spelling
		PushPlatform    string
		PushStage       int
		PushID          string
		ErrCode         int
		ErrInfo         string
	}
	var evs []event
	for i, id := range ids {
		evs = append(evs, event{cmdOfflinePush, 1, time.Now().Unix(), "sender", fmt.Sprintf("user%d", i), "Android", 1, id, 0, ""})
	}
	b, _ := json.Marshal(map[string]any{"Events": evs})
	return b
}

func sendMsgBody(command, msgID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"CallbackCommand": command, "From_Account": "sender", "To_Account": "receiver",
		"MsgSeq": 48374, "MsgRandom": 2837546, "MsgTime": time.Now().Unix(),
		"MsgKey": "48374_2837546_1557481126", "MsgId": msgID, "SendMsgResult": 0,
		"MsgBody": []map[string]any{{"MsgType": "TIMTextElem", "MsgContent": map[string]string{"Text": "hi"}}},
	})
	return b
}

// logFile is an application's log file, written as an application does:
// opened for appending, lines written whole or in pieces.
type logFile struct {
	t        *testing.T
	path     string
	f        *os.File
	newlines int // complete lines written through this logFile, all files
	bytes    int // bytes written through this logFile, all files
}

func createLog(t *testing.T, path string) *logFile {
	t.Helper()
	l := &logFile{t: t, path: path}
	l.reopen()
	return l
}

// reopen opens (creating) the file at path, as an application does after
// its log was rotated; the previous file stays open until closed.
func (l *logFile) reopen() {
	l.t.Helper()
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	l.f = f
}

// write writes raw bytes (which may hold several lines, or part of one).
func (l *logFile) write(s string) {
	l.t.Helper()
	if _, err := l.f.WriteString(s); err != nil {
		l.t.Fatal(err)
	}
	l.newlines += bytes.Count([]byte(s), []byte{'\n'})
	l.bytes += len(s)
}

// idLine is a log line naming id in the configured regex format.
func idLine(n int, id string) string {
	return fmt.Sprintf("2026-11-25T08:00:%02d.123Z INFO push sent msg_id=%s to=user%d vendor=any\n", n%60, id, n)
}

// ledger records what the test delivered and how: the exporter must have
// sampled each distinct good ID once, and never any bad one.
type ledger struct {
	mu          sync.Mutex
	good        map[string]bool
	bad         map[string]bool
	occurrences map[string]int // by source label: every good ID delivered, duplicates included
	dups        int            // deliveries of a good ID already delivered
}

func newLedger() *ledger {
	return &ledger{good: map[string]bool{}, bad: map[string]bool{}, occurrences: map[string]int{}}
}

// deliver records ids as legitimately delivered through source.
func (l *ledger) deliver(source string, ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.occurrences[source]++
		if l.good[id] {
			l.dups++
		}
		l.good[id] = true
	}
}

// reject records ids that were only ever in rejected input.
func (l *ledger) reject(ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.bad[id] = true
	}
}

func (l *ledger) goodSet() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.good))
	for id := range l.good {
		out[id] = true
	}
	return out
}
