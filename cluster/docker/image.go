//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
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

// BuildBaseImage imports the base image through the API and tags it
// BaseImage (chaoscheck images build calls it), and removes the images of
// earlier builds that no container uses. It needs no registry. It
// returns the image id.
func BuildBaseImage(ctx context.Context, cli client.APIClient) (string, error) {
	data, err := baseTar()
	if err != nil {
		return "", fmt.Errorf("docker: base image tarball: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(data), SourceName: "-"}, BaseImage,
		image.ImportOptions{Changes: []string{"LABEL " + LabelImage + "=base", `CMD ["/bin/false"]`}})
	if err != nil {
		return "", fmt.Errorf("docker: import %s: %w", BaseImage, err)
	}
	// The import's progress stream ends when the image exists.
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return "", fmt.Errorf("docker: import %s: %w", BaseImage, err)
	}
	in, err := cli.ImageInspect(ctx, BaseImage)
	if err != nil {
		return "", fmt.Errorf("docker: import %s: inspect: %w", BaseImage, err)
	}
	// Earlier builds lost the tag: remove them, unless containers still
	// use them (the daemon refuses; they go with a later build).
	old, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelImage+"=base"), filters.Arg("dangling", "true"))})
	if err == nil {
		for _, o := range old {
			if o.ID != in.ID {
				_, _ = cli.ImageRemove(ctx, o.ID, image.RemoveOptions{PruneChildren: true})
			}
		}
	}
	return in.ID, nil
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
