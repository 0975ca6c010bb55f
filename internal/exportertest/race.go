//go:build race

package exportertest

// The tests run with -race: the exporter is built with it too.
const raceEnabled = true
