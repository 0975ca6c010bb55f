package main

import (
	"github.com/timpush/timpush_exporter/collector"
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
)

// offer hands ids to c as a source would: sampled at c's ratio, all of
// them counted as received.
func offer(c *collector.Collector, ids []pushid.ID) {
	kept, received := source.Sample(c, append([]pushid.ID(nil), ids...))
	c.Offer(source.Batch{IDs: kept, Received: received})
}
