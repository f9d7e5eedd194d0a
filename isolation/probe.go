package isolation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Step is one statement of a probe, run by session T (1-based).
type Step struct {
	T int
	// Name labels a step whose result the judge reads ("" otherwise).
	Name string
	SQL  string
}

// Probe is one Hermitage test case: sessions, steps, and a judge.
type Probe struct {
	// Name is the anomaly's name (G0, G1a, ..., G2).
	Name string
	// What says in a few words what the anomaly is.
	What string
	// Sessions is how many concurrent transactions the script runs.
	Sessions int
	// Steps run in order; "commit" and "abort" end a session's
	// transaction. Every session's transaction begins, at the level under
	// test, before the first step.
	Steps []Step
	// Judge decides from the run whether the anomaly happened. It returns
	// errProbe (wrapped) when the results make no sense.
	Judge func(r *Record) (Result, error)
}

// stepResult is what one step returned.
type stepResult struct {
	rows    []Row
	tag     string
	err     error
	skipped bool // its session's transaction had already been aborted
}

// Record is the record of one probe run, for its judge.
type Record struct {
	named    map[string]*stepResult
	ended    map[int]string // session -> "committed", "rolled back" or "refused: ..."
	refusals []string
	final    []Row
}

// Read returns the rows of the named step, and false when it did not run
// (skipped, or refused).
func (r *Record) Read(name string) ([]Row, bool) {
	s, ok := r.named[name]
	if !ok || s.skipped || s.err != nil {
		return nil, false
	}
	return s.rows, true
}

// Value returns the value of row id in the named step's rows, and false
// when the step did not run or did not return that row.
func (r *Record) Value(name string, id int64) (int64, bool) {
	rows, ok := r.Read(name)
	if !ok {
		return 0, false
	}
	for _, row := range rows {
		if row.ID == id {
			return row.Value, true
		}
	}
	return 0, false
}

// Committed reports whether session t's transaction committed.
func (r *Record) Committed(t int) bool { return r.ended[t] == "committed" }

// Final is the table after every session ended.
func (r *Record) Final() []Row { return r.final }

// prevented says why the anomaly did not happen: the database's refusals,
// if any, else why.
func (r *Record) prevented(why string) Result {
	if len(r.refusals) > 0 {
		return Result{Outcome: Prevented, Why: strings.Join(r.refusals, "; ")}
	}
	return Result{Outcome: Prevented, Why: why}
}

// session is a probe session and its statement in flight.
type session struct {
	s       Session
	pending *call
	aborted bool
	ended   string
}

// call is a statement running in its own goroutine.
type call struct {
	step Step
	done chan struct{}
	res  stepResult
}

// Run runs the probe at level against b.
func (p Probe) Run(ctx context.Context, b Backend, level Level) (res Result, err error) {
	if err := b.Reset(ctx); err != nil {
		return Result{}, fmt.Errorf("reset: %w", err)
	}
	sessions := make([]*session, p.Sessions+1)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StepTimeout)
		defer cancel()
		for _, s := range sessions[1:] {
			if s == nil {
				continue
			}
			if cerr := s.s.Close(cctx); cerr != nil && err == nil {
				err = fmt.Errorf("close session: %w", cerr)
			}
			if s.pending != nil {
				<-s.pending.done // closing the session ends its statement
			}
		}
	}()
	for t := 1; t <= p.Sessions; t++ {
		s, err := b.Open(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("open session T%d: %w", t, err)
		}
		sessions[t] = &session{s: s}
		if _, _, err := s.Exec(ctx, "BEGIN ISOLATION LEVEL "+level.SQL()); err != nil {
			return Result{}, fmt.Errorf("T%d: begin: %w", t, err)
		}
	}
	r := &Record{named: map[string]*stepResult{}, ended: map[int]string{}}
	for i, st := range p.Steps {
		if st.T < 1 || st.T > p.Sessions {
			return Result{}, fmt.Errorf("step %d names session T%d of %d", i, st.T, p.Sessions)
		}
		s := sessions[st.T]
		if err := finish(ctx, b, r, s); err != nil {
			return Result{}, fmt.Errorf("T%d: %w", st.T, err)
		}
		if s.ended != "" {
			return Result{}, fmt.Errorf("step %d (%s): T%d already ended", i, st.SQL, st.T)
		}
		sql := st.SQL
		ending := isEnd(sql)
		if s.aborted {
			if !ending {
				r.record(st, &stepResult{skipped: true})
				continue
			}
			sql = "ROLLBACK"
		}
		c := &call{step: Step{T: st.T, Name: st.Name, SQL: sql}, done: make(chan struct{})}
		s.pending = c
		go func() {
			defer close(c.done)
			c.res.rows, c.res.tag, c.res.err = s.s.Exec(ctx, sql)
		}()
		// Settle: every statement in flight finishes or waits for a lock.
		for _, o := range sessions[1:] {
			if err := settle(ctx, b, r, o); err != nil {
				return Result{}, fmt.Errorf("step %d (T%d: %s): %w", i, st.T, sql, err)
			}
		}
	}
	for t, s := range sessions[1:] {
		if err := finish(ctx, b, r, s); err != nil {
			return Result{}, fmt.Errorf("T%d: %w", t+1, err)
		}
		if s.ended == "" {
			return Result{}, fmt.Errorf("T%d: the script did not end its transaction", t+1)
		}
		r.ended[t+1] = s.ended
	}
	final, err := b.Final(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("final read: %w", err)
	}
	r.final = final
	return p.Judge(r)
}

// isEnd reports whether sql ends a transaction.
func isEnd(sql string) bool {
	switch strings.ToUpper(strings.TrimSpace(sql)) {
	case "COMMIT", "ABORT", "ROLLBACK":
		return true
	}
	return false
}

// settle waits until s's statement in flight, if any, finishes (and is
// recorded) or waits for a lock, bounded by StepTimeout.
func settle(ctx context.Context, b Backend, r *Record, s *session) error {
	if s == nil || s.pending == nil {
		return nil
	}
	deadline := time.Now().Add(StepTimeout)
	for {
		select {
		case <-s.pending.done:
			return complete(b, r, s)
		default:
		}
		blocked, err := b.Blocked(ctx, s.s)
		if err != nil {
			return fmt.Errorf("lock wait of %q: %w", s.pending.step.SQL, err)
		}
		if blocked {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%q neither finished nor waited for a lock within %v", s.pending.step.SQL, StepTimeout)
		}
		t := time.NewTimer(pollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.pending.done:
			t.Stop()
		case <-t.C:
		}
	}
}

// finish waits, bounded by StepTimeout, for s's statement in flight to
// finish and records it.
func finish(ctx context.Context, b Backend, r *Record, s *session) error {
	if s.pending == nil {
		return nil
	}
	t := time.NewTimer(StepTimeout)
	defer t.Stop()
	select {
	case <-s.pending.done:
		return complete(b, r, s)
	case <-t.C:
		return fmt.Errorf("%q still waits for a lock %v after its session needed it (the script deadlocks)", s.pending.step.SQL, StepTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// complete records s's finished statement: a refusal aborts the session's
// transaction; any other error is the probe's.
func complete(b Backend, r *Record, s *session) error {
	c := s.pending
	s.pending = nil
	res := c.res
	if res.err != nil {
		why, ok := b.Refusal(res.err)
		if !ok {
			return fmt.Errorf("%q: %w", c.step.SQL, res.err)
		}
		s.aborted = true
		r.refusals = append(r.refusals, fmt.Sprintf("T%d refused at %q: %s", c.step.T, strings.ToLower(c.step.SQL), why))
		if isEnd(c.step.SQL) {
			s.ended = "refused"
		}
		r.record(c.step, &res)
		return nil
	}
	if isEnd(c.step.SQL) {
		switch {
		case strings.EqualFold(c.step.SQL, "COMMIT") && res.tag == "COMMIT":
			s.ended = "committed"
		case res.tag == "ROLLBACK":
			s.ended = "rolled back"
		default:
			return fmt.Errorf("%q answered %q", c.step.SQL, res.tag)
		}
	}
	r.record(c.step, &res)
	return nil
}

func (r *Record) record(st Step, res *stepResult) {
	if st.Name != "" {
		r.named[st.Name] = res
	}
}

// badResult is a probe error: the results cannot be interpreted.
func badResult(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProbe, fmt.Sprintf(format, args...))
}

// IsProbeError reports whether err says a probe's results made no sense.
func IsProbeError(err error) bool { return errors.Is(err, errProbe) }

// consistent reports whether the final table is one of the serial
// outcomes.
func consistent(final []Row, serial ...[]Row) bool {
	for _, s := range serial {
		if slices.Equal(final, s) {
			return true
		}
	}
	return false
}
