package source

import "github.com/prometheus/client_golang/prometheus"

// Reasons a line is skipped, the `reason` label of
// timpush_exporter_file_lines_skipped_total.
const (
	ReasonTooLong   = "too_long"   // longer than MaxLineBytes
	ReasonNoID      = "no_id"      // the regex did not match, the JSON field is absent, the line is blank
	ReasonInvalidID = "invalid_id" // found, but pushid.Validate rejects it
	ReasonBadJSON   = "bad_json"   // format json: the line is not JSON
)

var skipReasons = []string{ReasonTooLong, ReasonNoID, ReasonInvalidID, ReasonBadJSON}

// FileMetrics are the metrics of all file sources, labelled by source (the
// configured glob). Create it once and share it between File values.
//
// Every line read is either with an ID or skipped for one reason:
// lines_read_total = lines_with_id_total + sum(lines_skipped_total).
type FileMetrics struct {
	linesRead   *prometheus.CounterVec
	linesWithID *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	bytesRead   *prometheus.CounterVec
	rotations   *prometheus.CounterVec
	truncations *prometheus.CounterVec
	unread      *prometheus.GaugeVec
	followed    *prometheus.GaugeVec
	open        *prometheus.GaugeVec
	pollErrors  *prometheus.CounterVec
	ignored     *prometheus.CounterVec
}

// NewFileMetrics creates the file source metrics and registers them with
// reg, if reg is not nil.
func NewFileMetrics(reg prometheus.Registerer) *FileMetrics {
	const ns, sub = "timpush_exporter", "file"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: name, Help: help,
		}, append([]string{"source"}, labels...))
	}
	gauge := func(subsystem, name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: subsystem, Name: name, Help: help,
		}, []string{"source"})
	}
	m := &FileMetrics{
		linesRead:   counter("lines_read_total", "Complete lines read from followed files."),
		linesWithID: counter("lines_with_id_total", "Lines that yielded a valid PushID."),
		skipped:     counter("lines_skipped_total", "Lines that yielded no PushID, by reason.", "reason"),
		bytesRead:   counter("bytes_read_total", "Bytes read from followed files."),
		rotations:   counter("rotations_total", "Followed files that were renamed away or deleted (and were read to their end)."),
		truncations: counter("truncations_total", "Followed files that were truncated or rewritten in place and read again from the start."),
		unread:      gauge(sub, "unread_bytes", "Bytes written to followed files but not read yet (size minus offset, summed)."),
		followed:    gauge("", "files_followed", "Files currently followed."),
		open:        gauge("", "files_open", "Followed files held open; files idle for a while are closed and reopened when they grow."),
		pollErrors:  counter("poll_errors_total", "Polls that could not list the glob's directories (and so changed nothing)."),
		ignored: counter("ignored_total", "Paths matching the glob that are not regular files (directory, fifo, other, dangling_symlink, symlink_loop), counted once while they stay so.",
			"reason"),
	}
	if reg != nil {
		reg.MustRegister(m.linesRead, m.linesWithID, m.skipped, m.bytesRead,
			m.rotations, m.truncations, m.unread, m.followed, m.open, m.pollErrors, m.ignored)
	}
	return m
}

// fileMetrics are the children of FileMetrics for one source, looked up
// once so that the read loop does no label hashing.
type fileMetrics struct {
	linesRead, linesWithID, bytesRead prometheus.Counter
	rotations, truncations            prometheus.Counter
	skipped                           map[string]prometheus.Counter
	unread, followed, open            prometheus.Gauge
	pollErrors                        prometheus.Counter
	ignored                           map[string]prometheus.Counter
}

func (m *FileMetrics) forSource(source string) *fileMetrics {
	fm := &fileMetrics{
		linesRead:   m.linesRead.WithLabelValues(source),
		linesWithID: m.linesWithID.WithLabelValues(source),
		bytesRead:   m.bytesRead.WithLabelValues(source),
		rotations:   m.rotations.WithLabelValues(source),
		truncations: m.truncations.WithLabelValues(source),
		skipped:     make(map[string]prometheus.Counter, len(skipReasons)),
		unread:      m.unread.WithLabelValues(source),
		followed:    m.followed.WithLabelValues(source),
		open:        m.open.WithLabelValues(source),
		pollErrors:  m.pollErrors.WithLabelValues(source),
		ignored:     make(map[string]prometheus.Counter, len(fileIgnoredReasons)),
	}
	for _, r := range skipReasons {
		fm.skipped[r] = m.skipped.WithLabelValues(source, r)
	}
	for _, r := range fileIgnoredReasons {
		fm.ignored[r] = m.ignored.WithLabelValues(source, r)
	}
	return fm
}

// lineCounts accumulates one read's counts so that the metrics are updated
// once per read, not once per line.
type lineCounts struct {
	lines, withID, bytes int
	tooLong, noID        int
	invalidID, badJSON   int
}

func (c *lineCounts) skip(reason string) {
	switch reason {
	case ReasonTooLong:
		c.tooLong++
	case ReasonNoID:
		c.noID++
	case ReasonInvalidID:
		c.invalidID++
	case ReasonBadJSON:
		c.badJSON++
	}
}

func (m *fileMetrics) add(c *lineCounts) {
	add := func(ctr prometheus.Counter, n int) {
		if n > 0 {
			ctr.Add(float64(n))
		}
	}
	add(m.linesRead, c.lines)
	add(m.linesWithID, c.withID)
	add(m.bytesRead, c.bytes)
	add(m.skipped[ReasonTooLong], c.tooLong)
	add(m.skipped[ReasonNoID], c.noID)
	add(m.skipped[ReasonInvalidID], c.invalidID)
	add(m.skipped[ReasonBadJSON], c.badJSON)
	*c = lineCounts{}
}
