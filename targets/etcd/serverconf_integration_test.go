//go:build linux

package etcd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestServerConfigReachesMembers: a flag of the user's file is in force
// on every member: --quota-backend-bytes shows in each member's
// etcd_server_quota_backend_bytes metric (the default is 2 GiB).
func TestServerConfigReachesMembers(t *testing.T) {
	requireEnv(t)
	const quota = 123456789
	p := filepath.Join(t.TempDir(), "etcd.flags")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("# the team's etcd flags\n--quota-backend-bytes=%d\n--snapshot-count 5000\n", quota)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := serverconf.Load(p, serverconf.EtcdFlags)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := New(newConfig(t, Config{ServerConfig: f}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	d := dep.(*Deployment)
	want := fmt.Sprintf("etcd_server_quota_backend_bytes %g", float64(quota))
	for _, n := range d.nodes {
		url := fmt.Sprintf("http://%s:%d/metrics", d.lc.Addr(n), ClientPort)
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		if err != nil {
			rcancel()
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			rcancel()
			t.Fatalf("%s: %v", n, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		rcancel()
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "etcd_server_quota_backend_bytes ") {
				got = line
			}
		}
		if got != want {
			t.Errorf("%s: metric %q, want %q", n, got, want)
		}
	}
}
