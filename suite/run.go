package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Options of Run.
type Options struct {
	// Store is the store directory; the suite's directory is
	// <Store>/<suite>/<timestamp>/ (default "store").
	Store string
	// Progress receives one line as each cell starts and ends (which
	// cell, how many are left, the time elapsed); nil: none.
	Progress io.Writer
	// RunProgress receives each run's own progress lines (nil: none).
	RunProgress io.Writer
	// ResetTimeout bounds each reset of a shared deployment (default 2m).
	ResetTimeout time.Duration
}

// ErrCouldNotRun marks a suite that could not start (exit 255): a probe
// failed, or the suite directory could not be made.
var ErrCouldNotRun = errors.New("suite could not run")

// Run runs the plan's cells in order, sharing deployments as planned,
// and writes the suite directory: every run's directory, results.json,
// junit.xml and summary.html. Cancelling ctx stops the run in progress
// (its faults healed, its history checked) and skips the cells left,
// which count as not run. The error is for a suite that could not start
// (wrapping ErrCouldNotRun) or whose output could not be written.
func Run(ctx context.Context, pl *Plan, opts Options) (*Results, error) {
	if opts.Store == "" {
		opts.Store = "store"
	}
	if opts.ResetTimeout <= 0 {
		opts.ResetTimeout = 2 * time.Minute
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	// Probe each deployment group's target before anything is deployed.
	for i, c := range pl.Cells {
		if c.Group != i || c.built.Probe == nil {
			continue
		}
		if err := c.built.Probe(ctx); err != nil {
			return nil, fmt.Errorf("%w: case %q: %v", ErrCouldNotRun, c.Case, err)
		}
	}
	start := time.Now()
	dir, err := rundir.NewRunDir(opts.Store, pl.File.Name, start)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCouldNotRun, err)
	}
	res := &Results{
		SchemaVersion: SchemaVersion, Suite: pl.File.Name, Description: pl.File.Description,
		File: pl.File.Path, Start: start, Dir: dir,
	}
	s := &session{pl: pl, opts: opts, dir: dir, res: res, log: progress, start: start}
	defer s.closeLive(ctx)
	for i := range pl.Cells {
		res.Cells = append(res.Cells, s.runCell(ctx, i))
		res.tally()
		res.DurationNS = int64(time.Since(start))
		if err := res.write(); err != nil {
			return res, err
		}
	}
	s.closeLive(ctx)
	res.DurationNS = int64(time.Since(start))
	fmt.Fprintf(progress, "suite %s: %d held, %d not held, %d not run (%s); summary: %s\n",
		pl.File.Name, res.Held, res.NotHeld, res.NotRun, time.Since(start).Round(time.Second), filepath.Join(dir, SummaryFile))
	return res, res.write()
}

// session is one run of a plan.
type session struct {
	pl    *Plan
	opts  Options
	dir   string
	res   *Results
	log   io.Writer
	start time.Time

	// live is the deployment of group liveGroup, made by liveBy.
	live      targets.Deployment
	liveGroup int
	liveBy    Built
	liveCell  string
	// failed is the deploy error of a group whose deployment failed:
	// its later cells are not run.
	failed map[int]error
}

func (s *session) printf(format string, args ...any) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

// closeLive closes the live deployment, if any.
func (s *session) closeLive(ctx context.Context) {
	if s.live == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nemesis.HealTimeout)
	defer cancel()
	if err := s.live.Close(cctx); err != nil {
		s.printf("warning: closing the cluster of %s: %v", s.liveCell, err)
	}
	s.live = nil
}

// deployFor deploys c's target as the live deployment.
func (s *session) deployFor(ctx context.Context, c *Cell) error {
	s.closeLive(ctx)
	dep, err := runner.Deploy(ctx, c.built.Config)
	if err != nil {
		return err
	}
	s.live, s.liveGroup, s.liveBy, s.liveCell = dep, c.Group, c.built, c.Name
	return nil
}

// runCell runs cell i and judges its expectations.
func (s *session) runCell(ctx context.Context, i int) CellResult {
	c := &s.pl.Cells[i]
	cr := newCellResult(c)
	n := len(s.pl.Cells)
	elapsed := time.Since(s.start).Round(time.Second)
	if err := ctx.Err(); err != nil {
		cr.notRun("not run: the suite was interrupted")
		s.printf("[%d/%d] %s: not run (interrupted)", i+1, n, c.Name)
		return cr
	}
	if err := s.failed[c.Group]; err != nil {
		cr.notRun("not run: the deployment it shares failed: " + err.Error())
		s.printf("[%d/%d] %s: not run (its shared deployment failed)", i+1, n, c.Name)
		return cr
	}
	s.printf("[%d/%d] %s (%d left after it, %s elapsed)", i+1, n, c.Name, n-i-1, elapsed)
	t0 := time.Now()
	dep, how, err := s.deployment(ctx, c)
	cr.Deployment = how
	if err != nil {
		if s.failed == nil {
			s.failed = map[int]error{}
		}
		s.failed[c.Group] = err
		cr.notRun("could not run: " + err.Error())
		cr.DurationNS = int64(time.Since(t0))
		s.printf("[%d/%d] %s: could not run: %v", i+1, n, c.Name, err)
		return cr
	}
	cfg := c.built.Config
	cfg.StoreRoot = s.dir
	cfg.Deployment = dep
	cfg.Progress = s.opts.RunProgress
	out, err := runner.Run(ctx, cfg)
	cr.DurationNS = int64(time.Since(t0))
	if out != nil {
		cr.Dir, _ = filepath.Rel(s.dir, out.Dir)
	}
	if err != nil && out == nil {
		cr.notRun("could not run: " + err.Error())
		s.printf("[%d/%d] %s: could not run: %v", i+1, n, c.Name, err)
		// The cluster's state is unknown: the next cell deploys afresh.
		s.closeLive(ctx)
		return cr
	}
	cr.judge(c, &out.Results)
	if err != nil {
		cr.Errors = append(cr.Errors, err.Error())
	}
	word := "held"
	if !cr.Held {
		word = "NOT HELD"
	}
	s.printf("[%d/%d] %s: %s (verdict %s, %s, %s)", i+1, n, c.Name, word, cr.Verdict, cr.Deployment, time.Duration(cr.DurationNS).Round(100*time.Millisecond))
	for _, e := range cr.Expectations {
		if !e.Held {
			s.printf("    expected %s; seen %s", e.Expected, e.Seen)
		}
	}
	return cr
}

// deployment returns the cluster c runs on, and how it came by it: a
// new deployment, or its group's, reset (and rebound for a target whose
// clients differ).
func (s *session) deployment(ctx context.Context, c *Cell) (targets.Deployment, string, error) {
	if s.live == nil || s.liveGroup != c.Group {
		if err := s.deployFor(ctx, c); err != nil {
			return nil, "", err
		}
		return s.live, "deployed", nil
	}
	how := "reused the cluster of " + s.liveCell
	r, ok := s.live.(targets.Resetter)
	if !ok {
		if err := s.deployFor(ctx, c); err != nil {
			return nil, "", err
		}
		return s.live, "redeployed (" + c.built.Config.Target.Name() + " cannot reset its data)", nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.ResetTimeout)
	err := r.Reset(rctx)
	cancel()
	if err != nil {
		s.printf("    reset of the cluster of %s failed, redeploying: %v", s.liveCell, err)
		if err := s.deployFor(ctx, c); err != nil {
			return nil, "", err
		}
		return s.live, "redeployed (reset failed: " + err.Error() + ")", nil
	}
	// A target that can rebind gives each cell a view with its own
	// client settings (and whatever the target does to keep cases apart).
	rb, ok := s.liveBy.Config.Target.(targets.Rebinder)
	if !ok {
		if c.built.DeployKey != "" && c.built.DeployKey == s.liveBy.DeployKey {
			return s.live, how, nil
		}
		return nil, "", fmt.Errorf("planned to share the cluster of %s, whose target cannot rebind", s.liveCell)
	}
	view, err := rb.Rebind(s.live, c.built.Config.Target)
	if err != nil {
		return nil, "", fmt.Errorf("rebind the cluster of %s: %w", s.liveCell, err)
	}
	return view, how, nil
}
