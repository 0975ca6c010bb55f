// Package acceptance runs the built timpush_exporter binary the way a user
// does: a YAML config whose app points (with endpoint:) at a simulator of
// the Tencent API started inside the test process, a log file and both
// webhooks as input, SIGKILL and restarts on the same --storage.path, and
// /metrics read as Prometheus reads it. The end-to-end tests end by
// comparing the exporter's push_stage_total and push_stage_failures_total
// with the trace outcomes the simulator actually served, and by checking
// that the simulator never saw a call over the rate limit.
//
// The tests run in real time (about two minutes in all, in parallel) and
// are skipped with -short. Run with -race, the exporter is built with -race
// too and its log must hold no race report. ACCEPTANCE_SEED=<n> replays the
// random choices of TestKillAndRestart.
package acceptance
