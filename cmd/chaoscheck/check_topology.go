package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// measureOptionsBeside are the measurement options of a history that
// sits in a run directory: the region of every node, from the typed
// topology of the test.json beside it (latency is then also given per
// region, as the run gave it). No test.json, or one without a topology:
// none. A test.json that cannot be read is a warning on w, not an error.
func measureOptionsBeside(historyPath string, w io.Writer) measures.Options {
	path := filepath.Join(filepath.Dir(historyPath), rundir.TestFile)
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(path, &ti); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(w, "warning: %s: %v (latency not given per region)\n", path, err)
		}
		return measures.Options{}
	}
	if ti.Facts == nil {
		return measures.Options{}
	}
	return measures.Options{Regions: ti.Facts.Topology.RegionOf()}
}
