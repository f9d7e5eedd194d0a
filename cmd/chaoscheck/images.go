package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/targets/all"
)

func newImagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Container images for --runtime docker",
	}
	cmd.AddCommand(newImagesBuildCmd())
	return cmd
}

func newImagesBuildCmd() *cobra.Command {
	var only []string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the local image of each target from this machine's packages (no registry needed)",
		Long: `Builds, through the Docker Engine API, one small image per target,
tagged chaoscheck/<target>:host, plus the base image chaoscheck/base:1.
Each is an imported tarball of empty directories (a few hundred bytes):
its containers run this machine's installed packages, whose directories
(/usr, /lib, /lib64, /bin, /sbin, /etc) the docker runtime bind-mounts
read-only. The image records the packages and versions it runs (label
chaoscheck.packages). A target whose packages are not installed is not
built, saying which to install (exit 255 at the end).

With --runtime docker a target runs its default image, the official one
its users run (postgres:15, redis:7, cassandra:5.0, etcd's
gcr.io/etcd-development/etcd:v3.5.17), when it is on this machine
(chaoscheck never pulls), else this local image, saying so on stderr and
in test.json. --image names any other. The programs' paths and the
users' uids are read from the image before anything is deployed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := all.Registry()
			for _, t := range only {
				r, ok := reg.Lookup(t)
				if !ok || r.InProcess {
					return badInput(fmt.Errorf("--target %s: not a target with servers (%s)", t, strings.Join(realTargets(), ", ")))
				}
			}
			ctx := cmd.Context()
			cli, err := docker.Connect(ctx)
			if err != nil {
				return couldNotRun(err)
			}
			defer cli.Close()
			w := cmd.OutOrStdout()
			start := time.Now()
			if _, err := docker.BuildBaseImage(ctx, cli); err != nil {
				return couldNotRun(err)
			}
			fmt.Fprintf(w, "built %s in %v\n", docker.BaseImage, time.Since(start).Round(time.Millisecond))
			var failed []string
			for _, r := range reg {
				if r.InProcess || (len(only) > 0 && !contains(only, r.Name)) {
					continue
				}
				if len(r.Runtimes) > 0 && !contains(r.Runtimes, "docker") {
					fmt.Fprintf(w, "no image for %s: %s\n", r.Name, r.NotOnOthers)
					continue
				}
				pkgs, err := hostPackages(ctx, r.HostPackages)
				if err != nil {
					fmt.Fprintf(w, "not built %s: %v\n", docker.LocalImage(r.Name), err)
					failed = append(failed, r.Name)
					continue
				}
				start := time.Now()
				if _, err := docker.BuildLocalImage(ctx, cli, r.Name, pkgs); err != nil {
					return couldNotRun(err)
				}
				fmt.Fprintf(w, "built %s (runs %s) in %v\n", docker.LocalImage(r.Name), strings.Join(pkgs, ", "), time.Since(start).Round(time.Millisecond))
			}
			if len(failed) > 0 {
				return couldNotRun(fmt.Errorf("images build: no local image for %s (install the packages named above)", strings.Join(failed, ", ")))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&only, "target", nil, "build only these targets' images (default: every target with servers)")
	return cmd
}

// hostPackages returns "name=version" of each installed Debian package
// of names, or an error naming those that are not installed.
func hostPackages(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("the target names no host packages")
	}
	var out, missing []string
	for _, n := range names {
		b, err := local.RunCommand(ctx, cluster.Command{Path: "dpkg-query", Args: []string{"-W", "-f", "${Status}\t${Version}", n}, Timeout: 10 * time.Second})
		st, ver, _ := strings.Cut(string(b), "\t")
		if err != nil || !strings.HasSuffix(st, " installed") || ver == "" {
			missing = append(missing, n)
			continue
		}
		out = append(out, n+"="+ver)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("package(s) %s not installed (apt-get install %s)", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	return out, nil
}

// realTargets names the targets whose servers run outside chaoscheck.
func realTargets() []string {
	var out []string
	for _, r := range all.Registry() {
		if !r.InProcess {
			out = append(out, r.Name)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
