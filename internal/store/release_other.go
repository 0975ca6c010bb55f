//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// releaseRead is a no-op where the RSS of mapped files is not a concern
// of ours (see release_linux.go).
func releaseRead(*bolt.DB, *bolt.Tx) {}
