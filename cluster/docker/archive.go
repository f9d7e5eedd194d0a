//go:build linux

package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// filesTar is a tarball, to extract at "/", holding files owned by
// uid:gid (not their parent directories).
func filesTar(files []cluster.File, uid, gid uint32) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("file %s: want an absolute path", f.Path)
		}
		// No entries for the parent directories: the daemon would
		// reset an existing one's owner and mode (a data directory's
		// 0700) to the entry's; it creates missing parents itself
		// (0755, root).
		rel := strings.TrimPrefix(path.Clean(f.Path), "/")
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: int64(mode), Size: int64(len(f.Data)),
			Uid: int(uid), Gid: int(gid), ModTime: now}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// tarPath writes src (a file or a directory tree) to w as a tarball whose
// top entry is named name.
func tarPath(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = path.Join(name, filepath.ToSlash(rel))
		if info.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// untarTo extracts a tarball from the API (whose top entry is the copied
// file or directory) so that its top entry becomes dst. Entries that
// would land outside dst are refused.
func untarTo(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	top := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if top == "" {
				return errors.New("empty archive")
			}
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if top == "" {
			top = strings.SplitN(name, "/", 2)[0]
		}
		var rel string
		switch {
		case name == top:
		case strings.HasPrefix(name, top+"/"):
			rel = name[len(top)+1:]
		default:
			return fmt.Errorf("entry %s is outside the copied %s", h.Name, top)
		}
		if top == ".." || strings.HasPrefix(top, "/") {
			return fmt.Errorf("entry %s escapes the copy", h.Name)
		}
		target := dst
		if rel != "" {
			target = filepath.Join(dst, filepath.FromSlash(rel))
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, fs.FileMode(h.Mode).Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		default:
			// devices, fifos, hard links: not copied
		}
	}
}
