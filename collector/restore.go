package collector

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/go-kit/log/level"
)

// Restore loads the saved state. Call it after the first SetApps and
// before Run. Malformed records are logged, counted and skipped; state of
// apps no longer configured is deleted at the next checkpoint.
func (c *Collector) Restore() error {
	if c.store == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	gone := map[string]bool{}
	bad := 0
	skip := func(what string, err error) {
		bad++
		if bad <= 10 {
			level.Warn(c.logger).Log("msg", "skipping a malformed record in the state file", "bucket", what, "err", err)
		}
	}
	err := c.store.ForEach(bucketSeries, func(k, v []byte) error {
		key, err := decodeKey(k)
		if err != nil {
			skip(bucketSeries, err)
			return nil
		}
		if key.metric == mLatency {
			h, err := decodeHistogram(v)
			if err != nil {
				skip(bucketSeries, err)
				return nil
			}
			c.series.histograms[key] = h
			return nil
		}
		val, err := decodeCounter(v)
		if err != nil {
			skip(bucketSeries, err)
			return nil
		}
		c.series.counters[key] = val
		if st, ok := c.apps[key.app]; ok && key.metric == mFailures && key.extra != "other" {
			st.errorCodes[key.extra] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read counters: %w", err)
	}
	err = c.store.ForEach(bucketCursors, func(k, v []byte) error {
		c.cursors[string(k)] = append([]byte(nil), v...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read cursors: %w", err)
	}
	err = c.store.ForEach(bucketPending, func(k, v []byte) error {
		app, id, ok := bytes.Cut(k, []byte{0})
		if !ok {
			skip(bucketPending, errBadEntry)
			return nil
		}
		st, known := c.apps[string(app)]
		if !known {
			gone[string(app)] = true
			return nil
		}
		e, err := decodeEntry(string(id), v)
		if err != nil {
			skip(bucketPending, err)
			st.deleted[string(id)] = struct{}{}
			return nil
		}
		st.queue.add(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read pending PushIDs: %w", err)
	}
	err = c.store.ForEach(bucketDedup, func(k, v []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k)-i-1 != 12 {
			skip(bucketDedup, errBadEntry)
			return nil
		}
		st, known := c.apps[string(k[:i])]
		if !known {
			gone[string(k[:i])] = true
			return nil
		}
		rest := k[i+1:]
		st.dedup.restore(binary.BigEndian.Uint64(rest[4:]), binary.BigEndian.Uint32(rest[:4]))
		return nil
	})
	if err != nil {
		return fmt.Errorf("read dedup set: %w", err)
	}
	for app := range gone {
		level.Info(c.logger).Log("msg", "deleting saved pending PushIDs of an app no longer configured", "app", app)
		c.removed = append(c.removed, app)
	}
	c.self.restoreSkipped.Add(float64(bad))
	c.snap.Store(c.series.snapshotAll())
	return nil
}
