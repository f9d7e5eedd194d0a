//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// HealReport says what HealAll did.
type HealReport struct {
	// Runs are the dead runs healed; Skipped the runs whose controller
	// is still alive (left alone).
	Runs, Skipped []string
	// Removed describes each object removed, e.g. "container cc-redis-1a2b3c-n1".
	Removed []string
}

// HealAll removes every container, network and volume (and the state
// directory named on the network) of the runs whose controller process
// is dead, found by their labels. The partition rules lived in the
// containers' network namespaces and die with them. Runs of live
// controllers, this process's included, are left alone. It is bounded by
// CleanupTimeout.
func HealAll(ctx context.Context) (HealReport, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return HealReport{}, err
	}
	defer cli.Close()
	return healAll(ctx, cli)
}

// controllerAlive reports whether the LabelController value v names a
// live process.
func controllerAlive(v string) bool {
	pid, st, ok := strings.Cut(v, ":")
	p, err1 := strconv.Atoi(pid)
	s, err2 := strconv.ParseUint(st, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return false // unreadable: nobody can own it
	}
	return local.ProcAlive(p, s)
}

func healAll(ctx context.Context, cli client.APIClient) (HealReport, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var rep HealReport
	runs, err := listRuns(ctx, cli)
	if err != nil {
		return rep, fmt.Errorf("docker: heal: %w", err)
	}
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		if controllerAlive(runs[id]) {
			rep.Skipped = append(rep.Skipped, id)
			continue
		}
		removed, err := removeRun(ctx, cli, id)
		rep.Removed = append(rep.Removed, removed...)
		rep.Runs = append(rep.Runs, id)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("docker: heal: %w", err)
	}
	return rep, nil
}

// listRuns returns, for every run with a labelled object, its
// LabelController value.
func listRuns(ctx context.Context, cli client.APIClient) (map[string]string, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRun))
	runs := map[string]string{}
	add := func(labels map[string]string) {
		if id := labels[LabelRun]; id != "" && runs[id] == "" {
			runs[id] = labels[LabelController]
		}
	}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		add(c.Labels)
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		add(n.Labels)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Volumes {
		add(v.Labels)
	}
	return runs, nil
}

// Leftovers lists the objects still labelled with run id (for tests and
// for cluster status).
func Leftovers(ctx context.Context, cli client.APIClient, id string) ([]string, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRun+"="+id))
	var out []string
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, "container "+strings.TrimPrefix(firstName(c.Names), "/"))
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		out = append(out, "network "+n.Name)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Volumes {
		out = append(out, "volume "+v.Name)
	}
	return out, nil
}

func firstName(ns []string) string {
	if len(ns) == 0 {
		return ""
	}
	return ns[0]
}

// removeRun removes every container (forced: a running or paused one is
// killed), then every volume and network labelled with run id, and the
// state directory a network names, and returns what it removed.
func removeRun(ctx context.Context, cli client.APIClient, id string) ([]string, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRun+"="+id))
	var removed []string
	var errs []error
	gone := func(err error) bool { return err == nil || errdefs.IsNotFound(err) }
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("run %s: list containers: %w", id, err)
	}
	for _, c := range cs {
		if c.State == "paused" {
			_ = cli.ContainerUnpause(ctx, c.ID) // a frozen process cannot die
		}
		err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if errdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
			// Another heal (or the run's own Close) is removing it: wait
			// for that, bounded, instead of failing.
			err = waitContainerGone(ctx, cli, c.ID)
		}
		if !gone(err) {
			errs = append(errs, fmt.Errorf("run %s: remove container %s: %w", id, c.ID[:12], err))
			continue
		}
		removed = append(removed, "container "+strings.TrimPrefix(firstName(c.Names), "/"))
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("run %s: list volumes: %w", id, err))
	} else {
		for _, v := range vs.Volumes {
			if err := cli.VolumeRemove(ctx, v.Name, true); !gone(err) {
				errs = append(errs, fmt.Errorf("run %s: remove volume %s: %w", id, v.Name, err))
				continue
			}
			removed = append(removed, "volume "+v.Name)
		}
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("run %s: list networks: %w", id, err))
	} else {
		for _, n := range ns {
			if err := cli.NetworkRemove(ctx, n.ID); !gone(err) {
				errs = append(errs, fmt.Errorf("run %s: remove network %s: %w", id, n.Name, err))
				continue
			}
			removed = append(removed, "network "+n.Name)
			if dir := n.Labels[LabelStateDir]; dir != "" && len(errs) == 0 {
				// Only a directory of the form Up creates.
				if filepath.IsAbs(dir) && strings.HasPrefix(filepath.Base(dir), "chaoscheck-"+id) {
					if err := os.RemoveAll(dir); err != nil {
						errs = append(errs, fmt.Errorf("run %s: state dir: %w", id, err))
					} else {
						removed = append(removed, "state dir "+dir)
					}
				}
			}
		}
	}
	return removed, errors.Join(errs...)
}

// waitContainerGone polls until the container id no longer exists (nil),
// for at most removalWait.
func waitContainerGone(ctx context.Context, cli client.APIClient, id string) error {
	ctx, cancel := context.WithTimeout(ctx, removalWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := cli.ContainerInspect(ctx, id); errdefs.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("another removal of the container did not finish within %v: %w", removalWait, ctx.Err())
		case <-tick.C:
		}
	}
}

// removalWait bounds the wait for a removal that another process started.
const removalWait = 20 * time.Second
