package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Resolve takes each program from its Dirs first, then the path, in
// order; skips relative path entries; and names every program found
// nowhere, with where it looked.
func TestLayoutResolve(t *testing.T) {
	have := map[string]bool{"/opt/pg/bin/initdb": true, "/usr/bin/initdb": true, "/usr/local/bin/env": true, "/usr/bin/env": true}
	exe := func(p string) (bool, error) { return have[p], nil }
	needs := NodeNeeds{Programs: []Program{{Name: "initdb", Dirs: []string{"/opt/pg/bin"}}, {Name: "env"}}}
	l := Layout{Where: "image x"}
	if err := l.Resolve(needs, []string{"bin", "/usr/local/bin", "/usr/bin"}, exe); err != nil {
		t.Fatal(err)
	}
	if l.Path("initdb") != "/opt/pg/bin/initdb" || l.Path("env") != "/usr/local/bin/env" {
		t.Errorf("programs %v", l.Programs)
	}
	needs.Programs = append(needs.Programs, Program{Name: "postgres", Dirs: []string{"/opt/pg/bin"}}, Program{Name: "sh"})
	err := (&Layout{Where: "image x"}).Resolve(needs, []string{"/usr/bin"}, exe)
	if !errors.Is(err, ErrMissingPrograms) {
		t.Fatalf("%v, want ErrMissingPrograms", err)
	}
	for _, w := range []string{"image x", "postgres (searched /opt/pg/bin:/usr/bin)", "sh (searched /usr/bin)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "env") {
		t.Errorf("%v names env, which was found", err)
	}
	if err := (&Layout{}).Resolve(NodeNeeds{Programs: []Program{{Name: "/usr/bin/env"}}}, nil, exe); err == nil {
		t.Error("a program named by path was accepted")
	}
}

// HostLayout finds this machine's programs (an executable file in a
// Program's Dirs first) and users, and leaves out users it lacks.
func TestHostLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noexec"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := HostLayout(NodeNeeds{Programs: []Program{{Name: "sh", Dirs: []string{dir}}}, Users: []string{"root", "chaoscheck-no-such-user"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Path("sh") != filepath.Join(dir, "sh") {
		t.Errorf("sh at %s, want the one in Dirs", l.Path("sh"))
	}
	if id, ok := l.User("root"); !ok || id != (UserID{}) {
		t.Errorf("root: %+v %v", id, ok)
	}
	if _, ok := l.User("chaoscheck-no-such-user"); ok {
		t.Error("an unknown user was resolved")
	}
	if _, err := HostLayout(NodeNeeds{Programs: []Program{{Name: "noexec", Dirs: []string{dir}}}}); !errors.Is(err, ErrMissingPrograms) {
		t.Errorf("a file that is not executable: %v", err)
	}
}

func TestParsePasswd(t *testing.T) {
	got := ParsePasswd([]byte("# c\nroot:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/bash\nbad:x:y:1::/:\nshort:x:1\n"))
	if len(got) != 2 || got["postgres"] != (UserID{UID: 999, GID: 999}) || got["root"] != (UserID{}) {
		t.Errorf("%v", got)
	}
}

// BadImage keeps the message and wraps both the cause and ErrBadImage.
func TestBadImage(t *testing.T) {
	cause := errors.New("image x is not here")
	err := BadImage(cause)
	if err.Error() != cause.Error() || !errors.Is(err, cause) || !errors.Is(err, ErrBadImage) {
		t.Errorf("%v", err)
	}
	if BadImage(nil) != nil {
		t.Error("BadImage(nil) is not nil")
	}
}
