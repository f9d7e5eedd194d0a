//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
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

// resolveImage picks the image of a run: want when given (--image; it
// must be on this machine), else LocalImage(target) (built by chaoscheck
// images build from this machine's packages, whose paths and users the
// targets' node specs name), else BaseImage for a run with no target
// named (built when missing). A target's official image is never picked
// by itself: its paths and uids differ from this machine's (see
// checkImage). The error says what to do: pull the image or run
// chaoscheck images build.
func resolveImage(ctx context.Context, cli client.APIClient, target, want string) (string, map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	have := func(ref string) (map[string]string, bool, error) {
		in, err := cli.ImageInspect(ctx, ref)
		if errdefs.IsNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
		}
		var labels map[string]string
		if in.Config != nil {
			labels = in.Config.Labels
		}
		return labels, true, nil
	}
	if want != "" {
		l, ok, err := have(want)
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return "", nil, fmt.Errorf("docker: image %s is not on this machine (docker pull %s, or drop --image to use the local image that chaoscheck images build makes)", want, want)
		}
		return want, l, nil
	}
	if target == "" {
		if err := EnsureBaseImage(ctx, cli); err != nil {
			return "", nil, err
		}
		l, _, err := have(BaseImage)
		return BaseImage, l, err
	}
	l, ok, err := have(LocalImage(target))
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, fmt.Errorf("docker: no image for %s: run chaoscheck images build (it makes %s from this machine's packages), or name one with --image", target, LocalImage(target))
	}
	return LocalImage(target), l, nil
}

// checkImage checks that the image ref (with its labels) has what needs
// asks for, and returns an error naming everything missing. A local
// image (hostMounted) runs this machine's /usr, /lib... and /etc, so
// they are checked here; any other image is checked inside: a container
// is created from it (never started, labelled as a run of this process
// so that heal removes it if this process dies) and the executables are stat'ed and
// /etc/passwd read through the API, which needs nothing in the image (no
// shell). The container is removed before checkImage returns.
func checkImage(ctx context.Context, cli client.APIClient, ref string, labels map[string]string, needs cluster.NodeNeeds) error {
	if len(needs.Executables) == 0 && len(needs.Users) == 0 {
		return nil
	}
	uids := map[string]string{} // host user -> uid
	for _, u := range needs.Users {
		hu, err := user.Lookup(u)
		if err != nil {
			return fmt.Errorf("docker: image %s: the nodes run as this machine's user %s: %w", ref, u, err)
		}
		uids[u] = hu.Uid
	}
	var (
		exists func(path string) (bool, error)
		passwd []byte
	)
	if hostMounted(labels) {
		exists = func(path string) (bool, error) {
			st, err := os.Stat(path)
			if err != nil {
				return false, nil
			}
			return st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0, nil
		}
		b, err := os.ReadFile("/etc/passwd")
		if err != nil {
			return fmt.Errorf("docker: image %s: %w", ref, err)
		}
		passwd = b
	} else {
		ctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		ctl, err := controllerLabel()
		if err != nil {
			return err
		}
		// Labelled as a run of its own (cc-probe-<pid>), owned by this
		// process: heal removes it if this process dies before it does.
		cr, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Entrypoint: []string{"/chaoscheck-probe-never-started"},
			Labels: map[string]string{LabelRun: "cc-probe-" + strconv.Itoa(os.Getpid()), LabelController: ctl}},
			&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
		if err != nil {
			return fmt.Errorf("docker: probe image %s: create a container: %w", ref, err)
		}
		defer func() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
			defer rcancel()
			_ = cli.ContainerRemove(rctx, cr.ID, container.RemoveOptions{Force: true})
		}()
		exists = func(path string) (bool, error) {
			st, err := cli.ContainerStatPath(ctx, cr.ID, path)
			if errdefs.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("docker: probe image %s: stat %s: %w", ref, path, err)
			}
			// A symlink's own mode is 0777; what it points to is checked
			// by the copy below only for /etc/passwd: a link counts.
			return !st.Mode.IsDir() && (st.Mode&os.ModeSymlink != 0 || st.Mode.Perm()&0o111 != 0), nil
		}
		if len(needs.Users) > 0 {
			rc, _, err := cli.CopyFromContainer(ctx, cr.ID, "/etc/passwd")
			if err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("docker: probe image %s: read /etc/passwd: %w", ref, err)
			}
			if err == nil {
				passwd, err = firstFileOfTar(rc)
				rc.Close()
				if err != nil {
					return fmt.Errorf("docker: probe image %s: read /etc/passwd: %w", ref, err)
				}
			}
		}
	}
	var missing []string
	for _, p := range needs.Executables {
		ok, err := exists(p)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, "no executable "+p)
		}
	}
	known := passwdUIDs(passwd)
	for _, u := range needs.Users {
		if !known[uids[u]] {
			missing = append(missing, fmt.Sprintf("no uid %s (this machine's user %s, whom the nodes run as) in /etc/passwd", uids[u], u))
		}
	}
	if len(missing) > 0 {
		what := "image " + ref
		if hostMounted(labels) {
			what = "local image " + ref + " (it runs this machine's packages)"
		}
		return fmt.Errorf("docker: %s does not fit the target's node specs: %s", what, strings.Join(missing, ", "))
	}
	return nil
}

// passwdUIDs returns the uids of an /etc/passwd file.
func passwdUIDs(b []byte) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && !strings.HasPrefix(line, "#") {
			out[f[2]] = true
		}
	}
	return out
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
