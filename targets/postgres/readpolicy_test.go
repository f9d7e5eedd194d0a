//go:build linux

package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
)

func TestValidateMaxReplicaLag(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // "" valid
	}{
		{Config{ReadFrom: Replica, MaxReplicaLag: 10 * time.Millisecond}, ""},
		{Config{ReadFrom: Replica}, ""},
		{Config{MaxReplicaLag: 10 * time.Millisecond}, "needs --read-from replica"},
		{Config{ReadFrom: Any, MaxReplicaLag: 10 * time.Millisecond}, "needs --read-from replica"},
		{Config{ReadFrom: Replica, MaxReplicaLag: -time.Millisecond}, "positive"},
	} {
		c.cfg.Runtime = local.Runtime{}
		err := c.cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestLagOf(t *testing.T) {
	var s lagSampler
	t0 := time.Unix(1000, 0)
	// The primary's WAL at 1000, 2000, 3000 at 0, 100, 200 ms.
	for i, p := range []int64{1000, 2000, 3000} {
		s.ring.Add(t0.Add(time.Duration(i)*100*time.Millisecond), p)
	}
	now := t0.Add(200 * time.Millisecond)
	i64 := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name    string
		r       standbyRow
		want    *int64
		derived bool
	}{
		{"replay_lag plus the reply's age", standbyRow{replay: i64(5e6), back: i64(100), replyAge: i64(1e6)}, i64(6e6), false},
		{"caught up", standbyRow{replay: i64(5e6), back: i64(0), replyAge: i64(1e6)}, i64(0), false},
		{"caught up, NULL", standbyRow{back: i64(0)}, i64(0), false},
		{"NULL with bytes behind: the reply's age", standbyRow{back: i64(500), replyAge: i64(3e6)}, i64(3e6), false},
		{"NULL, no reply time: the ring's upper bound", standbyRow{back: i64(500)}, i64(100e6), true},
		{"NULL, no reply time, behind every round", standbyRow{back: i64(2500)}, nil, false},
		{"clocks disagree: the ring's lower bound", standbyRow{replay: i64(1e6), back: i64(1500), replyAge: i64(-5e6)}, i64(100e6), true},
		{"no replay position", standbyRow{}, nil, false},
	} {
		got, derived := s.lagOf(c.r, 3000, now)
		if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) || derived != c.derived {
			t.Errorf("%s: %v %v, want %v %v", c.name, ns(got), derived, ns(c.want), c.derived)
		}
	}
}
