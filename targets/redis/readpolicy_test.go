//go:build linux

package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
)

func TestValidateReadPolicy(t *testing.T) {
	ms := 10 * time.Millisecond
	for _, c := range []struct {
		cfg  Config
		want string // "" valid
	}{
		{Config{Mode: Replication, ReadFrom: Replica, MaxReplicaLag: ms}, ""},
		{Config{Mode: Replication, ReadFrom: Replica}, ""},
		{Config{Mode: Replication, MaxReplicaLag: ms}, "needs --read-from replica"},
		{Config{Mode: Cluster, ReadFrom: Replica}, "replication"},
		{Config{Mode: Cluster, MaxReplicaLag: ms}, "replication"},
		{Config{Mode: Replication, ReadFrom: Replica, MaxReplicaLag: -ms}, "positive"},
	} {
		c.cfg.Runtime = local.Runtime{}
		err := c.cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, err := ParseReadFrom("any"); err == nil {
		t.Errorf("read-from any accepted")
	}
}
