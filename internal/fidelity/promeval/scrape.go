package promeval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// target is what Prometheus's scrape loop remembers about one target
// between scrapes.
type target struct {
	labels  labels.Labels
	last    time.Time // the last scrape, successful or not
	iter    uint64    // scrapes so far
	symbols *labels.SymbolTable
	// series caches the labels (target labels added) of every series in
	// the last successful scrape, by its text as exposed.
	series map[string]*cachedSeries
	// tracked are the series appended without a timestamp of their own,
	// at the previous scrape and (iter) at this one: those missing from
	// this one get a staleness marker.
	tracked map[storage.SeriesRef]cachedSeries
}

type cachedSeries struct {
	lset labels.Labels
	ref  storage.SeriesRef
	iter uint64 // the scrape that last appended it
}

// scrapeCounts are what the scrape_samples_* series report.
type scrapeCounts struct {
	total, added, seriesAdded int
	duplicates, rejected      int // dropped samples, logged
}

// Scrape appends one scrape of target at t, as Prometheus's scrape loop
// appends what it fetched: body in the text format (contentType
// "text/plain; version=0.0.4", or empty) or OpenMetrics
// ("application/openmetrics-text; ..."), every series with the target
// labels added (a label of the same name in the body is kept as
// exported_<name>, as with honor_labels: false), timestamps in the body
// honored, a staleness marker at t for each series the previous scrape
// had and this one has not, and up=1.
//
// A body that does not parse is an error and is stored as Prometheus
// stores it: none of its samples, every series of the previous scrape
// marked stale, up=0. Samples the storage refuses (the same series twice
// in one body, a timestamp out of order) are dropped and logged, as
// Prometheus does. t must be after target's previous scrape.
func (e *Evaluator) Scrape(t time.Time, target labels.Labels, body []byte, contentType string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	tg, err := e.begin(t, target)
	if err != nil {
		return err
	}
	app := e.head.AppenderV2(context.Background())
	n, err := tg.append(app, body, contentType, t)
	if err == nil {
		err = tg.markStale(app, t, true)
	}
	if err == nil {
		err = tg.report(app, t, n, true)
	}
	if err == nil {
		err = app.Commit()
	}
	if err != nil {
		_ = app.Rollback()
		failErr := e.fail(tg, t, n)
		return errors.Join(fmt.Errorf("promeval: scrape of %s at %s: %w", target, t.Format(time.RFC3339), err), failErr)
	}
	if n.duplicates+n.rejected > 0 {
		e.logger.Warn("Dropped samples the storage refused", "target", target.String(), "time", t,
			"duplicate_series", n.duplicates, "out_of_order_or_bounds", n.rejected)
	}
	return nil
}

// ScrapeFailed records a scrape of target at t that got no body (the
// exporter was down or too slow): as in Prometheus, every series of the
// previous scrape is marked stale and up is 0.
func (e *Evaluator) ScrapeFailed(t time.Time, target labels.Labels) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	tg, err := e.begin(t, target)
	if err != nil {
		return err
	}
	return e.fail(tg, t, scrapeCounts{})
}

// begin returns target's state for a scrape at t, which must come after
// its last one.
func (e *Evaluator) begin(t time.Time, lset labels.Labels) (*target, error) {
	e.start(t)
	key := lset.Hash()
	tg, ok := e.targets[key]
	if !ok {
		tg = &target{
			labels:  lset,
			symbols: labels.NewSymbolTable(),
			series:  map[string]*cachedSeries{},
			tracked: map[storage.SeriesRef]cachedSeries{},
		}
		e.targets[key] = tg
	} else if !t.After(tg.last) {
		return nil, fmt.Errorf("promeval: scrape of %s at %s is not after the previous one at %s",
			lset, t.Format(time.RFC3339), tg.last.Format(time.RFC3339))
	}
	tg.last = t
	tg.iter++
	return tg, nil
}

// fail stores a failed scrape in an appender of its own: staleness
// markers for everything the last good scrape had, and up=0.
func (e *Evaluator) fail(tg *target, t time.Time, n scrapeCounts) error {
	app := e.head.AppenderV2(context.Background())
	err := tg.markStale(app, t, false)
	if err == nil {
		err = tg.report(app, t, n, false)
	}
	if err == nil {
		err = app.Commit()
	}
	if err != nil {
		_ = app.Rollback()
		return fmt.Errorf("promeval: recording the failed scrape of %s at %s: %w", tg.labels, t.Format(time.RFC3339), err)
	}
	return nil
}

// append parses body and appends its samples; it stops at the first
// error, and the caller rolls the appender back.
func (tg *target) append(app storage.AppenderV2, body []byte, contentType string, t time.Time) (scrapeCounts, error) {
	var n scrapeCounts
	opts := textparse.ParserOptions{IgnoreNativeHistograms: true} // scrape_native_histograms is off by default
	if contentType == "" {
		opts.FallbackContentType = "text/plain" // as fallback_scrape_protocol: PrometheusText0.0.4
	}
	p, err := textparse.New(body, contentType, tg.symbols, opts)
	if p == nil {
		return n, err
	}
	defTime := t.UnixMilli()
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		var (
			met []byte
			ts  *int64
			v   float64
			h   *histogram.Histogram
			fh  *histogram.FloatHistogram
		)
		switch entry {
		case textparse.EntrySeries:
			met, ts, v = p.Series()
		case textparse.EntryHistogram:
			met, ts, h, fh = p.Histogram()
		default: // type, help, unit, comment
			continue
		}
		n.total++
		if err := tg.appendSample(app, p, met, ts, defTime, v, h, fh, &n); err != nil {
			return n, err
		}
	}
}

// appendSample appends one sample and keeps the caches up to date, as
// the scrape loop does.
func (tg *target) appendSample(app storage.AppenderV2, p textparse.Parser, met []byte, ts *int64, defTime int64,
	v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, n *scrapeCounts,
) error {
	t := defTime
	if ts != nil {
		t = *ts // honor_timestamps: true
	}
	ce, cached := tg.series[string(met)]
	if !cached {
		var lset labels.Labels
		p.Labels(&lset)
		lset = withTargetLabels(lset, tg.labels)
		if !lset.Has(model.MetricNameLabel) {
			return fmt.Errorf("series %q has no metric name", met)
		}
		if !lset.IsValid(model.UTF8Validation) {
			return fmt.Errorf("invalid metric name or label names: %s", lset)
		}
		ce = &cachedSeries{lset: lset}
	}
	n.added++
	if cached && ce.iter == tg.iter && ts == nil {
		n.duplicates++
		return nil
	}
	ref, err := app.Append(ce.ref, ce.lset, 0, t, v, h, fh, storage.AOptions{})
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		n.duplicates++
		return nil
	case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrOutOfBounds), errors.Is(err, storage.ErrTooOldSample):
		n.rejected++
		return nil
	default:
		return fmt.Errorf("appending %s: %w", ce.lset, err)
	}
	ce.ref, ce.iter = ref, tg.iter
	if !cached {
		tg.series[string(met)] = ce
		n.seriesAdded++
	}
	if ts == nil {
		tg.tracked[ref] = *ce
	}
	return nil
}

// markStale appends a staleness marker at t for each series tracked at
// the previous scrape and not appended at this one; after a failed
// scrape, for all of them. (Prometheus 3.16 leaves out those of a failed
// body that were parsed before its error, which it tracks before rolling
// back; they then vanish after the 5-minute lookback instead.)
func (tg *target) markStale(app storage.AppenderV2, t time.Time, ok bool) error {
	stale := math.Float64frombits(value.StaleNaN)
	for ref, s := range tg.tracked {
		if ok && s.iter == tg.iter {
			continue
		}
		delete(tg.tracked, ref)
		_, err := app.Append(ref, s.lset, 0, t.UnixMilli(), stale, nil, nil, storage.AOptions{RejectOutOfOrder: true})
		if err != nil && !errors.Is(err, storage.ErrOutOfOrderSample) && !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
			return fmt.Errorf("marking %s stale: %w", s.lset, err)
		}
	}
	if ok {
		for met, ce := range tg.series {
			if ce.iter != tg.iter {
				delete(tg.series, met)
			}
		}
	}
	return nil
}

// report appends the series Prometheus adds to every scrape: up, and the
// number of samples in the body, after relabelling (the same here) and
// of series new to this target.
func (tg *target) report(app storage.AppenderV2, t time.Time, n scrapeCounts, ok bool) error {
	up := 0.0
	if ok {
		up = 1
	}
	for _, s := range []struct {
		name string
		v    float64
	}{
		{"up", up},
		{"scrape_samples_scraped", float64(n.total)},
		{"scrape_samples_post_metric_relabeling", float64(n.added)},
		{"scrape_series_added", float64(n.seriesAdded)},
	} {
		b := labels.NewBuilder(tg.labels)
		b.Set(model.MetricNameLabel, s.name)
		if _, err := app.Append(0, b.Labels(), 0, t.UnixMilli(), s.v, nil, nil, storage.AOptions{}); err != nil {
			return fmt.Errorf("appending %s: %w", s.name, err)
		}
	}
	return nil
}

// withTargetLabels adds the target's labels to a scraped series, as
// honor_labels: false does: a label the series has already is renamed
// exported_<name> (exported_exported_<name> if that is taken, and so on).
func withTargetLabels(lset, target labels.Labels) labels.Labels {
	b := labels.NewBuilder(lset)
	var clashes []labels.Label
	target.Range(func(l labels.Label) {
		if v := lset.Get(l.Name); v != "" {
			clashes = append(clashes, labels.Label{Name: l.Name, Value: v})
		}
		b.Set(l.Name, l.Value)
	})
	// Shorter names first, as Prometheus resolves them.
	slices.SortStableFunc(clashes, func(a, b labels.Label) int { return len(a.Name) - len(b.Name) })
	for _, l := range clashes {
		name := l.Name
		for {
			name = model.ExportedLabelPrefix + name
			if b.Get(name) == "" {
				b.Set(name, l.Value)
				break
			}
		}
	}
	return b.Labels()
}
