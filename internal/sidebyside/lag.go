package sidebyside

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// WithLagSampling returns c with replication-lag sampling beside it, as
// `chaoscheck test` samples (see runner's lag loop): while c runs, one
// goroutine asks ls every interval, each round bounded by one interval,
// and writes the samples to a lag.jsonl in dir (a new file per round,
// removed after it). Comparing c with WithLagSampling(c) gives the cost
// of sampling.
func WithLagSampling(name string, c Contender, ls targets.LagSampler, interval time.Duration, dir string) Contender {
	round := 0
	return Contender{Name: name, Run: func(ctx context.Context, d time.Duration) (int64, error) {
		round++
		path := filepath.Join(dir, fmt.Sprintf("lag-%d.jsonl", round))
		w, err := lag.Create(path)
		if err != nil {
			return 0, err
		}
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var rounds int
		var serr error
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			start := time.Now()
			for {
				rctx, cancel := context.WithTimeout(sctx, interval)
				ss, err := ls.SampleLag(rctx)
				cancel()
				if sctx.Err() != nil {
					return
				}
				if err != nil {
					// As the runner does: a failed or late round is one
					// error sample, and sampling goes on.
					ss = []lag.Sample{{Err: err.Error()}}
				}
				for i := range ss {
					ss[i].Time = int64(time.Since(start))
				}
				if err := w.Write(ss); err != nil && serr == nil {
					serr = fmt.Errorf("lag sampling: %w", err)
				}
				rounds++
				select {
				case <-sctx.Done():
					return
				case <-t.C:
				}
			}
		})
		ops, err := c.Run(ctx, d)
		stop()
		wg.Wait()
		err = errors.Join(err, serr, w.Close())
		if rounds < int(d/interval)/2 {
			err = errors.Join(err, fmt.Errorf("lag sampling: %d rounds in %v, want about %d", rounds, d, int(d/interval)))
		}
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return ops, err
	}}
}
