package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"": FormatAuto, "auto": FormatAuto, "jsonl": FormatJSONL, "JSONL": FormatJSONL,
		"edn": FormatEDN, "jepsen-log": FormatJepsenLog,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "jepsen-log") {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	if FormatAuto.String() != "auto" || FormatEDN.String() != "edn" {
		t.Error("Format.String")
	}
}

func TestDetectFormat(t *testing.T) {
	for in, want := range map[string]Format{
		`{"index":0}`:                           FormatJSONL,
		"\n\n  {\n  \"index\": 0":               FormatJSONL,
		"\xef\xbb\xbf{\"index\":0}":             FormatJSONL,
		`{:index 0}`:                            FormatEDN,
		`{ :type :ok}`:                          FormatEDN,
		"[\n{:index 0}":                         FormatEDN,
		"(":                                     FormatEDN,
		"; comment":                             FormatEDN,
		"#jepsen.history.Op{:index 0}":          FormatEDN,
		"INFO  jepsen.util - 3\t:invoke\t:read": FormatJepsenLog,
		"3\t:invoke\t:read\tnil":                FormatJepsenLog,
		":nemesis  :info  :start  nil":          FormatJepsenLog,
		"INFO  jepsen.core - setup\nINFO  jepsen.util - 3\t:ok\t:read\t1": FormatJepsenLog,
	} {
		got, err := DetectFormat([]byte(in))
		if err != nil || got != want {
			t.Errorf("DetectFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := DetectFormat([]byte(" \n\t\n")); !errors.Is(err, ErrEmptyHistory) {
		t.Errorf("blank: %v", err)
	}
	for _, in := range []string{"hello world", "{}", "3 :done :read nil", "#!"} {
		if _, err := DetectFormat([]byte(in)); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("DetectFormat(%q) = %v, want ErrUnknownFormat", in, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// jsonl, detected, with a truncated last line.
	data := string(jsonl(t, registerHistory()))
	path := write("h.jsonl", data+`{"index":10,"ti`)
	h, info, err := Load(path, FormatAuto)
	if err != nil || len(h.Ops) != 10 || !info.Truncated || info.TruncatedLine != 11 {
		t.Fatalf("jsonl: %v, info %+v", err, info)
	}

	// An explicit format wins over detection.
	if _, _, err := Load(path, FormatEDN); err == nil || !strings.HasPrefix(err.Error(), path+": history: edn line 1") {
		t.Fatalf("jsonl read as edn: %v", err)
	}

	// Empty files and files without ops.
	for _, content := range []string{"", "\n\n  \n"} {
		path := write("empty", content)
		for _, f := range []Format{FormatAuto, FormatJSONL, FormatEDN, FormatJepsenLog} {
			_, _, err := Load(path, f)
			if !errors.Is(err, ErrEmptyHistory) || err.Error() != "history: "+path+": empty history" {
				t.Fatalf("%q as %s: %v", content, f, err)
			}
		}
	}
	path = write("noops.log", "INFO  jepsen.util - nothing here\n")
	if _, _, err := Load(path, FormatAuto); !errors.Is(err, ErrEmptyHistory) || !strings.Contains(err.Error(), "no operations in 1 lines of jepsen-log") {
		t.Fatalf("no ops: %v", err)
	}

	// Undetectable content.
	path = write("notes.txt", "hello\nworld\n")
	_, _, err = Load(path, FormatAuto)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrUnknownFormat) ||
		!strings.Contains(err.Error(), "cannot detect history format of "+path+"; name it with --format") {
		t.Fatalf("undetectable: %v", err)
	}

	if _, _, err := Load(filepath.Join(dir, "missing"), FormatAuto); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := Read(strings.NewReader("{}"), Format("xml")); err == nil {
		t.Fatal("unknown format accepted")
	}
}
