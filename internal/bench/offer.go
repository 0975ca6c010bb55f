package main

import (
	"github.com/timpush/timpush_exporter/internal/pushid"
	"github.com/timpush/timpush_exporter/internal/source"
)

// offer hands ids to p as a source would: sampled at p's ratio, all of
// them counted as received.
func offer(p *pipeline, ids []pushid.ID) {
	kept, received := source.Sample(p, append([]pushid.ID(nil), ids...))
	p.Offer(source.Batch{IDs: kept, Received: received})
}
