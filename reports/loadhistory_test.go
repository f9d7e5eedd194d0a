package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report says everything the reader noticed about the history: a cut
// last line and times that go back (issue 10 cases 9 and 10).
func TestLoadHistoryNotesReaderWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.edn")
	edn := `{:type :invoke, :f :write, :value 1, :process 0, :time 1000}
{:type :invoke, :f :read, :value nil, :process 1, :time 900}
{:type :ok, :f :write, :value 1, :process 0, :time 1500}
{:type :ok, :f :read, :value 1`
	if err := os.WriteFile(path, []byte(edn), 0o644); err != nil {
		t.Fatal(err)
	}
	h, note, err := LoadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 3 || !strings.Contains(note, "history.edn") || !strings.Contains(note, "cut short at line 4") || !strings.Contains(note, "times go back") {
		t.Fatalf("%d ops, note %q", len(h.Ops), note)
	}
}
