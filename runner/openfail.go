package runner

import (
	"fmt"
	"sync"
)

// openFailures collects the failures to open a client, for results.json's
// errors: a run whose clients were refused has a thin (or empty) history,
// and the reader must see why. They do not by themselves turn a valid
// verdict unknown (no operation was invoked through such a client, so the
// history stays sound); a run where nothing succeeded is unknown anyway,
// by checkers.Stats.
type openFailures struct {
	mu    sync.Mutex
	n     int
	first []string // the first openFailuresKept messages
}

const openFailuresKept = 3

// add records one failure of process pid.
func (o *openFailures) add(pid int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if len(o.first) < openFailuresKept {
		o.first = append(o.first, fmt.Sprintf("process %d: %v", pid, err))
	}
}

// errors renders the failures as run errors: none, or one line with the
// count and the first messages.
func (o *openFailures) errors() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == 0 {
		return nil
	}
	msg := fmt.Sprintf("opening clients failed %d time(s)", o.n)
	for i, m := range o.first {
		sep := ", e.g. "
		if i > 0 {
			sep = "; "
		}
		msg += sep + m
	}
	return []string{msg}
}
