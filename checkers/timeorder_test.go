package checkers

import (
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// Issue 10 case 9: histories of older Jepsen versions have times that go
// back by about 100 ns (each worker stamps its own time). The order of the
// history is the real-time order, so every checker must decide such a
// history exactly as it decides the same events with increasing times,
// instead of refusing it ("time goes back").
func TestTimesGoingBackDecideAsFileOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		checker Checker
		build   func(b *wkHist)
	}{
		{"counter", Counter{}, func(b *wkHist) {
			b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1))
			b.op(1, "read", "c", wkNil, history.OK, wkInt(10))
		}},
		{"set", &Set{}, func(b *wkHist) {
			b.op(0, "add", "s", wkInt(1), history.OK, wkNil)
			b.op(0, "add", "s", wkInt(2), history.OK, wkNil)
			b.op(1, "read", "s", wkNil, history.OK, history.Ints(1))
		}},
		{"session", &Session{}, func(b *wkHist) {
			b.op(0, "write", "k", wkInt(1), history.OK, wkNil)
			b.op(0, "read", "k", wkNil, history.OK, wkNil)
		}},
		{"lost-update", LostUpdate{}, func(b *wkHist) {
			b.inv(0, "rmw", "k", wkNil)
			b.inv(1, "rmw", "k", wkNil)
			b.end(0, history.OK, history.List(wkNil, wkInt(1)))
			b.end(1, history.OK, history.List(wkNil, wkInt(2)))
		}},
		{"linearizable", Linearizable{}, func(b *wkHist) {
			b.op(0, "write", "", wkInt(1), history.OK, wkNil)
			b.op(1, "read", "", wkNil, history.OK, wkInt(2))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mono := newWkHist()
			tc.build(mono)
			want := wkRun(t, tc.checker, mono)
			if want.Verdict != Invalid {
				t.Fatalf("with increasing times: %s (%s), want invalid", want.Verdict, want.Reason)
			}
			back := newWkHist()
			n := 0
			back.step = func() int64 {
				// 1000 ns a step, and 100 ns back at every third event.
				n++
				if n%3 == 0 {
					return -100
				}
				return 1000
			}
			tc.build(back)
			if err := back.h.Validate(); err != nil {
				t.Fatalf("history does not validate: %v", err)
			}
			got := wkRun(t, tc.checker, back)
			if got.Verdict != want.Verdict || len(got.AnomalyCounts) != len(want.AnomalyCounts) || strings.Contains(got.Reason, "goes back") {
				t.Fatalf("with times going back: %s %v (%s), want %s %v", got.Verdict, got.AnomalyCounts, got.Reason, want.Verdict, want.AnomalyCounts)
			}
			for k, c := range want.AnomalyCounts {
				if got.AnomalyCounts[k] != c {
					t.Fatalf("anomaly %s: %d, want %d", k, got.AnomalyCounts[k], c)
				}
			}
		})
	}
}
