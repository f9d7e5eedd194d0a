package runner

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/scratch"
)

// keySpill is a group's client operations split by key into one JSONL
// file per key, in a temporary directory: each key can then be loaded
// alone. Invariant: files[k] holds the ops of key k in history order,
// re-indexed from 0 (so that each is a well-formed history file), and
// files[k].orig[i] is the index in the source file of its op i.
type keySpill struct {
	dir   *scratch.Dir
	files map[string]*spillFile
}

// spillFile is one key's file while it is written and after.
type spillFile struct {
	path string
	f    *os.File
	w    *history.Writer
	orig []int32
}

// spillKeys reads the JSONL history at path once (checked line by line
// as every reader checks it) and writes the client ops that keep keeps
// (all when nil) into one file per key, in a directory created next to
// path (in the system temp directory when that one cannot be written).
// Nemesis events are left out: keyed checkers ignore them. The caller
// must call remove.
//
// The directory can be as big as the history: it is journaled before it
// exists (package scratch), so that a run killed while it checks leaves
// it to `chaoscheck heal`, or to the next check, which first removes the
// scratch of dead runs.
func spillKeys(path string, keep func(*history.Op) bool) (sp *keySpill, err error) {
	jdir := scratch.JournalDir(scratch.DefaultJournalDir)
	_, _ = scratch.HealAll(jdir) // best effort; chaoscheck heal reports
	dir, err := scratch.Make(jdir, filepath.Dir(path), "check-keys-")
	if err != nil {
		if dir, err = scratch.Make(jdir, os.TempDir(), "check-keys-"); err != nil {
			return nil, fmt.Errorf("check: spill keys: %w", err)
		}
	}
	sp = &keySpill{dir: dir, files: map[string]*spillFile{}}
	defer func() {
		if err != nil {
			sp.remove()
			sp = nil
		}
	}()
	src, err := history.OpenJSONL(path)
	if err != nil {
		return nil, err
	}
	err = src.Scan(func(op *history.Op) error {
		if !op.IsClient() || (keep != nil && !keep(op)) {
			return nil
		}
		if op.Index > math.MaxInt32 {
			return fmt.Errorf("check: spill keys: op %d: history too long to check key by key", op.Index)
		}
		sf := sp.files[op.Key]
		if sf == nil {
			var err error
			if sf, err = sp.create(len(sp.files)); err != nil {
				return err
			}
			sp.files[op.Key] = sf
		}
		o := *op
		o.Index = len(sf.orig)
		sf.orig = append(sf.orig, int32(op.Index))
		return sf.w.Write(&o)
	})
	var errs []error
	for _, sf := range sp.files {
		errs = append(errs, sf.close())
	}
	if err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("check: spill keys: %w", err)
	}
	return sp, nil
}

// create opens the file of the n-th key.
func (sp *keySpill) create(n int) (*spillFile, error) {
	p := filepath.Join(sp.dir.Path, fmt.Sprintf("key-%d.jsonl", n))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("check: spill keys: %w", err)
	}
	// The Writer sees no Sync method: a scratch file is not fsynced.
	return &spillFile{path: p, f: f, w: history.NewWriter(struct{ io.Writer }{f})}, nil
}

// close flushes and closes the file (once).
func (sf *spillFile) close() error {
	if sf.f == nil {
		return nil
	}
	err := errors.Join(sf.w.Close(), sf.f.Close())
	sf.f = nil
	return err
}

// order is the keys in name order.
func (sp *keySpill) order() []string {
	keys := make([]string, 0, len(sp.files))
	for k := range sp.files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// load returns the ops of key, in history order, each with its index in
// the source file in Index (see checkers.KeyCheck).
func (sp *keySpill) load(key string) (*history.History, error) {
	sf := sp.files[key]
	h, _, _, err := history.LoadJSONL(sf.path, history.LoadOptions{})
	if err != nil {
		return nil, err
	}
	if len(h.Ops) != len(sf.orig) {
		return nil, fmt.Errorf("check: spill keys: %s holds %d ops, %d were written", sf.path, len(h.Ops), len(sf.orig))
	}
	for i := range h.Ops {
		h.Ops[i].Index = int(sf.orig[i])
	}
	return h, nil
}

// remove deletes the spill files and their directory, then its journal.
func (sp *keySpill) remove() error {
	for _, sf := range sp.files {
		sf.close()
	}
	return sp.dir.Remove()
}
