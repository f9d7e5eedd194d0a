package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/measures"
)

// printReadRoutes prints where a read policy sent the reads
// (--max-replica-lag), when one did.
func printReadRoutes(w io.Writer, r *measures.ReadRoutes) {
	if r == nil {
		return
	}
	parts := make([]string, 0, len(r.ByRoute))
	for _, k := range slices.Sorted(maps.Keys(r.ByRoute)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.ByRoute[k]))
	}
	fmt.Fprintf(w, "read policy: %d of %d reads (%.1f%%) went back to the primary (%s)\n", r.ToPrimary, r.Reads, 100*r.PrimaryShare, strings.Join(parts, "; "))
}
