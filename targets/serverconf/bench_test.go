package serverconf

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParsePostgres parses a 1000-line postgresql.conf fragment.
func BenchmarkParsePostgres(b *testing.B) {
	var t strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&t, "setting_%d = 'value %d' # comment\n", i, i)
	}
	text := t.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse("b.conf", text, PostgresConf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeYAML merges 50 user keys into a 60-key cassandra.yaml.
func BenchmarkMergeYAML(b *testing.B) {
	var base, user strings.Builder
	for i := range 60 {
		fmt.Fprintf(&base, "key_%d: %d\n", i, i)
	}
	for i := range 50 {
		fmt.Fprintf(&user, "key_%d: %d\n", 2*i, -i)
	}
	f, err := Parse("u.yaml", user.String(), CassandraYAML)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := MergeYAML(base.String(), f); err != nil {
			b.Fatal(err)
		}
	}
}
