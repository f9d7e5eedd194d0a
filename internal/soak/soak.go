// Package soak measures a finished run from its history file: the longest
// interval in which nothing was recorded while the clients ran, and how far
// past the time limit the clients stopped. scripts/soak runs a long test
// under /usr/bin/time and reports these figures with the peak RSS.
package soak

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Report is what Measure found in a history.
type Report struct {
	// Events is the number of history lines, Invocations the client
	// invocations among them.
	Events, Invocations int
	// LongestGap is the longest interval between two consecutive recorded
	// events, both at or before the time limit; GapStart is when it began
	// (since the test clock started).
	LongestGap, GapStart time.Duration
	// LastCompletion is the latest completion of a client operation
	// invoked at or before the time limit; Overshoot is how far past the
	// limit that is (0 when before it).
	LastCompletion, Overshoot time.Duration
	// InvokedAfterLimit counts client invocations after the time limit:
	// only final reads (after the recovery time) should be among them.
	InvokedAfterLimit int
	// FirstInvokeAfterLimit is the time of the first of them (0: none).
	FirstInvokeAfterLimit time.Duration
}

// event is the part of a history line Measure reads.
type event struct {
	Time    int64           `json:"time"`
	Type    string          `json:"type"`
	Process json.RawMessage `json:"process"`
}

// Measure reads a JSONL history and measures it against the time limit
// (measured, like op times, from the start of the test clock).
func Measure(r io.Reader, limit time.Duration) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	lim := limit.Nanoseconds()
	pending := map[string]int64{} // process -> invoke time
	var prev int64 = -1
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return rep, fmt.Errorf("soak: line %d: %w", rep.Events+1, err)
		}
		rep.Events++
		if e.Time <= lim {
			if prev >= 0 && time.Duration(e.Time-prev) > rep.LongestGap {
				rep.LongestGap, rep.GapStart = time.Duration(e.Time-prev), time.Duration(prev)
			}
			prev = e.Time
		}
		proc := string(e.Process)
		if proc == `"nemesis"` {
			continue
		}
		if e.Type == "invoke" {
			rep.Invocations++
			pending[proc] = e.Time
			if e.Time > lim {
				if rep.InvokedAfterLimit == 0 {
					rep.FirstInvokeAfterLimit = time.Duration(e.Time)
				}
				rep.InvokedAfterLimit++
			}
			continue
		}
		if inv, ok := pending[proc]; ok {
			delete(pending, proc)
			if inv <= lim && time.Duration(e.Time) > rep.LastCompletion {
				rep.LastCompletion = time.Duration(e.Time)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("soak: %w", err)
	}
	if rep.Events == 0 {
		return rep, errors.New("soak: empty history")
	}
	rep.Overshoot = max(0, rep.LastCompletion-limit)
	return rep, nil
}
