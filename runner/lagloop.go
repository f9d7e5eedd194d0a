package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// DefaultLagInterval is the sampling period of replication lag.
const DefaultLagInterval = 100 * time.Millisecond

// DefaultLagAlert is the replication lag past which the time over the
// threshold is counted (--lag-alert).
const DefaultLagAlert = 100 * time.Millisecond

// MinLagInterval and MaxLagInterval bound --lag-interval: asking a
// database for its lag more often than every millisecond measures the
// asking, and less often than every minute leaves a run's plot empty.
const (
	MinLagInterval = time.Millisecond
	MaxLagInterval = time.Minute
)

// lagFlushEvery bounds how long a sample waits in the buffer of
// lag.jsonl: a crash of the controller loses at most that much.
const lagFlushEvery = time.Second

// lagLoop samples the replication lag of a deployment that implements
// targets.LagSampler, from one goroutine of its own, every interval,
// into lag.jsonl (see package lag). It never touches the clients: a slow
// or failing database delays only this goroutine, whose round is bounded
// by a timeout of one interval.
type lagLoop struct {
	path   string
	cancel context.CancelFunc
	done   chan struct{}
	failed chan struct{} // closed when a write of lag.jsonl failed

	// Set by the loop before done (and failed) is closed.
	err                            error
	rounds, samples, failedSamples int
	replicas                       []string
}

// startLag starts the sampling loop when dep reports lag; nil otherwise.
// The loop runs until stop (or ctx ends). Times are the recorder's: ns
// since the test clock started, the clock of history op times.
func (r *run) startLag(ctx context.Context, dep targets.Deployment) (*lagLoop, error) {
	ls, ok := dep.(targets.LagSampler)
	if !ok {
		return nil, nil
	}
	path := filepath.Join(r.dir, lag.File)
	w, err := r.cfg.lagWriter(path)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	l := &lagLoop{path: path, cancel: cancel, done: make(chan struct{}), failed: make(chan struct{})}
	go l.run(lctx, ls, w, r.rec, r.cfg.LagInterval, dep.Cluster().Nodes())
	return l, nil
}

// failedCh is closed when a write failed; nil (never) without a loop.
func (l *lagLoop) failedCh() <-chan struct{} {
	if l == nil {
		return nil
	}
	return l.failed
}

// stop ends the loop, closes lag.jsonl and returns the write error, if
// any.
func (l *lagLoop) stop() error {
	if l == nil {
		return nil
	}
	l.cancel()
	<-l.done
	return l.err
}

func (l *lagLoop) run(ctx context.Context, ls targets.LagSampler, w *lag.Writer, rec *history.Recorder, interval time.Duration, nodes []string) {
	defer close(l.done)
	lastFlush := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		samples := l.round(ctx, ls, rec, interval, nodes)
		if ctx.Err() != nil {
			break // the round was cut short by the end of the loop, not by the database
		}
		err := w.Write(samples)
		if err == nil && time.Since(lastFlush) >= lagFlushEvery {
			err = w.Flush()
			lastFlush = time.Now()
		}
		if err != nil {
			l.err = err
			_ = w.Close()
			close(l.failed)
			return
		}
		l.rounds++
		l.samples += len(samples)
		for _, s := range samples {
			if s.Err != "" {
				l.failedSamples++
			}
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	if err := w.Close(); err != nil {
		l.err = err
		close(l.failed)
	}
}

// round asks for every replica's lag once, with a timeout of one
// interval, and stamps the samples with the controller's time at the
// start of the round. A round that fails or times out as a whole gives
// one sample per known replica (those of the last answer, or every node
// before any answer) with Err set.
func (l *lagLoop) round(ctx context.Context, ls targets.LagSampler, rec *history.Recorder, interval time.Duration, nodes []string) []lag.Sample {
	at := int64(rec.Elapsed())
	sctx, cancel := context.WithTimeout(ctx, interval)
	samples, err := ls.SampleLag(sctx)
	samples = slices.Clone(samples) // the deployment may keep its own (the read policy's latest sample)
	timedOut := sctx.Err() != nil
	cancel()
	if err == nil && timedOut && len(samples) == 0 {
		err = context.DeadlineExceeded
	}
	if err != nil {
		known := l.replicas
		if len(known) == 0 {
			known = nodes
		}
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no answer within the sampling interval (%v): %v", interval, err)
		}
		samples = make([]lag.Sample, len(known))
		for i, n := range known {
			samples[i] = lag.Sample{Node: n, Err: msg}
		}
	} else if len(samples) > 0 {
		l.replicas = l.replicas[:0]
		for _, s := range samples {
			l.replicas = append(l.replicas, s.Node)
		}
	}
	for i := range samples {
		samples[i].Time = at
	}
	return samples
}

// lagFailed reports whether a write of lag.jsonl has failed.
func (r *run) lagFailed() bool {
	select {
	case <-r.lag.failedCh():
		return true
	default:
		return false
	}
}
