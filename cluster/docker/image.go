//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// BaseImage is the tag of the image BuildBaseImage makes: a filesystem
// with nothing but empty directories, to run host binaries in.
const BaseImage = "chaoscheck/base:1"

// HostMounts are the host directories bind-mounted read-only into every
// container of a base image, so that it runs the host's binaries and
// libraries (and sees its users in /etc/passwd).
var HostMounts = []string{"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"}

// baseDirs are the directories of the base image (mount points and
// writable scratch space).
var baseDirs = []struct {
	name string
	mode int64
}{
	{"tmp", 0o1777}, {"var", 0o755}, {"var/tmp", 0o1777}, {"var/lib", 0o755},
	{"var/log", 0o755}, {"run", 0o755}, {"home", 0o755}, {"root", 0o700},
	{"usr", 0o755}, {"lib", 0o755}, {"lib64", 0o755}, {"bin", 0o755}, {"sbin", 0o755},
	{"etc", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755},
}

// baseTar is the tarball of the base image.
func baseTar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	for _, d := range baseDirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode, ModTime: mt}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LabelPackages, on a local image, lists the host packages (name=version,
// comma-separated) whose binaries its containers run.
const LabelPackages = "chaoscheck.packages"

// LocalImage is the tag of the local image of target (chaoscheck images
// build makes it): the base image's empty filesystem, labelled with the
// host packages it runs through HostMounts. The runtime uses it unless
// --image names another.
func LocalImage(target string) string { return "chaoscheck/" + target + ":host" }

// hostMounted reports whether an image's labels make it an image of this
// package, whose containers run the host's binaries (HostMounts).
func hostMounted(labels map[string]string) bool { return labels[LabelImage] != "" }

// BuildBaseImage imports the base image through the API and tags it
// BaseImage, and removes the images of earlier builds that no container
// uses. It needs no registry. It returns the image id.
func BuildBaseImage(ctx context.Context, cli client.APIClient) (string, error) {
	return buildImage(ctx, cli, BaseImage, map[string]string{LabelImage: "base"})
}

// BuildLocalImage imports LocalImage(target) through the API: the base
// filesystem, labelled LabelImage=target and LabelPackages=packages (the
// host packages its containers run, with their versions). It returns
// the image id.
func BuildLocalImage(ctx context.Context, cli client.APIClient, target string, packages []string) (string, error) {
	return buildImage(ctx, cli, LocalImage(target), map[string]string{LabelImage: target, LabelPackages: strings.Join(packages, ",")})
}

// buildImage imports the base tarball as tag with labels (every value
// on one line), and removes the untagged images of earlier builds of
// the same kind (LabelImage) that no container uses.
func buildImage(ctx context.Context, cli client.APIClient, tag string, labels map[string]string) (string, error) {
	data, err := baseTar()
	if err != nil {
		return "", fmt.Errorf("docker: base image tarball: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	changes := []string{`CMD ["/bin/false"]`}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		changes = append(changes, "LABEL "+k+"="+strconv.Quote(labels[k]))
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(data), SourceName: "-"}, tag,
		image.ImportOptions{Changes: changes})
	if err != nil {
		return "", fmt.Errorf("docker: import %s: %w", tag, err)
	}
	// The import's progress stream ends when the image exists.
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return "", fmt.Errorf("docker: import %s: %w", tag, err)
	}
	in, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("docker: import %s: inspect: %w", tag, err)
	}
	// Earlier builds lost the tag: remove them, unless containers still
	// use them (the daemon refuses; they go with a later build).
	old, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelImage+"="+labels[LabelImage]), filters.Arg("dangling", "true"))})
	if err == nil {
		for _, o := range old {
			if o.ID != in.ID {
				_, _ = cli.ImageRemove(ctx, o.ID, image.RemoveOptions{PruneChildren: true})
			}
		}
	}
	return in.ID, nil
}

// resolved is the image a run's nodes start from: the choice, and the
// image's labels and configured environment.
type resolved struct {
	choice cluster.ImageChoice
	labels map[string]string
	env    []string // the image's Config.Env
}

// resolveImage picks the image of a run, without pulling (no registry is
// used, ever):
//   - want (--image), which must be on this machine, else an error
//     wrapping cluster.ErrBadImage;
//   - else def, the target's default (the official image its users run),
//     when it is on this machine;
//   - else LocalImage(target) (chaoscheck images build makes it from this
//     machine's packages), an ImageFallback whose Why says that def is
//     not here;
//   - else, for a run with no target named, BaseImage (built when
//     missing).
//
// The error says what to do: docker pull or load the image, or run
// chaoscheck images build.
func resolveImage(ctx context.Context, cli client.APIClient, target, want, def string) (resolved, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	have := func(ref string) (resolved, bool, error) {
		in, err := cli.ImageInspect(ctx, ref)
		if errdefs.IsNotFound(err) {
			return resolved{}, false, nil
		}
		if err != nil {
			return resolved{}, false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
		}
		r := resolved{choice: cluster.ImageChoice{Ref: ref, ID: in.ID, Default: def}}
		if in.Config != nil {
			r.labels, r.env = in.Config.Labels, in.Config.Env
		}
		if p := r.labels[LabelPackages]; p != "" && hostMounted(r.labels) {
			r.choice.HostPackages = strings.Split(p, ",")
		}
		return r, true, nil
	}
	if want != "" {
		r, ok, err := have(want)
		if err != nil {
			return resolved{}, err
		}
		if !ok {
			return resolved{}, cluster.BadImage(fmt.Errorf("docker: image %s is not on this machine (chaoscheck never pulls: docker pull or docker load it first, or drop --image)", want))
		}
		r.choice.Reason = cluster.ImageFlag
		return r, nil
	}
	if target == "" {
		if err := EnsureBaseImage(ctx, cli); err != nil {
			return resolved{}, err
		}
		r, _, err := have(BaseImage)
		r.choice.Reason = cluster.ImageBase
		return r, err
	}
	if def != "" {
		r, ok, err := have(def)
		if err != nil {
			return resolved{}, err
		}
		if ok {
			r.choice.Reason = cluster.ImageDefault
			return r, nil
		}
	}
	r, ok, err := have(LocalImage(target))
	if err != nil {
		return resolved{}, err
	}
	if !ok {
		if def != "" {
			return resolved{}, fmt.Errorf("docker: no image for %s: neither its default %s (chaoscheck never pulls: docker pull or docker load it) nor the local image %s (run chaoscheck images build, which makes it from this machine's packages) is on this machine; or name one with --image", target, def, LocalImage(target))
		}
		return resolved{}, fmt.Errorf("docker: no image for %s: run chaoscheck images build (it makes %s from this machine's packages), or name one with --image", target, LocalImage(target))
	}
	if def != "" {
		r.choice.Reason = cluster.ImageFallback
		r.choice.Why = fmt.Sprintf("image %s is not on this machine (chaoscheck never pulls; docker pull or docker load it to run it)", def)
	} else {
		r.choice.Reason = cluster.ImageDefault
	}
	return r, nil
}

// discoverLayout resolves needs in the image r: where its nodes have
// each program and which ids its users have. A local image (hostMounted)
// runs this machine's /usr, /lib... and /etc, so it is resolved here
// (cluster.HostLayout), and a program outside HostMounts counts as
// missing. Any other image is searched inside, in each program's Dirs
// then the image's PATH (its Config.Env, else defaultPath): a container
// is created from it (never started, labelled as a run of this process
// so that heal removes it if this process dies), paths are stat'ed
// (symbolic links followed) and /etc/passwd read through the API, which
// needs nothing in the image, not even a shell. The container is removed
// before discoverLayout returns. The error names every program missing.
func discoverLayout(ctx context.Context, cli client.APIClient, r resolved, needs cluster.NodeNeeds) (cluster.Layout, error) {
	ref := r.choice.Ref
	if hostMounted(r.labels) {
		l, err := cluster.HostLayout(needs)
		if err != nil {
			return cluster.Layout{}, fmt.Errorf("docker: local image %s (it runs this machine's packages): %w", ref, err)
		}
		var outside []string
		for name, p := range l.Programs {
			if !underHostMounts(p) {
				outside = append(outside, fmt.Sprintf("%s (%s is not under %s, which its containers see)", name, p, strings.Join(HostMounts, ", ")))
			}
		}
		if len(outside) > 0 {
			sort.Strings(outside)
			return cluster.Layout{}, fmt.Errorf("docker: local image %s: %w: %s", ref, cluster.ErrMissingPrograms, strings.Join(outside, ", "))
		}
		l.Where = "local image " + ref + " (this machine's packages)"
		return l, nil
	}
	l := cluster.Layout{Where: "image " + ref, Programs: map[string]string{}, Users: map[string]cluster.UserID{}}
	if len(needs.Programs) == 0 && len(needs.Users) == 0 {
		return l, nil
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	ctl, err := controllerLabel()
	if err != nil {
		return cluster.Layout{}, err
	}
	// Labelled as a run of its own (cc-probe-<pid>), owned by this
	// process: heal removes it if this process dies before it does.
	cr, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Entrypoint: []string{"/chaoscheck-probe-never-started"},
		Labels: map[string]string{LabelRun: "cc-probe-" + strconv.Itoa(os.Getpid()), LabelController: ctl}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return cluster.Layout{}, fmt.Errorf("docker: probe image %s: create a container: %w", ref, err)
	}
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		defer rcancel()
		_ = cli.ContainerRemove(rctx, cr.ID, container.RemoveOptions{Force: true})
	}()
	stat := func(p string) (container.PathStat, bool, error) {
		st, err := cli.ContainerStatPath(ctx, cr.ID, p)
		if errdefs.IsNotFound(err) {
			return container.PathStat{}, false, nil
		}
		if err != nil {
			return container.PathStat{}, false, fmt.Errorf("docker: probe image %s: stat %s: %w", ref, p, err)
		}
		return st, true, nil
	}
	executable := func(p string) (bool, error) {
		// Follow symbolic links (Debian's alternatives, merged /usr) a
		// few hops: the program must end in an executable file.
		for hop := 0; hop < 8; hop++ {
			st, ok, err := stat(p)
			if err != nil || !ok {
				return false, err
			}
			if st.Mode&os.ModeSymlink == 0 {
				return st.Mode.IsRegular() && st.Mode.Perm()&0o111 != 0, nil
			}
			next := st.LinkTarget
			if next == "" || next == p {
				return false, nil
			}
			if !path.IsAbs(next) {
				next = path.Join(path.Dir(p), next)
			}
			p = next
		}
		return false, nil
	}
	if err := l.Resolve(needs, imagePath(r.env), executable); err != nil {
		return cluster.Layout{}, fmt.Errorf("docker: %w", err)
	}
	if len(needs.Users) > 0 {
		rc, _, err := cli.CopyFromContainer(ctx, cr.ID, "/etc/passwd")
		if err != nil && !errdefs.IsNotFound(err) {
			return cluster.Layout{}, fmt.Errorf("docker: probe image %s: read /etc/passwd: %w", ref, err)
		}
		if err == nil {
			b, err := firstFileOfTar(rc)
			rc.Close()
			if err != nil {
				return cluster.Layout{}, fmt.Errorf("docker: probe image %s: read /etc/passwd: %w", ref, err)
			}
			all := cluster.ParsePasswd(b)
			for _, u := range needs.Users {
				if id, ok := all[u]; ok {
					l.Users[u] = id
				}
			}
		}
	}
	return l, nil
}

// imagePath is the search path of an image's environment (its PATH,
// else defaultPath's).
func imagePath(env []string) []string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			return strings.Split(v, ":")
		}
	}
	return strings.Split(strings.TrimPrefix(defaultPath, "PATH="), ":")
}

// underHostMounts reports whether p is under one of HostMounts.
func underHostMounts(p string) bool {
	for _, m := range HostMounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// firstFileOfTar returns the content of the first regular file of a tar
// stream (at most 4 MiB).
func firstFileOfTar(r io.Reader) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, 4<<20))
		}
	}
}

// EnsureBaseImage builds BaseImage unless it exists.
func EnsureBaseImage(ctx context.Context, cli client.APIClient) error {
	ictx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err := cli.ImageInspect(ictx, BaseImage)
	if err == nil {
		return nil
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("docker: inspect %s: %w", BaseImage, err)
	}
	_, err = BuildBaseImage(ctx, cli)
	return err
}
