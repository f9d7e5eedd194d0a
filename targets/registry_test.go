package targets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fakeTarget records the values its constructor received.
type fakeTarget struct {
	name  string
	n     int
	on    bool
	list  []string
	given []string
}

func (f *fakeTarget) Name() string                               { return f.name }
func (f *fakeTarget) Deploy(context.Context) (Deployment, error) { return nil, errors.New("fake") }

func fakeReg(name string, extra func(fs *pflag.FlagSet, t *fakeTarget)) Registration {
	return Registration{Name: name, Summary: name + " store", Flags: func(fs *pflag.FlagSet) Constructor {
		t := &fakeTarget{name: name}
		fs.IntVar(&t.n, "nodes", 3, "nodes of "+name)
		if extra != nil {
			extra(fs, t)
		}
		return func(Common) (Target, error) {
			fs.Visit(func(f *pflag.Flag) { t.given = append(t.given, f.Name) })
			return t, nil
		}
	}}
}

func testRegistry() Registry {
	return Registry{
		fakeReg("a", func(fs *pflag.FlagSet, t *fakeTarget) {
			fs.BoolVar(&t.on, "only-a", false, "a's switch")
			fs.StringSliceVar(&t.list, "shared-list", nil, "a list")
		}),
		fakeReg("b", func(fs *pflag.FlagSet, t *fakeTarget) {
			fs.StringSliceVar(&t.list, "shared-list", nil, "a list")
		}),
		fakeReg("c", nil),
	}
}

// parse defines the registry's flags and a common one on a fresh set and
// parses args.
func parse(t *testing.T, r Registry, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Int("concurrency", 1, "common")
	if err := r.DefineFlags(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestRegistryBuildReplaysGivenFlags(t *testing.T) {
	r := testRegistry()
	fs := parse(t, r, "--nodes", "5", "--only-a", "--shared-list", "x,y", "--shared-list", "z", "--concurrency", "4")
	tg, err := r.Build("a", fs, Common{})
	if err != nil {
		t.Fatal(err)
	}
	ft := tg.(*fakeTarget)
	if ft.n != 5 || !ft.on || strings.Join(ft.list, ",") != "x,y,z" {
		t.Errorf("target got nodes=%d only-a=%v list=%v", ft.n, ft.on, ft.list)
	}
	if strings.Join(ft.given, ",") != "nodes,only-a,shared-list" {
		t.Errorf("target saw given flags %v, want its own three", ft.given)
	}
	// Defaults stay defaults, and are not "given".
	tg, err = r.Build("c", parse(t, r), Common{})
	if err != nil || tg.(*fakeTarget).n != 3 || len(tg.(*fakeTarget).given) != 0 {
		t.Errorf("defaults: %v %+v", err, tg)
	}
}

func TestRegistryRefusesFlagsOfOtherTargets(t *testing.T) {
	r := testRegistry()
	_, err := r.Build("c", parse(t, r, "--only-a", "--shared-list", "x"), Common{})
	if err == nil {
		t.Fatal("flags of a and b accepted for c")
	}
	for _, want := range []string{"--only-a applies to --target a, not c", "--shared-list applies to --target a or b, not c"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := r.Build("zz", parse(t, r), Common{}); err == nil || !strings.Contains(err.Error(), "a, b, c") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestRegistryDefineFlags(t *testing.T) {
	fs := parse(t, testRegistry())
	if u := fs.Lookup("nodes").Usage; u != "a: nodes of a; b: nodes of b; c: nodes of c" {
		t.Errorf("usage of a flag every target has: %q", u)
	}
	if u := fs.Lookup("shared-list").Usage; u != "a, b: a list" {
		t.Errorf("usage of a shared flag: %q", u)
	}
	bad := append(testRegistry(), Registration{Name: "d", Flags: func(fs *pflag.FlagSet) Constructor {
		fs.String("nodes", "", "nodes as text")
		return nil
	}})
	if err := bad.DefineFlags(pflag.NewFlagSet("x", pflag.ContinueOnError)); err == nil {
		t.Error("a flag with two types accepted")
	}
	clash := pflag.NewFlagSet("x", pflag.ContinueOnError)
	clash.Int("nodes", 1, "common")
	if err := testRegistry().DefineFlags(clash); err == nil {
		t.Error("a target flag that is also a common flag accepted")
	}
	if o := testRegistry().Owners()["shared-list"]; strings.Join(o, ",") != "a,b" {
		t.Errorf("owners of shared-list: %v", o)
	}
}
