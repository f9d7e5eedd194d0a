package checkers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
)

// Keyed is a Checker whose verdict on a history is decided key by key:
// the operations of one key (Op.Key) never change what it finds about
// another. Such a checker can judge a history one key at a time (KeyCheck),
// so that the caller holds one key's operations at once instead of the
// whole history, and the combined Result is the one Check gives on the
// union of the keys (the same verdict, counts, reason, anomalies with
// their caps, and artifacts).
type Keyed interface {
	Checker
	// NewKeys starts a check of one history whose keys are given one at
	// a time.
	NewKeys(ctx context.Context) KeyCheck
}

// KeyCheck judges the keys of one history, one at a time.
//
// The history given to Key holds the client operations of its keys (one
// key, usually) in history order, and may hold nemesis events or not: a
// keyed checker ignores them. Its ops' Index fields are their indexes in
// the whole history, not their positions in the history given (which is
// therefore not Validate-clean): anomalies and messages name Index values,
// so that witnesses are lines of the history file, with no mapping back.
// A key is given in one call only.
type KeyCheck interface {
	// Key judges the keys of h.
	Key(ctx context.Context, h *history.History)
	// Result is the verdict on every key given so far, as Check would
	// give it on a history of all their operations.
	Result() Result
}

// NewKeys starts a one-key-at-a-time check (see Keyed). The time limit
// bounds the search time of all the keys together, and the grace period
// after the first non-linearizable key the search time of the keys after
// it (the time between keys, loading them, does not count: see watch).
// Visualizations are written as Check writes them.
func (l Linearizable) NewKeys(ctx context.Context) KeyCheck {
	s := &linKeys{l: l, model: l.Model, decided: make(chan struct{}), limitLeft: l.TimeLimit}
	if s.model == "" {
		s.model = ModelCASRegister
	}
	name := l.Name()
	switch {
	case !s.model.valid():
		r := unknown(name, fmt.Sprintf("unknown linearizability model %q (want %q, %q or %q)", s.model, ModelRegister, ModelCASRegister, ModelKV))
		s.fixed = &r
	case ctx.Err() != nil:
		r := unknown(name, "not checked: "+ctx.Err().Error())
		s.fixed = &r
	}
	return s
}

// linKeys is Linearizable's KeyCheck: the per-key results, assembled by
// Linearizable.assemble as Check assembles them.
type linKeys struct {
	l     Linearizable
	model Model
	fixed *Result // a verdict on the whole check (bad model, malformed history)
	ctx   context.Context

	ops     int64
	keys    []string
	results []linKeyResult

	stop, timedOut, graceOver atomic.Bool
	decided                   chan struct{} // closed at the first non-linearizable key
	decidedOnce               sync.Once
	decidedAt                 atomic.Int64 // UnixNano of the first non-linearizable key
	vizMu                     sync.Mutex
	// limitLeft and graceLeft are what is left of the time limit and of
	// the grace period after the first non-linearizable key (once there is
	// one), in search time (see watch).
	limitLeft, graceLeft time.Duration
}

// Key judges the keys of h (see KeyCheck).
func (s *linKeys) Key(ctx context.Context, h *history.History) {
	s.ctx = ctx
	if s.fixed != nil {
		return
	}
	if h == nil {
		return
	}
	pairs, err := h.Pairs()
	if err != nil {
		r := unknown(s.l.Name(), "malformed history: "+err.Error())
		s.fixed = &r
		return
	}
	s.ops += int64(len(pairs))
	slot := make(map[string]int)
	var keys []string
	var groups [][]int32
	for i, p := range pairs {
		key := h.Ops[p.Invoke].Key
		n, ok := slot[key]
		if !ok {
			n = len(keys)
			slot[key] = n
			keys = append(keys, key)
			groups = append(groups, nil)
		}
		groups[n] = append(groups[n], int32(i))
	}
	for n, key := range keys {
		s.keys = append(s.keys, key)
		if s.stop.Load() {
			s.results = append(s.results, linKeyResult{verdict: Unknown, undecided: true})
			continue
		}
		end := s.watch(ctx)
		r := s.l.checkKey(s.model, key, h, pairs, groups[n], &s.stop, s.onInvalid, &s.vizMu)
		end()
		s.results = append(s.results, r)
	}
}

// onInvalid notes the first non-linearizable key: the grace period of the
// keys still to search starts.
func (s *linKeys) onInvalid() {
	s.decidedOnce.Do(func() {
		s.decidedAt.Store(time.Now().UnixNano())
		close(s.decided)
	})
}

// watch stops the search of the current key, as Check's watcher does,
// when ctx ends, the time limit runs out, or the grace period after the
// first non-linearizable key is over. Both are budgets of search time:
// the time spent between keys (loading the next one) does not count, as
// the time spent loading the history does not count in Check. Calling
// the returned function ends the watch and charges the key's time to the
// budgets.
func (s *linKeys) watch(ctx context.Context) (end func()) {
	begin := time.Now()
	wasDecided := s.decidedAt.Load() != 0
	done, exited := make(chan struct{}), make(chan struct{})
	var limit <-chan time.Time
	if s.l.TimeLimit > 0 {
		t := time.NewTimer(s.limitLeft)
		defer func() { end = chainStop(end, t) }()
		limit = t.C
	}
	var grace <-chan time.Time
	dec := (<-chan struct{})(s.decided)
	if wasDecided {
		t := time.NewTimer(s.graceLeft)
		defer func() { end = chainStop(end, t) }()
		grace, dec = t.C, nil
	}
	go func() {
		defer close(exited)
		for {
			select {
			case <-ctx.Done():
				s.stop.Store(true)
				return
			case <-limit:
				s.timedOut.Store(true)
				s.stop.Store(true)
				return
			case <-dec:
				dec = nil
				t := time.NewTimer(linDecidedGrace)
				defer t.Stop()
				grace = t.C
			case <-grace:
				s.graceOver.Store(true)
				s.stop.Store(true)
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-exited
		now := time.Now()
		s.limitLeft -= now.Sub(begin)
		switch {
		case wasDecided:
			s.graceLeft -= now.Sub(begin)
		case s.decidedAt.Load() != 0:
			s.graceLeft = linDecidedGrace - now.Sub(time.Unix(0, s.decidedAt.Load()))
		}
	}
}

// chainStop returns end followed by stopping t.
func chainStop(end func(), t *time.Timer) func() {
	return func() {
		end()
		t.Stop()
	}
}

// Result assembles the verdict on the keys given (see KeyCheck).
func (s *linKeys) Result() Result {
	if s.fixed != nil {
		return *s.fixed
	}
	res := Result{Checker: s.l.Name(), Verdict: Valid}
	res.Count("ops", s.ops)
	res.Count("keys", int64(len(s.keys)))
	res.Count("keys_invalid", 0)
	res.Count("keys_unknown", 0)
	if len(s.keys) == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no client operations, so nothing was checked"
		return res
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return s.l.assemble(ctx, res, s.model, s.keys, s.results, &s.timedOut, &s.graceOver)
}

// NewKeys starts a one-key-at-a-time count (see Keyed): the tallies of
// the keys add up.
func (Stats) NewKeys(context.Context) KeyCheck { return &statsKeys{} }

// statsKeys is Stats' KeyCheck.
type statsKeys struct {
	t     statsTally
	fixed *Result
}

// Key counts the operations of h (see KeyCheck).
func (s *statsKeys) Key(ctx context.Context, h *history.History) {
	if s.fixed != nil {
		return
	}
	if err := wlContext(ctx).Err(); err != nil {
		r := wlCancelled("stats", err)
		s.fixed = &r
		return
	}
	if h == nil {
		return
	}
	pairs, err := h.Pairs()
	if err != nil {
		r := unknown("stats", err.Error())
		s.fixed = &r
		return
	}
	s.t.add(h, pairs)
}

// Result is the verdict on the tallies (see KeyCheck).
func (s *statsKeys) Result() Result {
	if s.fixed != nil {
		return *s.fixed
	}
	return s.t.result()
}
