package workloads

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// hotKeyMinKeys is the least number of cold keys of the hotkey workload:
// enough distinct keys that a sharded database spreads them over all its
// shards, so the hot key stands out against a background load.
const hotKeyMinKeys = 20

// hotkey: the set workload with a skewed key choice. A fraction
// Options.HotFraction of operations go to one hot key, the rest to
// max(Options.Keys, 20) cold keys, uniformly. Every key is a grow-only set
// of unique elements (adds, occasional reads, a final read of every key),
// judged by checkers.Set, so the workload measures load skew (the
// measures.Load of the run) without giving up a correctness check.
//
// Key salting: with Options.Salt = N > 0 the hot key is stored as N
// shards, HotKey+":0" .. HotKey+":N-1". An add of element e goes to shard
// e mod N (element values are unique and consecutive, so adds spread evenly
// over the shards, and the shard of every element is known from the
// history alone); a read of the hot key reads every shard, one at a time,
// and returns their union. The read is not atomic, but a grow-only set
// needs no atomicity: an element known to be in its shard before the read
// began is in that shard when the read reaches it, so the set checker's
// lost, unexpected and stale-read verdicts stay sound for the union.
//
// What the history records: operations on the hot key are recorded under
// the logical key (HotKey), never under a shard, so the set checker judges
// the hot key as one set; the element is the value, as in the set
// workload. The shard an add went to follows from the element (e mod N).
// The node the runner records (NodeReporter) is the node that served the
// add's shard; for a union read it is the node that served the last shard
// read. Union reads start at a different shard each time (rotating), so
// that attribution is spread evenly instead of always naming the node of
// one shard; the servers' own counts (measures.Load.ServerSide) show the
// real fan-out.
type hotKey struct {
	opts   Options
	values uniqueValues
	cold   int     // number of cold keys
	hot    float64 // HotFraction clamped to [0, 1]
	salt   int     // 0: no salting
}

// HotKeyName is the logical name of the hotkey workload's hot key.
func HotKeyName() string { return KeyPrefix("hotkey") + "hot" }

// HotKeyShard is the name of shard i of the salted hot key.
func HotKeyShard(i int) string { return fmt.Sprintf("%s:%d", HotKeyName(), i) }

func newHotKey(o Options) *hotKey {
	w := &hotKey{opts: o, cold: max(o.Keys, hotKeyMinKeys), hot: o.HotFraction, salt: max(o.Salt, 0)}
	switch {
	case w.hot < 0 || math.IsNaN(w.hot):
		w.hot = 0
	case w.hot > 1:
		w.hot = 1
	}
	return w
}

func (w *hotKey) Name() string { return "hotkey" }

func (w *hotKey) NewWorker(c Client) (Worker, error) {
	sc, ok := c.(SetClient)
	if !ok {
		return nil, needs(w.Name(), "Add/ReadSet (SetClient)", c)
	}
	return &hotKeyWorker{w: w, c: sc}, nil
}

func (w *hotKey) Checkers(CheckOptions) []checkers.Checker {
	return []checkers.Checker{&checkers.Set{}}
}

// FinalInvocations reads every cold key and the hot key (the union of its
// shards when salted).
func (w *hotKey) FinalInvocations() []Invocation {
	out := make([]Invocation, 0, w.cold+1)
	out = append(out, Invocation{F: "read", Key: HotKeyName()})
	for i := range w.cold {
		out = append(out, Invocation{F: "read", Key: keyName(w.Name(), i)})
	}
	return out
}

// shardOf is the storage key of element e added to the logical key.
func (w *hotKey) shardOf(key string, e int64) string {
	if key != HotKeyName() || w.salt == 0 {
		return key
	}
	return HotKeyShard(int(uint64(e) % uint64(w.salt)))
}

type hotKeyWorker struct {
	w *hotKey
	c SetClient
	// reads counts this worker's union reads: each starts at the next
	// shard.
	reads int
}

func (hw *hotKeyWorker) Next(rng *rand.Rand) Invocation {
	key := HotKeyName()
	if rng.Float64() >= hw.w.hot {
		key = keyName(hw.w.Name(), rng.IntN(hw.w.cold))
	}
	if rng.IntN(10) == 0 {
		return Invocation{F: "read", Key: key}
	}
	return Invocation{F: "add", Key: key, Value: history.Int(hw.w.values.take())}
}

func (hw *hotKeyWorker) Do(ctx context.Context, inv Invocation) Completion {
	switch inv.F {
	case "add":
		e, ok := inv.Value.AsInt()
		if !ok {
			return Completion{Type: history.Fail, Error: "add without an integer element"}
		}
		return completeWrite(inv.Value, hw.c.Add(ctx, hw.w.shardOf(inv.Key, e), e))
	case "read":
		es, err := hw.read(ctx, inv.Key)
		return completeRead(history.Ints(es...), err)
	}
	return Completion{Type: history.Fail, Error: "unknown f " + inv.F}
}

// read reads a key; the salted hot key is the sorted union of its shards.
// Any shard failing fails the read.
func (hw *hotKeyWorker) read(ctx context.Context, key string) ([]int64, error) {
	if key != HotKeyName() || hw.w.salt == 0 {
		return hw.c.ReadSet(ctx, key)
	}
	n := hw.w.salt
	start := hw.reads % n
	hw.reads++
	var out []int64
	for j := range n {
		shard := HotKeyShard((start + j) % n)
		es, err := hw.c.ReadSet(ctx, shard)
		if err != nil {
			return nil, fmt.Errorf("read shard %s of %s: %w", shard, key, err)
		}
		out = append(out, es...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
