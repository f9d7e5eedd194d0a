package workloads

import (
	"context"
	"errors"
)

// Client is a target's connection for one logical process. A target's
// client implements whichever of the workload interfaces below the database
// supports; a workload discovers them by type assertion and refuses, with a
// clear error, a client that lacks what it needs.
//
// Error semantics are the heart of an honest history. A method returns:
//   - nil: the operation happened (recorded ok);
//   - an error wrapped with Definite: the operation certainly had no
//     effect (recorded fail), e.g. "not enough replicas alive" before
//     anything was written, a serialization failure, a rejected request;
//   - any other error: the outcome is unknown (recorded info), e.g. a
//     timeout after the request was sent. Reads are the exception: a read
//     has no effect, so a failed read is always recorded fail.
type Client interface {
	Close() error
}

// NodeReporter is implemented by clients that know which node coordinated
// their last request; the node is recorded in the history.
type NodeReporter interface {
	LastNode() string
}

// ExtraReporter is implemented by clients that can say more about their
// last request than its node, e.g. why a read went to the node that
// served it (a read policy): LastExtra's entries go into the completion's
// history op Extra. It returns nil when there is nothing to say (no
// memory per op then); the map it returns is not modified afterwards.
type ExtraReporter interface {
	LastExtra() map[string]string
}

// RegisterClient reads, writes and compare-and-sets integer registers.
type RegisterClient interface {
	Client
	// Read returns the value of key, and found=false when it was never
	// written (the empty register).
	Read(ctx context.Context, key string) (value int64, found bool, err error)
	Write(ctx context.Context, key string, value int64) error
	// CAS sets key to new iff it currently holds old. swapped=false with a
	// nil error means the compare failed (nothing was written).
	CAS(ctx context.Context, key string, old, new int64) (swapped bool, err error)
}

// SetClient adds elements to a set and reads it whole.
type SetClient interface {
	Client
	Add(ctx context.Context, key string, element int64) error
	ReadSet(ctx context.Context, key string) ([]int64, error)
}

// CounterClient has native increments (Cassandra counters, Redis INCRBY).
// Without it the counter workload increments by read-modify-write on a
// RegisterClient.
type CounterClient interface {
	Client
	Increment(ctx context.Context, key string, delta int64) error
	ReadCounter(ctx context.Context, key string) (int64, error)
}

// RMWClient performs a read-modify-write on one key as one unit, in a
// transaction where the database has them (its isolation level decides
// whether two of them may both read the same version).
type RMWClient interface {
	Client
	// ReadModifyWrite reads key (found=false: never written) and writes
	// next(read), returning what it read and wrote.
	ReadModifyWrite(ctx context.Context, key string, next func(old int64, found bool) int64) (read int64, found bool, written int64, err error)
}

// errDefinite marks errors that prove an operation had no effect.
type errDefinite struct{ err error }

func (e errDefinite) Error() string { return e.err.Error() }
func (e errDefinite) Unwrap() error { return e.err }

// Definite wraps err to say the operation certainly had no effect, so it is
// recorded fail rather than info. Definite(nil) is nil.
func Definite(err error) error {
	if err == nil {
		return nil
	}
	return errDefinite{err}
}

// IsDefinite reports whether err (or an error it wraps) was marked with
// Definite.
func IsDefinite(err error) bool {
	var d errDefinite
	return errors.As(err, &d)
}

// Indefinite wraps err to drop a Definite mark it carries, for an error
// that proved no effect of one step of an operation whose earlier steps
// may have taken effect (a transaction with no atomicity). errors.Is and
// errors.As still find what err wraps, except the mark.
func Indefinite(err error) error {
	if err == nil || !IsDefinite(err) {
		return err
	}
	return indefinite{err}
}

// indefinite hides the Definite marks of err: it unwraps to the error
// under the outermost mark, and again while that error holds one.
type indefinite struct{ err error }

func (e indefinite) Error() string { return e.err.Error() }

func (e indefinite) Unwrap() error {
	inner := e.err
	for inner != nil && IsDefinite(inner) {
		var d errDefinite
		if errors.As(inner, &d) {
			inner = d.err
		}
	}
	return inner
}
