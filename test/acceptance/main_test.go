package acceptance

import (
	"testing"

	"github.com/timpush/timpush_exporter/internal/exportertest"
)

// TestMain builds the exporter once, as `go build` would for a user (with
// -race when the tests run with -race), the first time a test needs it.
func TestMain(m *testing.M) { exportertest.Main(m) }

// skipShort marks a test as slow (real time, a real binary).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("acceptance test of the built binary: skipped with -short")
	}
}
