package server

import (
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/timpush/timpush_exporter/internal/store"
)

// openStore opens the state file in dir, exporting whether a corrupt one
// had to be moved aside.
func openStore(dir string, reg prometheus.Registerer, logger log.Logger) (*store.Store, error) {
	movedAside := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "timpush_exporter_state_file_moved_aside",
		Help: "1 when the state file was corrupt at start-up and was moved aside (counters restarted from zero).",
	})
	if err := reg.Register(movedAside); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	st, opened, err := store.Open(dir, store.Options{LockTimeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot open the state file; it was left as it is: fix the cause and start again: %w", err)
	}
	if opened.MovedAside != "" {
		movedAside.Set(1)
		level.Error(logger).Log("msg", "THE STATE FILE WAS CORRUPT: moved aside, starting from empty state (counters restart at zero)",
			"moved_to", opened.MovedAside, "err", opened.Cause)
	}
	return st, nil
}
