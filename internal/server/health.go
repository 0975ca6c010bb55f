package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// health is what /-/ready reports: ready once every part started, and not
// ready while a part has failed since or the last checkpoint could not be
// saved (counters are then not advancing, and a crash would lose what was
// acknowledged since).
type health struct {
	mu       sync.Mutex
	started  bool
	failures map[string]error // by part
}

func newHealth() *health { return &health{failures: map[string]error{}} }

func (h *health) setStarted(v bool) {
	h.mu.Lock()
	h.started = v
	h.mu.Unlock()
}

// fail records that part failed with err.
func (h *health) fail(part string, err error) {
	h.mu.Lock()
	h.failures[part] = err
	h.mu.Unlock()
}

// ok records that part works (again).
func (h *health) ok(part string) {
	h.mu.Lock()
	delete(h.failures, part)
	h.mu.Unlock()
}

// problems lists what keeps the exporter from being ready; none when ready.
func (h *health) problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		return []string{"starting"}
	}
	var out []string
	for part, err := range h.failures {
		out = append(out, fmt.Sprintf("%s: %v", part, err))
	}
	sort.Strings(out)
	return out
}

func (h *health) serveReady(w http.ResponseWriter, _ *http.Request) {
	if p := h.problems(); len(p) > 0 {
		http.Error(w, "Not ready: "+strings.Join(p, "; "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "Ready")
}
