package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// measureOptionsBeside are the measurement options of a history that
// sits in a run directory, so that chaoscheck check measures what the run
// measured: from the test.json beside it, the region of every node (its
// typed topology: latency is then also given per region) and N, R and W
// of a quorum target (the quorum arithmetic next to the availability
// seen); the lag.jsonl beside it, judged against the run's --lag-alert,
// for the replication lag. No test.json: none of those. A test.json that
// cannot be read is a warning on w, not an error.
func measureOptionsBeside(historyPath string, w io.Writer) measures.Options {
	dir := filepath.Dir(historyPath)
	path := filepath.Join(dir, rundir.TestFile)
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(path, &ti); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(w, "warning: %s: %v (latency not given per region, no quorum or replication-lag figures)\n", path, err)
		}
		return measures.Options{}
	}
	var o measures.Options
	if ti.Facts != nil {
		o.Regions = ti.Facts.Topology.RegionOf()
	}
	if q := ti.Quorums; q != nil {
		o.N, o.R, o.W = q.N, q.R, q.W
	}
	if ti.Lag != nil {
		if lp := filepath.Join(dir, lag.File); fileExists(lp) {
			o.LagFile, o.LagAlertNS = lp, ti.Lag.AlertNS
		}
	}
	return o
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
