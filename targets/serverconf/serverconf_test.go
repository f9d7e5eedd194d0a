package serverconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
)

func TestParsePostgres(t *testing.T) {
	text := "# a comment\n\nsynchronous_commit = off   # trailing\nwork_mem 64MB\nSearch_Path = '\"$user\", public'\nlog_line_prefix='it''s %m '\n"
	f, err := Parse("my.conf", text, PostgresConf)
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Name: "synchronous_commit", Value: "off", Line: 3},
		{Name: "work_mem", Value: "64MB", Line: 4},
		{Name: "search_path", Value: `'"$user", public'`, Line: 5},
		{Name: "log_line_prefix", Value: `'it''s %m '`, Line: 6},
	}
	if len(f.Settings) != len(want) {
		t.Fatalf("settings %+v", f.Settings)
	}
	for i, w := range want {
		if f.Settings[i] != w {
			t.Errorf("setting %d = %+v, want %+v", i, f.Settings[i], w)
		}
	}
	if f.Text != text {
		t.Error("text not kept verbatim")
	}
	for _, bad := range []struct{ text, want string }{
		{"a = 1\nfsync\n", "my.conf:2: fsync has no value"},
		{"\n\nx = 'open\n", "my.conf:3: x: unterminated quoted value"},
		{"x = a b\n", "my.conf:1: x: unexpected \"b\""},
		{"= 3\n", "my.conf:1: expected a setting name"},
		{"include 'other.conf'\n", "my.conf:1: include is not supported"},
		{"1abc = 2\n", "my.conf:1: expected a setting name"},
	} {
		_, err := Parse("my.conf", bad.text, PostgresConf)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%q) = %v, want %q", bad.text, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func TestParseRedis(t *testing.T) {
	f, err := Parse("r.conf", "# c\nmaxmemory-policy allkeys-lru\nsave 900 1\nsave 300 10\nHZ 17\nnotify-keyspace-events \"Ex\"\n", RedisConf)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, s := range f.Settings {
		got = append(got, s.Name+"|"+s.Value+"|"+string(rune('0'+s.Line)))
	}
	want := "maxmemory-policy|allkeys-lru|2 save|900 1|3 save|300 10|4 hz|17|5 notify-keyspace-events|\"Ex\"|6"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	for _, bad := range []struct{ text, want string }{
		{"appendonly\n", "r.conf:1: appendonly has no value"},
		{"x \"open\n", "r.conf:1: unbalanced quotes"},
		{"x \"a\"b\n", "r.conf:1: a closing quote must be followed by a space"},
		{"\ninclude /etc/redis/other.conf\n", "r.conf:2: include is not supported"},
	} {
		if _, err := Parse("r.conf", bad.text, RedisConf); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%q) = %v, want %q", bad.text, err, bad.want)
		}
	}
}

func TestParseEtcd(t *testing.T) {
	f, err := Parse("e.flags", "# flags\n--heartbeat-interval=200\n--election-timeout 2000\n-unsafe-no-fsync\n--log-level='warn'\n", EtcdFlags)
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{{"heartbeat-interval", "200", 2}, {"election-timeout", "2000", 3}, {"unsafe-no-fsync", "true", 4}, {"log-level", "warn", 5}}
	for i, w := range want {
		if i >= len(f.Settings) || f.Settings[i] != w {
			t.Errorf("settings %+v, want %+v", f.Settings, want)
			break
		}
	}
	for _, bad := range []struct{ text, want string }{
		{"heartbeat-interval=200\n", "e.flags:1: expected a flag"},
		{"\n--a=\n", "e.flags:2: --a= has no value"},
		{"--a=1 --b=2\n", "e.flags:1: --a: one flag a line"},
	} {
		if _, err := Parse("e.flags", bad.text, EtcdFlags); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%q) = %v, want %q", bad.text, err, bad.want)
		}
	}
}

func TestYAML(t *testing.T) {
	user := "# overrides\nconcurrent_reads: 32\nphi_convict_threshold: 12\nrequest_timeout: 5000ms\nnew_list:\n  - a\n  - b\n"
	f, err := Parse("c.yaml", user, CassandraYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Settings) != 4 || f.Settings[0] != (Setting{"concurrent_reads", "32", 2}) || f.Settings[3].Name != "new_list" || f.Settings[3].Line != 5 || f.Settings[3].Value != "[a, b]" {
		t.Errorf("settings %+v", f.Settings)
	}
	base := "cluster_name: chaoscheck\nconcurrent_reads: 8\nrequest_timeout: 1000ms\nseed_provider:\n  - class_name: x\n"
	merged, err := MergeYAML(base, f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("merged", merged, CassandraYAML)
	if err != nil {
		t.Fatalf("merged YAML does not parse: %v\n%s", err, merged)
	}
	var names []string
	vals := map[string]string{}
	for _, s := range back.Settings {
		names = append(names, s.Name)
		vals[s.Name] = s.Value
	}
	if strings.Join(names, " ") != "cluster_name concurrent_reads request_timeout seed_provider phi_convict_threshold new_list" {
		t.Errorf("merged keys %v\n%s", names, merged)
	}
	if vals["concurrent_reads"] != "32" || vals["request_timeout"] != "5000ms" || vals["cluster_name"] != "chaoscheck" {
		t.Errorf("merged values %v", vals)
	}
	for _, bad := range []struct{ text, want string }{
		{"a: 1\nb: [\n", "c.yaml:"},
		{"a: 1\nb: 2\na: 3\n", "c.yaml:3: a is set twice (first at line 1)"},
		{"- a\n- b\n", "c.yaml:1: expected a mapping"},
	} {
		if _, err := Parse("c.yaml", bad.text, CassandraYAML); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Parse(%q) = %v, want %q", bad.text, err, bad.want)
		}
	}
	if f, err := Parse("empty.yaml", "# nothing\n", CassandraYAML); err != nil || len(f.Settings) != 0 {
		t.Errorf("comment-only YAML: %v %+v", err, f)
	}
}

func TestCheck(t *testing.T) {
	rules := []Rule{
		{Name: "port", Why: "the port clients connect to"},
		{Name: "cluster-announce-", Prefix: true, Why: "cluster wiring"},
		{Name: "wal_level", Why: "replication", Allowed: "replica or logical", Allow: func(v string) bool { return v == "replica" || v == "logical" }},
	}
	ok, _ := Parse("ok.conf", "wal_level = logical\nwork_mem = 4MB\n", PostgresConf)
	if err := ok.Check(rules); err != nil {
		t.Errorf("allowed settings refused: %v", err)
	}
	for _, c := range []struct{ text, want string }{
		{"work_mem = 4MB\nport = 6543\n", "--server-config f.conf:2: port is set by chaoscheck (the port clients connect to): remove it from the file"},
		{"wal_level = minimal\n", "--server-config f.conf:1: wal_level = minimal: chaoscheck needs replica or logical here (replication)"},
		{"\ncluster-announce-ip 1.2.3.4\n", "--server-config f.conf:2: cluster-announce-ip is set by chaoscheck (cluster wiring): remove it from the file"},
	} {
		format := PostgresConf
		if strings.Contains(c.text, "-") {
			format = RedisConf
		}
		f, err := Parse("f.conf", c.text, format)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Check(rules); err == nil || err.Error() != c.want {
			t.Errorf("Check(%q) = %v\nwant %s", c.text, err, c.want)
		}
	}
	var none *File
	if err := none.Check(rules); err != nil {
		t.Error(err)
	}
}

func TestMergeAndEffective(t *testing.T) {
	defaults := []Default{{"fsync", "on"}, {"synchronous_commit", "on"}, {"save", `""`}}
	f, _ := Parse("u.conf", "synchronous_commit = off\nwork_mem = 8MB\nsynchronous_commit = local\n", PostgresConf)
	got := Merge(defaults, f)
	want := []Default{{"fsync", "on"}, {"synchronous_commit", "off"}, {"synchronous_commit", "local"}, {"save", `""`}, {"work_mem", "8MB"}}
	if len(got) != len(want) {
		t.Fatalf("Merge = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Merge[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	eff := Effective(defaults, f)
	wantEff := []rundir.ConfigSetting{
		{Name: "fsync", Value: "on", Source: rundir.FromChaoscheck},
		{Name: "synchronous_commit", Value: "local", Source: rundir.FromUser, Line: 3, Default: "on"},
		{Name: "save", Value: `""`, Source: rundir.FromChaoscheck},
		{Name: "work_mem", Value: "8MB", Source: rundir.FromUser, Line: 2},
	}
	if len(eff) != len(wantEff) {
		t.Fatalf("Effective = %+v", eff)
	}
	for i := range wantEff {
		if eff[i] != wantEff[i] {
			t.Errorf("Effective[%d] = %+v, want %+v", i, eff[i], wantEff[i])
		}
	}
	if s, ok := f.Last("synchronous_commit"); !ok || s.Value != "local" {
		t.Errorf("Last = %+v %v", s, ok)
	}
	if got := Merge(defaults, nil); len(got) != 3 {
		t.Errorf("Merge without a file = %+v", got)
	}
	r, _ := Parse("r.conf", "save 900 1\nsave 60 100\n", RedisConf)
	if e := Effective([]Default{{"save", `""`}}, r); len(e) != 1 || e[0].Value != "900 1 | 60 100" || e[0].Line != 2 {
		t.Errorf("redis repeated directive: %+v", e)
	}
	rec := f.Record(eff)
	if rec.Text != f.Text || rec.File != "u.conf" || rec.Format != "postgresql.conf" {
		t.Errorf("Record = %+v", rec)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.conf")
	if err := os.WriteFile(p, []byte("hz 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p, RedisConf)
	if err != nil || len(f.Settings) != 1 {
		t.Fatalf("Load = %+v, %v", f, err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), RedisConf); err == nil || !strings.HasPrefix(err.Error(), "--server-config: ") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir, RedisConf); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := Parse("bin", "\xff\xfe", RedisConf); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("binary: %v", err)
	}
}
