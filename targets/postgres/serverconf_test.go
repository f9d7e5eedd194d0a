//go:build linux

package postgres

import (
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// TestServerConfDefaults: chaoscheck's own settings parse (confDefaults
// panics otherwise) and none of them is a setting the rules refuse with
// its own value.
func TestServerConfDefaults(t *testing.T) {
	d := confDefaults()
	if len(d) < 10 || d[0].Name != "wal_level" {
		t.Fatalf("defaults %+v", d)
	}
	var text strings.Builder
	for _, s := range d {
		text.WriteString(s.Name + " = " + s.Value + "\n")
	}
	f, err := serverconf.Parse("defaults", text.String(), serverconf.PostgresConf)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(ServerConfigRules); err != nil {
		t.Errorf("chaoscheck's own settings are refused: %v", err)
	}
}

// TestConfText: the user's settings replace chaoscheck's of the same name
// in place (the server takes the last line of a name, so the user's
// wins), the others follow, and effective reads the merged value.
func TestConfText(t *testing.T) {
	f, err := serverconf.Parse("team.conf", "synchronous_commit = off\nwork_mem = '8MB'\n", serverconf.PostgresConf)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Replication: Sync, ServerConfig: f}
	text := c.confText()
	if strings.Contains(text, "synchronous_commit = on") || !strings.Contains(text, "synchronous_commit = off") || !strings.Contains(text, "work_mem = '8MB'") {
		t.Errorf("merged conf:\n%s", text)
	}
	if !strings.Contains(text, "--server-config team.conf") || !strings.Contains(text, "wal_level = replica") {
		t.Errorf("merged conf lacks the header or a default:\n%s", text)
	}
	if c.effective("synchronous_commit") != "off" || c.waitsForStandby() {
		t.Errorf("effective synchronous_commit %q, waits %v", c.effective("synchronous_commit"), c.waitsForStandby())
	}
	if d := (Config{}); d.effective("synchronous_commit") != "on" || !d.waitsForStandby() || strings.Contains(d.confText(), "server-config") {
		t.Errorf("defaults: synchronous_commit %q", d.effective("synchronous_commit"))
	}
	tg, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	rec := tg.ServerConfig()
	if rec == nil || rec.Text != f.Text || rec.Format != "postgresql.conf" {
		t.Fatalf("record %+v", rec)
	}
	var sc rundir.ConfigSetting
	for _, e := range rec.Effective {
		if e.Name == "synchronous_commit" {
			sc = e
		}
	}
	if sc.Value != "off" || sc.Source != rundir.FromUser || sc.Line != 1 || sc.Default != "on" {
		t.Errorf("effective synchronous_commit %+v", sc)
	}
}

// TestServerConfigRules: Validate refuses the controlled settings and
// accepts allowed values of the constrained ones.
func TestServerConfigRules(t *testing.T) {
	for text, refused := range map[string]bool{
		"listen_addresses = '*'\n":                  true,
		"unix_socket_directories = '/tmp'\n":        true,
		"hba_file = '/etc/pg_hba.conf'\n":           true,
		"synchronous_standby_names = 'n2'\n":        true,
		"recovery_target_time = 'x'\n":              true,
		"wal_level = minimal\n":                     true,
		"wal_level = logical\n":                     false,
		"hot_standby = off\n":                       true,
		"hot_standby = on\n":                        false,
		"max_wal_senders = 4\n":                     true,
		"max_wal_senders = 32\n":                    false,
		"fsync = off\nsynchronous_commit = local\n": false,
	} {
		f, err := serverconf.Parse("f.conf", text, serverconf.PostgresConf)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ServerConfig: f})
		if (err != nil) != refused {
			t.Errorf("%q: New = %v, want refused %v", text, err, refused)
		}
	}
}
