//go:build race

package acceptance

// The exporter is built with -race too when the tests run with -race, and
// its log is checked for data race reports.
func init() { raceEnabled = true }
