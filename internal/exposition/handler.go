package exposition

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// HandlerOpts are the promhttp.HandlerOpts the handler honours. Otherwise
// it behaves as promhttp's defaults with EnableOpenMetrics: HTTP 500 on a
// gather error, gzip when the client asks for it.
type HandlerOpts struct {
	ErrorLog promhttp.Logger
	// Registry, if set, gets promhttp_metric_handler_errors_total, as with promhttp.
	Registry prometheus.Registerer
}

// acceptedFormats are promhttp's with EnableOpenMetrics, pinned: the two
// text formats the families are rendered in, and protobuf, for which they
// are gathered (Gatherer).
var acceptedFormats = []expfmt.Format{
	expfmt.FmtOpenMetrics_1_0_0, expfmt.FmtOpenMetrics_0_0_1,
	expfmt.FmtProtoDelim, expfmt.FmtProtoText, expfmt.FmtProtoCompact,
	expfmt.FmtText,
}

// Handler serves the metrics of reg and the families of src on one page:
// what promhttp.HandlerFor(prometheus.Gatherers{reg, Gatherer(src)}, …)
// serves, except that in the text formats the families are copied as
// rendered instead of gathered. They are written among reg's families in
// name order. A name in both is a gather error: Prometheus would reject a
// page with a family twice.
func Handler(reg prometheus.Gatherer, src Source, opts HandlerOpts) http.Handler {
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	errs.WithLabelValues("gathering")
	errs.WithLabelValues("encoding")
	if opts.Registry != nil {
		if err := opts.Registry.Register(errs); err != nil {
			are := prometheus.AlreadyRegisteredError{}
			if !errors.As(err, &are) {
				panic(err)
			}
			errs = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return &handler{reg: reg, src: src, saved: Gatherer(src), log: opts.ErrorLog, errs: errs}
}

type handler struct {
	reg   prometheus.Gatherer
	src   Source
	saved prometheus.Gatherer
	log   promhttp.Logger
	errs  *prometheus.CounterVec
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, acceptedFormats...)
	mfs, fams, err := h.gather(format)
	if err != nil {
		h.logError("error gathering metrics:", err)
		h.errs.WithLabelValues("gathering").Inc()
		http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
		return
	}
	fm := Text
	if format.FormatType() == expfmt.TypeOpenMetrics {
		fm = OpenMetrics
	}

	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	want := nameFilter(r)
	if gzipAccepted(r.Header) {
		w.Header().Set("Content-Encoding", "gzip")
		err = h.writeGzip(w, format, fm, mfs, fams, want)
	} else {
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := expfmt.NewEncoder(bw, format)
		err = writeAll(enc, mfs, fams, want, func(f *Family) error { return f.write(bw, fm) })
		if err == nil {
			err = enc.(expfmt.Closer).Close() // OpenMetrics' # EOF
		}
		if err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		h.logError("error encoding and sending metric family:", err)
		h.errs.WithLabelValues("encoding").Inc()
	}
}

// writeGzip writes the page gzipped. In the text formats the families
// are copied as compressed chunks (gzip.go); for protobuf (fams is nil)
// everything is compressed as written.
func (h *handler) writeGzip(w io.Writer, format expfmt.Format, fm Format, mfs []*dto.MetricFamily, fams []*Family, want func(string) bool) error {
	page := newGzipPage(w)
	dyn := bufio.NewWriterSize(page, 32<<10) // the registry's families, compressed as written
	enc := expfmt.NewEncoder(dyn, format)
	err := writeAll(enc, mfs, fams, want, func(f *Family) error {
		if err := dyn.Flush(); err != nil {
			return err
		}
		return page.writeFamily(f, fm)
	})
	if err == nil {
		err = enc.(expfmt.Closer).Close()
	}
	if err == nil {
		err = dyn.Flush()
	}
	if cerr := page.Close(); err == nil {
		err = cerr
	}
	return err
}

// gather returns reg's families and the rendered ones for the text
// formats; for protobuf, everything gathered.
func (h *handler) gather(format expfmt.Format) ([]*dto.MetricFamily, []*Family, error) {
	switch format.FormatType() {
	case expfmt.TypeTextPlain, expfmt.TypeOpenMetrics:
		fams := h.src.Families()
		mfs, err := h.reg.Gather()
		if err == nil {
			err = duplicate(mfs, fams)
		}
		return mfs, fams, err
	}
	mfs, err := prometheus.Gatherers{h.reg, h.saved}.Gather()
	return mfs, nil, err
}

// writeAll merges the gathered and the rendered families by name, as
// Gather sorts them; both lists are sorted.
func writeAll(enc expfmt.Encoder, mfs []*dto.MetricFamily, fams []*Family, want func(string) bool, write func(*Family) error) error {
	for len(mfs) > 0 || len(fams) > 0 {
		if len(fams) == 0 || (len(mfs) > 0 && mfs[0].GetName() < fams[0].Name()) {
			if want(mfs[0].GetName()) {
				if err := enc.Encode(mfs[0]); err != nil {
					return err
				}
			}
			mfs = mfs[1:]
			continue
		}
		// Like Gather, a family without series is left out.
		if want(fams[0].Name()) && fams[0].Len() > 0 {
			if err := write(fams[0]); err != nil {
				return err
			}
		}
		fams = fams[1:]
	}
	return nil
}

func (f *Family) write(w *bufio.Writer, fm Format) error {
	if _, err := w.Write(f.header[fm]); err != nil {
		return err
	}
	for _, s := range f.series {
		if _, err := w.Write(s.lines[fm]); err != nil {
			return err
		}
	}
	return nil
}

func duplicate(mfs []*dto.MetricFamily, fams []*Family) error {
	for _, mf := range mfs {
		for _, f := range fams {
			if mf.GetName() == f.Name() {
				return fmt.Errorf("metric family %q is both registered and pre-rendered", f.Name())
			}
		}
	}
	return nil
}

// nameFilter is promhttp's name[] query parameter: only the families named.
func nameFilter(r *http.Request) func(string) bool {
	names := r.URL.Query()["name[]"]
	if len(names) == 0 {
		return func(string) bool { return true }
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	return func(name string) bool { return want[name] }
}

// gzipAccepted is promhttp's choice between identity and gzip (offered in
// that order): the coding with the highest q in Accept-Encoding wins,
// identity on a tie, "*" matches both, and q=0 refuses.
func gzipAccepted(h http.Header) bool {
	identity, gz := -1.0, -1.0
	for _, v := range h.Values("Accept-Encoding") {
		for _, item := range strings.Split(v, ",") {
			coding, param, _ := strings.Cut(item, ";")
			q := 1.0
			if param = strings.TrimSpace(param); param != "" {
				var err error
				if q, err = strconv.ParseFloat(strings.TrimPrefix(param, "q="), 64); err != nil || !strings.HasPrefix(param, "q=") {
					continue
				}
			}
			switch strings.TrimSpace(coding) {
			case "*":
				identity, gz = max(identity, q), max(gz, q)
			case "identity":
				identity = max(identity, q)
			case "gzip":
				gz = max(gz, q)
			}
		}
	}
	return gz > identity && gz > 0
}

func (h *handler) logError(msg string, err error) {
	if h.log != nil {
		h.log.Println(msg, err)
	}
}
