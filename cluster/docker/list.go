//go:build linux

package docker

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// RunInfo is one run's objects as the daemon lists them (by their
// labels): for chaoscheck cluster status and down.
type RunInfo struct {
	// ID is the run id (LabelRun; the network's name).
	ID string
	// OwnerPID is the controller's pid; OwnerAlive whether that process
	// (same start time) still runs: a dead owner's run is a leftover
	// that HealAll removes.
	OwnerPID   int
	OwnerAlive bool
	// Subnet is the network's subnet ("" without a network).
	Subnet string
	// Image is the nodes' image.
	Image string
	// Nodes are the node containers' node names; Running how many of
	// them run.
	Nodes   []string
	Running int
	// StateDir is the state directory the run removes ("" when it keeps
	// it or did not create it).
	StateDir string
}

// List returns the runs that have a labelled container or network,
// sorted by id. It is bounded by apiTimeout per call.
func List(ctx context.Context) ([]RunInfo, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", LabelRun))
	runs := map[string]*RunInfo{}
	get := func(labels map[string]string) *RunInfo {
		id := labels[LabelRun]
		r := runs[id]
		if r == nil {
			r = &RunInfo{ID: id}
			v := labels[LabelController]
			pid, _, _ := strings.Cut(v, ":")
			r.OwnerPID, _ = strconv.Atoi(pid)
			r.OwnerAlive = controllerAlive(v)
			runs[id] = r
		}
		return r
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		r := get(n.Labels)
		r.StateDir = n.Labels[LabelStateDir]
		if len(n.IPAM.Config) > 0 {
			r.Subnet = n.IPAM.Config[0].Subnet
		}
	}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		r := get(c.Labels)
		if c.Labels[LabelHelper] != "" {
			continue
		}
		r.Nodes = append(r.Nodes, c.Labels[LabelNode])
		r.Image = c.Image
		if c.State == "running" || c.State == "paused" {
			r.Running++
		}
	}
	out := make([]RunInfo, 0, len(runs))
	for _, r := range runs {
		sort.Strings(r.Nodes)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
