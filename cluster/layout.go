package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Program is an executable that a target's node specs or node commands
// run, named as its package installs it: the runtime finds where it is
// on the nodes (Layout), so that a target runs the same program from
// this machine's packages, from an official image (postgres in
// /usr/lib/postgresql/15/bin, redis-server in /usr/local/bin) or from
// any image the user names.
type Program struct {
	// Name is the file name, e.g. "redis-server".
	Name string
	// Dirs are directories searched before the node's PATH, in order:
	// where the target's packages put a program that no PATH names
	// (Debian's /usr/lib/postgresql/15/bin).
	Dirs []string
}

// NodeNeeds is what a target's node specs and commands need on a node:
// the runtime resolves it into a Layout before anything is deployed
// (LayoutOn), and a runtime whose nodes run an image refuses, in one
// line, an image that lacks a program.
type NodeNeeds struct {
	// Programs are the executables the target runs on the nodes (not
	// those it runs on the controller, such as redis-cli).
	Programs []Program
	// Users are the names of the users the node processes run as (the
	// node's uid for each: "postgres" is 101 on this machine's Debian
	// packages and 999 in the official image).
	Users []string
}

// UserID is a user's uid and primary gid on the nodes.
type UserID struct {
	UID, GID uint32
}

// Layout is where a cluster's nodes have the programs and users a
// target needs, as the runtime resolved them: typed facts the target
// builds its node specs from, instead of assuming this machine's paths
// and uids.
type Layout struct {
	// Where says what was searched, for messages: "this machine", or
	// "image redis:7".
	Where string
	// Programs maps each Program.Name to its absolute path on the nodes.
	// Every program of the NodeNeeds is there (resolvers fail otherwise).
	Programs map[string]string
	// Users maps each user name of the NodeNeeds that the nodes know to
	// its ids. A user the nodes lack is absent: the target decides
	// (run as root, or refuse).
	Users map[string]UserID
}

// Path is the absolute path of program name on the nodes ("" when it
// was not resolved).
func (l Layout) Path(name string) string { return l.Programs[name] }

// User returns the ids of user name on the nodes, and whether the nodes
// know that user.
func (l Layout) User(name string) (UserID, bool) {
	id, ok := l.Users[name]
	return id, ok
}

// LayoutResolver is implemented by runtimes whose nodes do not run this
// machine's files as they are (the docker runtime: an image's). A
// runtime that does not implement it runs this machine's files, and
// LayoutOn resolves on this machine.
type LayoutResolver interface {
	// Layout resolves needs on the nodes the runtime will bring up, before
	// anything is deployed: an error names every program missing.
	Layout(ctx context.Context, needs NodeNeeds) (Layout, error)
}

// LayoutOn resolves needs on rt's nodes: rt's own resolution when it is
// a LayoutResolver, else HostLayout (rt runs this machine's files; also
// with no runtime).
func LayoutOn(ctx context.Context, rt Runtime, needs NodeNeeds) (Layout, error) {
	if r, ok := rt.(LayoutResolver); ok {
		return r.Layout(ctx, needs)
	}
	return HostLayout(needs)
}

// ErrMissingPrograms wraps a resolver's error for programs that are
// nowhere on the nodes.
var ErrMissingPrograms = errors.New("programs missing")

// HostLayout resolves needs on this machine: each program in its Dirs,
// then in the controller's PATH; each user in this machine's user
// database. The error names every program missing.
func HostLayout(needs NodeNeeds) (Layout, error) {
	l := Layout{Where: "this machine", Programs: map[string]string{}, Users: map[string]UserID{}}
	path := filepath.SplitList(os.Getenv("PATH"))
	err := l.Resolve(needs, path, func(p string) (bool, error) {
		st, err := os.Stat(p)
		if err != nil {
			return false, nil
		}
		return st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0, nil
	})
	if err != nil {
		return Layout{}, err
	}
	for _, name := range needs.Users {
		u, err := user.Lookup(name)
		if err != nil {
			var unknown user.UnknownUserError
			if errors.As(err, &unknown) {
				continue
			}
			return Layout{}, fmt.Errorf("user %s on this machine: %w", name, err)
		}
		id, err := parseIDs(u.Uid, u.Gid)
		if err != nil {
			return Layout{}, fmt.Errorf("user %s on this machine: %w", name, err)
		}
		l.Users[name] = id
	}
	return l, nil
}

// Resolve fills l.Programs with the first path dir/name, for dir in the
// program's Dirs then in path (relative entries are skipped), that
// executable says is an executable file. The error names every program
// found nowhere and where it was searched; it wraps ErrMissingPrograms.
func (l *Layout) Resolve(needs NodeNeeds, path []string, executable func(p string) (bool, error)) error {
	if l.Programs == nil {
		l.Programs = map[string]string{}
	}
	var missing []string
	for _, p := range needs.Programs {
		if p.Name == "" || strings.Contains(p.Name, "/") {
			return fmt.Errorf("program %q: want a file name", p.Name)
		}
		var dirs []string
		seen := map[string]bool{}
		for _, d := range append(append([]string(nil), p.Dirs...), path...) {
			if !filepath.IsAbs(d) || seen[filepath.Clean(d)] {
				continue
			}
			seen[filepath.Clean(d)] = true
			dirs = append(dirs, filepath.Clean(d))
		}
		found := ""
		for _, d := range dirs {
			ok, err := executable(filepath.Join(d, p.Name))
			if err != nil {
				return err
			}
			if ok {
				found = filepath.Join(d, p.Name)
				break
			}
		}
		if found == "" {
			missing = append(missing, fmt.Sprintf("%s (searched %s)", p.Name, strings.Join(dirs, ":")))
			continue
		}
		l.Programs[p.Name] = found
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %w: %s", l.Where, ErrMissingPrograms, strings.Join(missing, ", "))
	}
	return nil
}

// ParsePasswd returns the users of an /etc/passwd file with their uid
// and primary gid (malformed lines are skipped).
func ParsePasswd(b []byte) map[string]UserID {
	out := map[string]UserID{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || strings.HasPrefix(line, "#") || f[0] == "" {
			continue
		}
		id, err := parseIDs(f[2], f[3])
		if err != nil {
			continue
		}
		if _, dup := out[f[0]]; !dup {
			out[f[0]] = id
		}
	}
	return out
}

func parseIDs(uid, gid string) (UserID, error) {
	u, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return UserID{}, fmt.Errorf("uid %q: %w", uid, err)
	}
	g, err := strconv.ParseUint(gid, 10, 32)
	if err != nil {
		return UserID{}, fmt.Errorf("gid %q: %w", gid, err)
	}
	return UserID{UID: uint32(u), GID: uint32(g)}, nil
}
