//go:build linux

package cassandra

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestYAMLDefaults: the template renders to defaults that leave out
// every node-specific (controlled) key, and a node's cassandra.yaml takes
// the user's keys.
func TestYAMLDefaults(t *testing.T) {
	c := Config{}
	c.defaults()
	d, err := c.yamlDefaults()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, s := range d {
		names[s.Name] = s.Value
	}
	if names["concurrent_reads"] != "8" || names["phi_convict_threshold"] != "5" {
		t.Errorf("defaults %v", names)
	}
	for _, k := range []string{"listen_address", "seed_provider", "data_file_directories", "cluster_name", "initial_token", "commitlog_sync"} {
		if _, ok := names[k]; ok {
			t.Errorf("defaults list the controlled key %s", k)
		}
	}
	f, err := serverconf.Parse("c.yaml", "concurrent_reads: 32\nread_request_timeout: 5000ms\n", serverconf.CassandraYAML)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nf := filesOf(dir, "n1")
	files, err := nodeConfigFiles(nf, yamlParams{Node: "n1", InitialToken: "0", Seeds: "10.0.0.1:7000", Addr: netip.MustParseAddr("10.0.0.1"), Dir: nf.dir, CommitlogSync: "batch", ServerTimeoutMS: 1000, User: f}, "dc1")
	if err != nil {
		t.Fatal(err)
	}
	y := fileData(t, files, nf.yaml)
	if !strings.Contains(string(y), "concurrent_reads: 32\n") || strings.Contains(string(y), "concurrent_reads: 8") ||
		!strings.Contains(string(y), "read_request_timeout: 5000ms") || !strings.Contains(string(y), "listen_address: 10.0.0.1") {
		t.Errorf("merged cassandra.yaml:\n%s", y)
	}
	for text, refused := range map[string]bool{
		"listen_address: 1.2.3.4\n":  true,
		"rpc_interface: eth0\n":      true,
		"commitlog_sync: periodic\n": true,
		"authenticator: Password\n":  true,
		"num_tokens: 16\n":           true,
		"concurrent_writes: 64\n":    false,
	} {
		f, err := serverconf.Parse("f.yaml", text, serverconf.CassandraYAML)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ServerConfig: f})
		if (err != nil) != refused {
			t.Errorf("%q: New = %v, want refused %v", text, err, refused)
		}
	}
}
