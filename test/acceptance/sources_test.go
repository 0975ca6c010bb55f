package acceptance

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

// TestSourcesEndToEnd feeds a rotating log file, the JSON endpoint and
// signed Tencent callbacks — with duplicates, junk, over-long lines,
// invalid UTF-8, a wrong bearer token, broken JSON, an over-long ID, a bad
// signature and a stale timestamp — into the binary, and checks that every
// legitimately delivered PushID is counted exactly once, that nothing from
// rejected input is, and that the stage counters equal the traces served,
// with no call over the limit.
func TestSourcesEndToEnd(t *testing.T) {
	skipShort(t)
	t.Parallel()
	const seed = 3
	t.Logf("simulator seed %d", seed)
	env := newEnv(t, seed, simulator.Faults{})
	env.exp.startReady()
	ctx := context.Background()
	led := newLedger()
	sim := env.sim
	newID := func() string { return sim.NewPush(appID) }
	badID := func() string { id := newID(); led.reject(id); return id } // registered: a trace of it would show

	// The log file, first part: IDs among junk.
	log := createLog(t, filepath.Join(env.logDir, "push.log"))
	var fileIDs []string
	for i := range 15 {
		id := newID()
		fileIDs = append(fileIDs, id)
		log.write(idLine(i, id))
		led.deliver(pushid.SourceFile, id)
		switch i % 5 {
		case 0:
			log.write("2026-11-25T08:00:00Z INFO heartbeat ok\n\n   \n")
		case 1:
			log.write("\xff\xfe\x00\x80 binary junk \xc3\x28 msg_id=\n") // invalid UTF-8, a NUL, an empty ID
		case 2:
			log.write("WARN msg_id=!!! not an id\r\n")
		case 3:
			log.write(idLine(100+i, fileIDs[i-1])) // the same ID again
			led.deliver(pushid.SourceFile, fileIDs[i-1])
		}
	}
	// A line over max_line_bytes (64 KiB): skipped whole, its ID not taken.
	log.write("ERROR msg_id=" + badID() + " " + strings.Repeat("x", 70<<10) + "\n")
	// Invalid UTF-8 around a valid ID does no harm.
	id := newID()
	log.write("\xc3\x28\xff weird msg_id=" + id + " \xe2\x82\x00 end\n")
	led.deliver(pushid.SourceFile, id)
	// A line written in two pieces: the tailer must wait for its newline
	// rather than take the first half of the ID. The second piece is
	// written once the tailer has read the first.
	id = newID()
	log.write("INFO push sent msg_id=" + id[:7])
	waitBytesRead(t, env, log)
	log.write(id[7:] + " to=someone\n")
	led.deliver(pushid.SourceFile, id)

	// The JSON endpoint.
	h := env.hooks()
	wantStatus := func(what string, want int, got int, err error) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s: status %d, err %v; want %d", what, got, err, want)
		}
	}
	a, b, c := newID(), newID(), newID()
	code, err := h.pushIDs(ctx, h.bearerToken, "application/json", jsonIDs(a, b, c, a))
	wantStatus("JSON list with a duplicate", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, a, b, c, a)
	d := newID()
	code, err = h.pushIDs(ctx, h.bearerToken, "application/json", []byte(`{"PushID":"`+d+`"}`))
	wantStatus("JSON single ID", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, d)
	e1, f1 := newID(), newID()
	code, err = h.pushIDs(ctx, h.bearerToken, "text/plain; charset=utf-8", textIDs(e1, f1, e1))
	wantStatus("text/plain with a duplicate", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, e1, f1, e1)
	code, err = h.pushIDs(ctx, h.bearerToken, "application/json", jsonIDs(fileIDs[0])) // also in the file
	wantStatus("JSON with an ID from the file", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, fileIDs[0])

	code, err = h.pushIDs(ctx, "wrong-token", "application/json", jsonIDs(badID()))
	wantStatus("wrong bearer token", http.StatusUnauthorized, code, err)
	code, err = h.pushIDs(ctx, "", "application/json", jsonIDs(badID()))
	wantStatus("no bearer token", http.StatusUnauthorized, code, err)
	code, err = h.pushIDs(ctx, h.bearerToken, "application/json", []byte(`{"PushIDs":["`+badID()+`",`))
	wantStatus("broken JSON", http.StatusBadRequest, code, err)
	code, err = h.pushIDs(ctx, h.bearerToken, "application/json", jsonIDs(badID(), strings.Repeat("9", pushid.MaxLen+1)))
	wantStatus("an ID over 128 bytes (the whole body is rejected)", http.StatusBadRequest, code, err)
	code, err = h.pushIDs(ctx, h.bearerToken, "application/json", jsonIDs())
	wantStatus("empty list", http.StatusBadRequest, code, err)

	// Signed Tencent callbacks.
	g1, h1, i1, j1 := newID(), newID(), newID(), newID()
	now := time.Now()
	code, err = h.tencent(ctx, h.callbackToken, cmdOfflinePush, now, offlinePushBody(g1, h1, a))
	wantStatus("Push.OfflinePush", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, g1, h1, a)
	code, err = h.tencent(ctx, h.callbackToken, cmdC2C, now, sendMsgBody(cmdC2C, i1))
	wantStatus("C2C.CallbackAfterSendMsg", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, i1)
	code, err = h.tencent(ctx, h.callbackToken, cmdGroup, now, sendMsgBody(cmdGroup, j1))
	wantStatus("Group.CallbackAfterSendMsg", http.StatusOK, code, err)
	led.deliver(pushid.SourceWebhook, j1)
	code, err = h.tencent(ctx, h.callbackToken, cmdAllMember, now, []byte(`{"CallbackCommand":"Push.AllMemberPush","TaskId":"t1"}`))
	wantStatus("Push.AllMemberPush (acknowledged, no ID)", http.StatusOK, code, err)
	code, err = h.tencent(ctx, "not-the-token", cmdOfflinePush, now, offlinePushBody(badID()))
	wantStatus("bad signature", http.StatusUnauthorized, code, err)
	code, err = h.tencent(ctx, h.callbackToken, cmdC2C, now.Add(-2*time.Minute), sendMsgBody(cmdC2C, badID()))
	wantStatus("stale RequestTime", http.StatusUnauthorized, code, err)

	// Rotation by rename + create: the writer appends a few more lines to
	// the renamed file before it reopens its log.
	writeIDs := func(n int) {
		for i := range n {
			id := newID()
			log.write(idLine(i, id))
			led.deliver(pushid.SourceFile, id)
		}
	}
	writeIDs(5)
	old := log.f
	if err := os.Rename(log.path, log.path+".1"); err != nil { // push.log.1 is outside the glob
		t.Fatal(err)
	}
	writeIDs(3)
	log.reopen()
	old.Close()
	writeIDs(5)
	waitFileRead(t, env, log)

	// copytruncate, after the tailer has read everything: copy, truncate
	// in place, go on writing at offset 0.
	copyFile(t, log.path, log.path+".2")
	if err := log.f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	writeIDs(3)
	log.write("INFO after truncation, no id here\n")
	writeIDs(2)
	waitFileRead(t, env, log)

	good := led.goodSet()
	s := settle(t, env.exp, len(good), 2*lastQuery+60*time.Second)
	checkSampled(t, s, len(good))
	for source, n := range led.occurrences {
		if got := s.get(mReceived, "app", appName, "source", source); got != float64(n) {
			t.Errorf("%s{source=%q} = %v, want %d", mReceived, source, got, n)
		}
	}
	if got := s.get(mDup, "app", appName); got != float64(led.dups) {
		t.Errorf("%s = %v, want %d", mDup, got, led.dups)
	}
	compareWithServed(t, s, sim, good)
	env.checkRateLimit()

	src := env.fileSource()
	for _, w := range []struct {
		name  string
		pairs []string
		want  float64
	}{
		{"timpush_exporter_file_lines_skipped_total", []string{"source", src, "reason", "too_long"}, 1},
		{"timpush_exporter_file_rotations_total", []string{"source", src}, 1},
		{"timpush_exporter_file_truncations_total", []string{"source", src}, 1},
		{"timpush_exporter_file_lines_with_id_total", []string{"source", src}, float64(led.occurrences[pushid.SourceFile])},
		{"timpush_exporter_webhook_requests_total", []string{"endpoint", "push_ids", "code", "200"}, 4},
		{"timpush_exporter_webhook_requests_total", []string{"endpoint", "push_ids", "code", "401"}, 2},
		{"timpush_exporter_webhook_requests_total", []string{"endpoint", "push_ids", "code", "400"}, 3},
		{"timpush_exporter_webhook_requests_total", []string{"endpoint", "tencent", "code", "200"}, 4},
		{"timpush_exporter_webhook_requests_total", []string{"endpoint", "tencent", "code", "401"}, 2},
		{"timpush_exporter_webhook_auth_failures_total", []string{"endpoint", "tencent", "reason", "bad_sign"}, 1},
		{"timpush_exporter_webhook_auth_failures_total", []string{"endpoint", "tencent", "reason", "stale"}, 1},
		{"timpush_exporter_webhook_auth_failures_total", []string{"endpoint", "push_ids", "reason", "bad_token"}, 1},
		{"timpush_exporter_webhook_auth_failures_total", []string{"endpoint", "push_ids", "reason", "missing"}, 1},
	} {
		if got := s.get(w.name, w.pairs...); got != w.want {
			t.Errorf("%s = %v, want %v", seriesName(w.name, w.pairs...), got, w.want)
		}
	}
	t.Logf("%d distinct PushIDs delivered (%d by file, %d by webhook occurrences, %d duplicates), %d rejected",
		len(good), led.occurrences[pushid.SourceFile], led.occurrences[pushid.SourceWebhook], led.dups, len(led.bad))
	env.exp.stop()
}

// waitFileRead waits until the exporter has read every complete line
// written to the log, follows one file and has nothing unread.
func waitFileRead(t *testing.T, env *env, log *logFile) {
	t.Helper()
	src := env.fileSource()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last samples
	err := env.exp.await(ctx, 100*time.Millisecond, func() bool {
		s, err := scrape(env.exp.metricsAddr())
		if err != nil {
			return false
		}
		last = s
		return s.get("timpush_exporter_file_lines_read_total", "source", src) == float64(log.newlines) &&
			s.get("timpush_exporter_file_unread_bytes", "source", src) == 0 &&
			s.get("timpush_exporter_files_followed", "source", src) == 1
	})
	if err != nil {
		t.Fatalf("the tailer did not read the %d lines written (%v): lines read %v, unread bytes %v, files followed %v", log.newlines, err,
			last.get("timpush_exporter_file_lines_read_total", "source", src),
			last.get("timpush_exporter_file_unread_bytes", "source", src),
			last.get("timpush_exporter_files_followed", "source", src))
	}
}

// waitBytesRead waits until the tailer has read every byte written to the
// log, an unfinished last line included. (Written before any rotation or
// truncation, so each byte is read once.)
func waitBytesRead(t *testing.T, env *env, log *logFile) {
	t.Helper()
	src := env.fileSource()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got float64
	err := env.exp.await(ctx, 100*time.Millisecond, func() bool {
		s, err := scrape(env.exp.metricsAddr())
		if err != nil {
			return false
		}
		got = s.get("timpush_exporter_file_bytes_read_total", "source", src)
		return got == float64(log.bytes)
	})
	if err != nil {
		t.Fatalf("the tailer read %v of the %d bytes written (%v)", got, log.bytes, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
