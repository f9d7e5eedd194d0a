//go:build linux

package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/workloads"
)

var _ workloads.TxnClient = (*Client)(nil)

// txnScript runs a transaction's micro-ops, in order: KEYS[i] is the key
// of micro-op i, ARGV[2i-1] its f ("append", "w", "rl" a list read, "rr"
// a register read) and ARGV[2i] its value. It returns one array per
// micro-op: the list read (LRANGE; empty when the key does not exist),
// {value} or {} for a register read, {} for a write. The only calls are
// RPUSH, SET, LRANGE and GET on keys of their own type, which do not
// fail, so the script runs whole.
const txnScript = `local out = {}
for i = 1, #KEYS do
  local f, v = ARGV[2*i-1], ARGV[2*i]
  if f == 'append' then
    redis.call('RPUSH', KEYS[i], v)
    out[i] = {}
  elseif f == 'w' then
    redis.call('SET', KEYS[i], v)
    out[i] = {}
  elseif f == 'rl' then
    out[i] = redis.call('LRANGE', KEYS[i], 0, -1)
  else
    local x = redis.call('GET', KEYS[i])
    if x then out[i] = {x} else out[i] = {} end
  end
end
return out`

// txnKey names a transaction key. Every one carries the hash tag {txn},
// so that in Cluster mode all of them live in one slot, on one master,
// and one script can touch them all (Redis runs a script only on keys of
// one slot).
func txnKey(kind workloads.TxnKind, k int64) string {
	if kind == workloads.Registers {
		return fmt.Sprintf("{txn}:register:%d", k)
	}
	return fmt.Sprintf("{txn}:list:%d", k)
}

// Txn runs ops as one Lua script (EVAL) on the master of the {txn} slot
// (Replication mode: the primary). Redis runs a script atomically: no
// other command runs while it does, so transactions are serializable on
// that master, and strict serializable while it stays the master and
// keeps its data. Replication is asynchronous: a failover, or a master
// that restarts empty (no persistence), loses acknowledged transactions,
// which the checker then sees (Config.Wait only reports how many
// replicas had them). Lists are Redis lists (RPUSH, LRANGE); registers
// are strings (SET, GET).
//
// Errors: as for single writes (Classify), except that an error reply
// raised while the script ran is unknown (info), not Definite: Redis
// does not roll back a script's earlier writes.
func (c *Client) Txn(ctx context.Context, kind workloads.TxnKind, ops []workloads.MicroOp) error {
	keys := make([]string, len(ops))
	args := make([]any, 0, 2*len(ops))
	for i, op := range ops {
		keys[i] = txnKey(kind, op.Key)
		f := op.F
		switch {
		case f == "r" && kind == workloads.Lists:
			f = "rl"
		case f == "r":
			f = "rr"
		case f == "append" && kind == workloads.Lists, f == "w" && kind == workloads.Registers:
		default:
			return workloads.Definite(fmt.Errorf("redis: txn: micro-op %q on %s", op.F, kind))
		}
		args = append(args, f, strconv.FormatInt(op.Value, 10))
	}
	var ev *goredis.Cmd
	_, err := c.write(ctx, "txn", keys[0], func(p goredis.Cmdable) goredis.Cmder {
		ev = p.Eval(ctx, txnScript, keys, args...)
		return ev
	})
	if ev == nil || ev.Err() != nil {
		return scriptError(err)
	}
	reply, ok := ev.Val().([]any)
	if !ok || len(reply) != len(ops) {
		return fmt.Errorf("redis: txn: script reply %v, want %d arrays", ev.Val(), len(ops))
	}
	for i := range ops {
		if ops[i].F != "r" {
			continue
		}
		vals, ok := reply[i].([]any)
		if !ok {
			return fmt.Errorf("redis: txn: reply %d is %T, want an array", i, reply[i])
		}
		read := make([]int64, len(vals))
		for j, v := range vals {
			s, _ := v.(string)
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("redis: txn: reply %d holds %v, not an integer", i, v)
			}
			read[j] = n
		}
		ops[i].Read, ops[i].Found = read, len(read) > 0
	}
	// A WAIT that fell short: the transaction was applied.
	return err
}

// scriptError keeps Definite only the error replies that Redis gives
// before it runs a script (routing, cluster state, replication and
// memory checks); an error raised inside the script leaves its earlier
// writes in place, so its outcome is unknown.
func scriptError(err error) error {
	if err == nil || !workloads.IsDefinite(err) {
		return err
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return err // dial and pool errors: nothing was sent
	}
	msg := rerr.Error()
	for _, p := range []string{"MOVED", "ASK", "CLUSTERDOWN", "READONLY", "TRYAGAIN", "LOADING", "MASTERDOWN", "NOREPLICAS", "OOM", "CROSSSLOT", "BUSY", "NOSCRIPT"} {
		if strings.HasPrefix(msg, p) {
			return err
		}
	}
	return fmt.Errorf("redis: txn: the script failed while running, its earlier writes may stand: %w", workloads.Indefinite(err))
}
