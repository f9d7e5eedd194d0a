//go:build linux

package local

import "time"

// FindFaketime returns the path of this machine's libfaketime.so.1 (the
// clock preload of the local runtime), or "" when it is not installed.
// The docker runtime mounts the same library into its containers.
func FindFaketime() string { return findFaketime() }

// FaketimeOffset renders an offset in libfaketime's relative format for
// its timestamp file: "+3600", "-1.5" (seconds).
func FaketimeOffset(d time.Duration) string { return faketimeOffset(d) }

// WriteFileAtomic replaces path with data (a temporary file renamed over
// it), mode 0644.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data) }
