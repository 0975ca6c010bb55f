package acceptance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

// TestKillRotatedWhileDown kills the exporter after a checkpoint saved the
// log's position; while it is down the log gets two more lines and is
// rotated by rename (push.log.1, outside the glob) + create, and the new
// log gets two lines. After the restart the rest of the old file is read
// from the saved position and the new file from its start: all seven IDs
// are received, none twice.
func TestKillRotatedWhileDown(t *testing.T) {
	skipShort(t)
	t.Parallel()
	env := newEnv(t, 7, simulator.Faults{})
	exp := env.exp
	exp.startReady()
	led := newLedger()
	log := createLog(t, filepath.Join(env.logDir, "push.log"))
	n := 0
	writeIDs := func(k int) {
		for range k {
			id := env.sim.NewPush(appID)
			log.write(idLine(n, id))
			led.deliver(pushid.SourceFile, id)
			n++
		}
	}
	writeIDs(3)
	// Served counters are those of the last checkpoint, which saved the
	// file's position with the IDs.
	awaitReceived(t, env, 3)
	exp.kill()

	writeIDs(2)
	old := log.f
	if err := os.Rename(log.path, log.path+".1"); err != nil {
		t.Fatal(err)
	}
	log.reopen()
	old.Close()
	writeIDs(2)
	exp.start()
	exp.waitReady(20 * time.Second)
	awaitReceived(t, env, 7)

	good := led.goodSet()
	s := settle(t, exp, len(good), 2*lastQuery+60*time.Second)
	if got := s.get(mReceived, "app", appName, "source", pushid.SourceFile); got != 7 {
		t.Errorf("%s{source=file} = %v after settling, want 7", mReceived, got)
	}
	if got := s.get(mDup, "app", appName); got != 0 {
		t.Errorf("%s = %v, want 0", mDup, got)
	}
	checkSampled(t, s, len(good))
	compareWithServed(t, s, env.sim, good)
	env.checkRateLimit()
	if !strings.Contains(exp.log(), "reading the rest of a file rotated while stopped") {
		t.Errorf("the exporter did not log reading the rotated file")
	}
	exp.stop()
}

// awaitReceived waits until /metrics shows want PushIDs received from the
// file.
func awaitReceived(t *testing.T, env *env, want float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got float64
	err := env.exp.await(ctx, 100*time.Millisecond, func() bool {
		s, err := scrape(env.exp.metricsAddr())
		if err != nil {
			return false
		}
		got = s.get(mReceived, "app", appName, "source", pushid.SourceFile)
		return got >= want
	})
	if err != nil {
		t.Fatalf("%s{source=file} = %v, want %v: %v", mReceived, got, want, err)
	}
	if got != want {
		t.Fatalf("%s{source=file} = %v, want %v", mReceived, got, want)
	}
}
