//go:build linux

// Package layoutimage builds, for tests, container images that have an
// official image's layout (where the programs are, which uid the
// server's user has, the entrypoint and environment) from this machine's
// installed packages, because no registry is reachable here to pull the
// official images themselves. The files are copied into the image (not
// bind-mounted), each ELF file with the shared libraries it needs (its
// DT_NEEDED closure and its interpreter), so a container of such an
// image runs nothing of this machine's at run time.
//
// The images are tagged under a test-only name (never the official one)
// and labelled Label, so that a test removes what it built.
package layoutimage

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Label marks the images Build made (its value: the spec's Name).
const Label = "chaoscheck.testimage"

// Copy is one file or directory of this machine copied into the image.
type Copy struct {
	// Host is the path on this machine (symbolic links are followed:
	// the image gets the content).
	Host string
	// Image is the path in the image ("" : the same as Host).
	Image string
	// Optional: skip it when Host is missing.
	Optional bool
}

// User is an /etc/passwd entry of the image.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// Spec is an image to build.
type Spec struct {
	// Name says which official image's layout it copies, e.g. "redis:7"
	// (the value of Label; never the tag).
	Name string
	// Copies are the files and directories copied in.
	Copies []Copy
	// Files are files written into the image (path -> content, mode
	// 0755).
	Files map[string]string
	// Dirs are empty directories created (mode 0755; /tmp is 1777).
	Dirs []string
	// Users are the image's /etc/passwd (and /etc/group, a group per
	// user with its GID).
	Users []User
	// Env, Entrypoint, Cmd and WorkingDir are the image's configuration.
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
}

// libDirs are where shared libraries are looked up, after an ELF file's
// RUNPATH/RPATH, as ld.so does on Debian amd64.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// merged are the merged-/usr links of Debian 12 (and of the official
// images' Debian bases): the image has them as symbolic links, and every
// path under them is stored under /usr.
var merged = map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

// canon is p's path in the image's tar, relative, under /usr for the
// merged directories.
func canon(p string) string {
	p = strings.TrimPrefix(filepath.Clean("/"+p), "/")
	first, rest, _ := strings.Cut(p, "/")
	if to, ok := merged[first]; ok {
		if rest == "" {
			return to
		}
		return to + "/" + rest
	}
	return p
}

// entry is one regular file of the image: its content comes from a host
// file, or from data.
type entry struct {
	host string
	data []byte
	mode fs.FileMode
}

// Build imports the image as tag through the API (no registry), and
// returns its id. Every ELF file copied brings the shared libraries it
// needs, found on this machine.
func Build(ctx context.Context, cli client.APIClient, tag string, s Spec) (string, error) {
	files := map[string]entry{} // tar path -> entry
	copied := map[string]bool{} // host paths in files
	var elfs []string           // host paths of ELF files to close over
	add := func(host, img string, st fs.FileInfo) {
		files[canon(img)] = entry{host: host, mode: st.Mode().Perm()}
		copied[host] = true
		if isELF(host) {
			elfs = append(elfs, host)
		}
	}
	for _, c := range s.Copies {
		img := c.Image
		if img == "" {
			img = c.Host
		}
		st, err := os.Stat(c.Host)
		if err != nil {
			if c.Optional {
				continue
			}
			return "", fmt.Errorf("layoutimage %s: %w", s.Name, err)
		}
		if !st.IsDir() {
			add(c.Host, img, st)
			continue
		}
		root := c.Host
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			st, err := os.Stat(p) // follows links
			if err != nil {
				return nil // a dangling link: left out
			}
			if st.IsDir() {
				if d.Type()&fs.ModeSymlink != 0 {
					// A linked directory: copy what it holds.
					return filepath.WalkDir(p, func(q string, e fs.DirEntry, err error) error {
						if err != nil {
							return nil
						}
						r2, _ := filepath.Rel(p, q)
						if qs, err := os.Stat(q); err == nil && qs.Mode().IsRegular() {
							add(q, filepath.Join(img, rel, r2), qs)
						}
						return nil
					})
				}
				return nil
			}
			if st.Mode().IsRegular() {
				add(p, filepath.Join(img, rel), st)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("layoutimage %s: copy %s: %w", s.Name, c.Host, err)
		}
	}
	// The shared libraries of every ELF file, transitively.
	copiedBase := map[string]bool{} // base names of the files copied
	for h := range copied {
		copiedBase[filepath.Base(h)] = true
	}
	seen := map[string]bool{}
	for len(elfs) > 0 {
		f := elfs[0]
		elfs = elfs[1:]
		if seen[f] {
			continue
		}
		seen[f] = true
		libs, err := needed(f, func(name string) bool { return copiedBase[name] })
		if err != nil {
			return "", fmt.Errorf("layoutimage %s: %s: %w", s.Name, f, err)
		}
		for _, l := range libs {
			st, err := os.Stat(l.host)
			if err != nil {
				return "", fmt.Errorf("layoutimage %s: %s needs %s: %w", s.Name, f, l.host, err)
			}
			// A library of a copied tree (found through $ORIGIN) is
			// there already, where the loader looks.
			if _, ok := files[canon(l.image)]; !ok && !copied[l.host] {
				files[canon(l.image)] = entry{host: l.host, mode: st.Mode().Perm()}
			}
			elfs = append(elfs, l.host)
		}
	}
	var passwd, group strings.Builder
	for _, u := range s.Users {
		home := u.Home
		if home == "" {
			home = "/"
		}
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s:%s:/usr/sbin/nologin\n", u.Name, u.UID, u.GID, u.Name, home)
		fmt.Fprintf(&group, "%s:x:%d:\n", u.Name, u.GID)
	}
	files["etc/passwd"] = entry{data: []byte(passwd.String()), mode: 0o644}
	files["etc/group"] = entry{data: []byte(group.String()), mode: 0o644}
	for p, c := range s.Files {
		files[canon(p)] = entry{data: []byte(c), mode: 0o755}
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, files, s.Dirs)) }()
	changes := []string{"LABEL " + Label + "=" + strconv.Quote(s.Name)}
	for _, e := range s.Env {
		k, v, _ := strings.Cut(e, "=")
		changes = append(changes, "ENV "+k+"="+strconv.Quote(v))
	}
	if len(s.Entrypoint) > 0 {
		changes = append(changes, "ENTRYPOINT "+jsonList(s.Entrypoint))
	}
	if len(s.Cmd) > 0 {
		changes = append(changes, "CMD "+jsonList(s.Cmd))
	}
	if s.WorkingDir != "" {
		changes = append(changes, "WORKDIR "+s.WorkingDir)
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rc, err := cli.ImageImport(ictx, image.ImportSource{Source: pr, SourceName: "-"}, tag, image.ImportOptions{Changes: changes})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("layoutimage %s: import %s: %w", s.Name, tag, err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return "", fmt.Errorf("layoutimage %s: import %s: %w", s.Name, tag, err)
	}
	in, err := cli.ImageInspect(ictx, tag)
	if err != nil {
		return "", fmt.Errorf("layoutimage %s: inspect %s: %w", s.Name, tag, err)
	}
	return in.ID, nil
}

func jsonList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// writeTar writes the image's filesystem: the merged-/usr links, every
// directory needed, dirs, and files.
func writeTar(w io.Writer, files map[string]entry, dirs []string) error {
	tw := tar.NewWriter(w)
	mt := time.Unix(0, 0)
	made := map[string]bool{}
	var mkdir func(d string, mode int64) error
	mkdir = func(d string, mode int64) error {
		if d == "." || d == "" || made[d] {
			return nil
		}
		if err := mkdir(filepath.Dir(d), 0o755); err != nil {
			return err
		}
		made[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: mt})
	}
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "proc", "sys", "dev", "run", "var/tmp"} {
		if err := mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := mkdir("tmp", 0o1777); err != nil {
		return err
	}
	links := make([]string, 0, len(merged))
	for l := range merged {
		links = append(links, l)
	}
	sort.Strings(links)
	for _, l := range links {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: l, Linkname: merged[l], Mode: 0o777, ModTime: mt}); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if err := mkdir(canon(d), 0o755); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := files[n]
		if err := mkdir(filepath.Dir(n), 0o755); err != nil {
			return err
		}
		data := e.data
		var size int64 = int64(len(data))
		var f *os.File
		if e.host != "" {
			var err error
			if f, err = os.Open(e.host); err != nil {
				return err
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return err
			}
			size = st.Size()
		}
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: int64(e.mode), Size: size, ModTime: mt})
		if err == nil {
			if f != nil {
				_, err = io.CopyN(tw, f, size)
			} else {
				_, err = tw.Write(data)
			}
		}
		if f != nil {
			f.Close()
		}
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// isELF reports whether the file at p starts with the ELF magic.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	return bytes.Equal(b[:], []byte("\x7fELF"))
}

// lib is a shared library an ELF file needs: where it is on this
// machine, and the path the loader looks it up at (its directory and
// the name the file asks for).
type lib struct{ host, image string }

// needed returns the interpreter and the DT_NEEDED libraries of the ELF
// file f, looked up in its RUNPATH/RPATH ($ORIGIN expanded), then
// libDirs. A library found nowhere is an error unless inTree says a file
// of that name is copied (one the program loads itself, as the java
// launcher loads lib/server/libjvm.so, which its other libraries then
// name).
func needed(f string, inTree func(name string) bool) ([]lib, error) {
	ef, err := elf.Open(f)
	if err != nil {
		return nil, nil // not a loadable ELF file (e.g. a data file with the magic)
	}
	defer ef.Close()
	var out []lib
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, err
			}
			interp := strings.TrimRight(string(b), "\x00")
			out = append(out, lib{host: interp, image: interp})
		}
	}
	names, err := ef.ImportedLibraries()
	if err != nil {
		return out, nil // static
	}
	var search []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := ef.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				search = append(search, strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", filepath.Dir(f)), "$ORIGIN", filepath.Dir(f)))
			}
		}
	}
	search = append(search, libDirs...)
	for _, n := range names {
		found := false
		for _, d := range search {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, lib{host: p, image: p})
				found = true
				break
			}
		}
		if !found && !inTree(n) {
			return nil, fmt.Errorf("shared library %s not found in %s", n, strings.Join(search, ":"))
		}
	}
	return out, nil
}
