package checkers

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// Issue 10, case 5: invalid wins over unknown, across keys. A proven
// anomaly on key a stays Invalid when key b could not be checked, and the
// reason names b.

func TestCounterInvalidKeyWinsOverOverflowingKey(t *testing.T) {
	b := newWkHist()
	b.op(0, "read", "a", wkNil, history.OK, wkInt(5)) // no increments on a
	b.op(1, "add", "b", wkInt(1<<62), history.OK, wkInt(1<<62))
	b.op(1, "add", "b", wkInt(1<<62), history.OK, wkInt(1<<62)) // b's sum overflows
	b.op(2, "read", "b", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	if k := wkFind(t, res, "counter-out-of-bounds").Key; k != "a" {
		t.Errorf("anomaly on key %q, want a", k)
	}
	wkContains(t, res.Reason, `"b"`, "overflows")
}

func TestCounterInvalidKeyWinsOverMalformedKey(t *testing.T) {
	b := newWkHist()
	b.op(0, "read", "a", wkNil, history.OK, wkInt(5))
	b.op(1, "read", "b", wkNil, history.OK, history.Str("five"))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	wkContains(t, res.Reason, `"b"`)
	// Without the anomaly, the malformed key makes the verdict Unknown.
	b = newWkHist()
	b.op(0, "add", "a", wkInt(1), history.OK, wkInt(1))
	b.op(0, "read", "a", wkNil, history.OK, wkInt(1))
	b.op(1, "read", "b", wkNil, history.OK, history.Str("five"))
	res = wkRun(t, Counter{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, `"b"`)
}

func TestSetInvalidKeyWinsOverMalformedKey(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "a", wkInt(1), history.OK, wkInt(1))
	b.op(1, "read", "a", wkNil, history.OK, wkInts()) // acknowledged add lost
	b.op(0, "add", "b", wkInt(2), history.OK, wkInt(2))
	b.op(1, "read", "b", wkNil, history.OK, history.Str("garbage")) // malformed read
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost": 1})
	if k := wkFind(t, res, "lost").Key; k != "a" {
		t.Errorf("anomaly on key %q, want a", k)
	}
	wkContains(t, res.Reason, `"b"`)
}

func TestSessionInvalidKeyWinsOverMalformedKey(t *testing.T) {
	b := newWkHist()
	b.op(0, "write", "a", wkInt(1), history.OK, wkInt(1))
	b.op(0, "read", "a", wkNil, history.OK, wkNil) // read-your-writes on a
	b.op(1, "read", "b", wkNil, history.OK, history.Str("x"))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"read-your-writes": 1})
	wkContains(t, res.Reason, `"b"`)
}

func TestLostUpdateInvalidKeyWinsOverMalformedKey(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "a", wkNil, 1, history.OK)
	wkRMW(b, 1, "a", wkNil, 2, history.OK) // both read nil: lost update on a
	b.op(2, "rmw", "b", wkNil, history.OK, wkInt(3))
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost-update": 1})
	wkContains(t, res.Reason, `"b"`)
}

// Same class as issue 10, case 1, per key: a counter key with adds but no
// ok read was never checked, so the verdict is Unknown (as the set
// checker says of an unread key), naming it; an anomaly elsewhere still
// wins.
func TestCounterUnreadKeyIsUnknown(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "a", wkInt(1), history.OK, wkInt(1))
	b.op(1, "read", "a", wkNil, history.OK, wkInt(1))
	b.op(0, "add", "b", wkInt(1), history.OK, wkInt(1))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, `"b"`, "no ok read")
	b.op(1, "read", "a", wkNil, history.OK, wkInt(7))
	wkWant(t, wkRun(t, Counter{}, b), Invalid, map[string]int{"counter-out-of-bounds": 1})
}
