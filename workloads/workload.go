// Package workloads generates the operations concurrent clients perform and
// names the checkers that judge the resulting history. A workload knows
// nothing about any database: it talks to the small client interfaces of
// client.go, which each target implements as far as its database allows.
//
// Rules every workload keeps so its histories stay checkable:
//   - written values are unique (a shared counter), so a read names the
//     one write it observed;
//   - the key space is small, so operations on a key really overlap;
//   - a worker has one operation in flight (the runner guarantees it).
package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// Invocation is what a worker asks for: the f, key and value of an invoke
// event.
type Invocation struct {
	F     string
	Key   string
	Value history.Value
}

// Completion is what the worker saw: the type, value and error of the
// completion event.
type Completion struct {
	Type  history.Type
	Value history.Value
	Error string
}

// Worker performs one process's operations. It is used by one goroutine at
// a time.
type Worker interface {
	// Next draws the next invocation.
	Next(rng *rand.Rand) Invocation
	// Do performs inv against the database and says what happened.
	Do(ctx context.Context, inv Invocation) Completion
}

// Workload is one kind of test traffic.
type Workload interface {
	// Name is the --workload name.
	Name() string
	// NewWorker binds a process's client. It fails, naming the missing
	// capability, when the client cannot perform this workload.
	NewWorker(c Client) (Worker, error)
	// Checkers returns the checkers that judge this workload's history.
	Checkers(opts CheckOptions) []checkers.Checker
}

// Finisher is implemented by workloads that need reads after the faults
// are healed and the cluster had time to recover (the set's final read).
type Finisher interface {
	FinalInvocations() []Invocation
}

// CheckOptions are the settings checkers take from the run.
type CheckOptions struct {
	// TimeLimit bounds the linearizability search per run (0: none).
	TimeLimit time.Duration
	// OutDir is where checkers may write artifacts (porcupine's
	// visualization).
	OutDir string
	// Txn are Elle's options for the transaction workloads' checker.
	Txn TxnCheckOptions
}

// TxnCheckOptions are the Elle options a test passes to the checker of
// list-append and rw-register (checkers/elle.Options, with Elle's
// meaning); the workload fills in its kind and the output directory.
type TxnCheckOptions struct {
	// ConsistencyModels and Anomalies: what to check the history against
	// (empty: strict-serializable, as in Elle).
	ConsistencyModels, Anomalies []string
	// LinearizableKeys, SequentialKeys, WFRKeys: rw-register inference.
	LinearizableKeys, SequentialKeys, WFRKeys bool
}

// Options configure the workloads.
type Options struct {
	// Keys is the size of the key space of shared-key workloads.
	Keys int
	// CAS enables compare-and-set operations in the register workload.
	CAS bool
	// NativeCounter makes the counter workload use the database's native
	// increments (CounterClient) instead of read-modify-write.
	NativeCounter bool
	// HotFraction is the fraction (0 to 1) of the hotkey workload's
	// operations that go to its one hot key; the rest spread uniformly
	// over its cold keys.
	HotFraction float64
	// Salt, when N > 0, makes the hotkey workload store its hot key as N
	// salted shards (adds spread over them, reads take their union); 0
	// keeps one hot key.
	Salt int
}

// DefaultOptions are the defaults of `chaoscheck test`.
func DefaultOptions() Options { return Options{Keys: 5, CAS: true, HotFraction: 0.9, Salt: 0} }

// Registration is one workload's row in the table (Workloads): adding a
// workload is its type and a row; the command line reads names, help
// and which option flags apply from the table.
type Registration struct {
	// Name is the --workload value.
	Name string
	// Summary says what it does, for help.
	Summary string
	// Reads are the `chaoscheck test` option flags it reads (keys, cas,
	// counter, hot-fraction, salt): a flag that no chosen workload reads
	// is refused.
	Reads []string
	// New builds the workload.
	New func(Options) Workload
}

// Workloads returns the table of workloads, sorted by name.
func Workloads() []Registration {
	return []Registration{
		{Name: "counter", Summary: "increments and reads of counters", Reads: []string{"keys", "counter"}, New: func(o Options) Workload { return newCounter(o) }},
		{Name: "hotkey", Summary: "set adds, most on one hot key, salted with --salt", Reads: []string{"keys", "hot-fraction", "salt"}, New: func(o Options) Workload { return newHotKey(o) }},
		{Name: "list-append", Summary: "transactions of appends to lists and reads of whole lists (Elle)", Reads: []string{"keys", "consistency-models", "anomalies"}, New: func(o Options) Workload { return newTxn("list-append", Lists, o) }},
		{Name: "lost-update", Summary: "read-modify-write increments", Reads: []string{"keys"}, New: func(o Options) Workload { return newLostUpdate(o) }},
		{Name: "register", Summary: "reads, writes and compare-and-sets of registers", Reads: []string{"keys", "cas"}, New: func(o Options) Workload { return newRegister(o) }},
		{Name: "rw-register", Summary: "transactions of writes and reads of registers (Elle)", Reads: []string{"keys", "consistency-models", "anomalies", "linearizable-keys", "sequential-keys", "wfr-keys"}, New: func(o Options) Workload { return newTxn("rw-register", Registers, o) }},
		{Name: "ryw", Summary: "each client writes its own key and reads it back", New: func(o Options) Workload { return newRYW(o) }},
		{Name: "set", Summary: "adds to sets, a final read after healing", Reads: []string{"keys"}, New: func(o Options) Workload { return newSet(o) }},
	}
}

// Names lists the workloads New knows, sorted.
func Names() []string {
	var names []string
	for _, r := range Workloads() {
		names = append(names, r.Name)
	}
	return names
}

// Help lists every workload with its summary.
func Help() string {
	var parts []string
	for _, r := range Workloads() {
		parts = append(parts, r.Name+" ("+r.Summary+")")
	}
	return strings.Join(parts, ", ")
}

// New returns the named workload. Its keys are prefixed with its name, so
// several workloads can run in one test without sharing keys.
func New(name string, opts Options) (Workload, error) {
	var c func(Options) Workload
	for _, r := range Workloads() {
		if r.Name == name {
			c = r.New
		}
	}
	if c == nil {
		return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if opts.Keys <= 0 {
		return nil, fmt.Errorf("workload %s: key count must be positive, got %d", name, opts.Keys)
	}
	return c(opts), nil
}

// KeyPrefix is the prefix of every key the named workload uses.
func KeyPrefix(workload string) string { return workload + ":" }

// uniqueValues hands out written values that are unique within a workload.
type uniqueValues struct{ next atomic.Int64 }

func (u *uniqueValues) take() int64 { return u.next.Add(1) }

// keyName is the i-th key of a workload.
func keyName(workload string, i int) string { return KeyPrefix(workload) + strconv.Itoa(i) }

// keyNames are the first n keys of a workload, made once so that drawing
// a key allocates nothing.
func keyNames(workload string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = keyName(workload, i)
	}
	return out
}

// needs reports a client lacking a workload's interface.
func needs(workload, iface string, c Client) error {
	return fmt.Errorf("workload %s needs a client with %s; the target's client (%T) does not have it", workload, iface, c)
}

// completeRead maps a read's outcome: a failed read had no effect.
func completeRead(v history.Value, err error) Completion {
	if err != nil {
		return Completion{Type: history.Fail, Error: errText(err)}
	}
	return Completion{Type: history.OK, Value: v}
}

// completeWrite maps a write's outcome: Definite errors are fail, any other
// error is info (the write may have happened).
func completeWrite(v history.Value, err error) Completion {
	switch {
	case err == nil:
		return Completion{Type: history.OK, Value: v}
	case IsDefinite(err):
		return Completion{Type: history.Fail, Value: v, Error: errText(err)}
	default:
		return Completion{Type: history.Info, Value: v, Error: errText(err)}
	}
}

func errText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// readValue turns a register read into a history value.
func readValue(v int64, found bool) history.Value {
	if !found {
		return history.Nil()
	}
	return history.Int(v)
}
