package reports

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// makeStore builds a store with two runs, a "latest" link, a directory
// that is not a run, and a secret file beside (outside) the store.
func makeStore(t *testing.T) (root, secret string) {
	t.Helper()
	parent := t.TempDir()
	root = filepath.Join(parent, "store")
	makeRun(t, filepath.Join(root, "sim-register", "20261125T200000"))
	fx := makeRun(t, "")
	fx.Test.Name = "sim-set"
	fx.Results.Verdict = "valid"
	fx.Results.Checks = fx.Results.Checks[:0]
	writeRun(t, filepath.Join(root, "sim-set", "20261125T210000"), fx)
	for _, l := range []struct{ target, link string }{
		{"20261125T210000", filepath.Join(root, "sim-set", "latest")},
		{filepath.Join("sim-set", "20261125T210000"), filepath.Join(root, "latest")},
	} {
		if err := os.Symlink(l.target, l.link); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "sim-set", "20261125T220000"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret = filepath.Join(parent, "secret.txt")
	if err := os.WriteFile(secret, []byte("TOP-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "sim-set", "escape.txt")); err != nil {
		t.Fatal(err)
	}
	return root, secret
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:8080"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServeIndex(t *testing.T) {
	root, _ := makeStore(t)
	h := NewServer(root)
	rec := get(t, h, "GET", "/")
	if rec.Code != 200 {
		t.Fatalf("index: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if n := strings.Count(body, `<tr class="run">`); n != 2 {
		t.Errorf("index lists %d runs, want 2 (latest links and directories without results skipped)", n)
	}
	iSet, iReg := strings.Index(body, "sim-set/20261125T210000/report.html"), strings.Index(body, "sim-register/20261125T200000/report.html")
	if iSet < 0 || iReg < 0 || iSet > iReg {
		t.Errorf("runs not listed newest first with links (sim-set at %d, sim-register at %d)", iSet, iReg)
	}
	for _, s := range []string{`<span class="pill invalid">invalid</span>`, `<span class="pill valid">valid</span>`, "1497", "sim"} {
		if !strings.Contains(body, s) {
			t.Errorf("index lacks %q", s)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("index CSP = %q", csp)
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("index has a script")
	}
	// An empty or missing store is not an error.
	if rec := get(t, NewServer(filepath.Join(t.TempDir(), "none")), "GET", "/"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "No runs yet") {
		t.Errorf("missing store: %d", rec.Code)
	}
}

func TestServeFilesAndOnTheFlyReport(t *testing.T) {
	root, _ := makeStore(t)
	h := NewServer(root)
	run := "/sim-register/20261125T200000/"
	rec := get(t, h, "GET", run+"report.html")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "INVALID") {
		t.Fatalf("generated report: %d", rec.Code)
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("generated report without CSP")
	}
	if _, err := os.Stat(filepath.Join(root, "sim-register", "20261125T200000", rundir.ReportFile)); err == nil {
		t.Error("serving wrote into the store")
	}
	if rec := get(t, h, "GET", run+"results.json"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"verdict"`) {
		t.Errorf("results.json: %d", rec.Code)
	}
	if rec := get(t, h, "GET", run+"history.jsonl"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("history.jsonl: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get(t, h, "GET", run+"linearizable-r1.html"); rec.Code != 200 || rec.Header().Get("Content-Security-Policy") != artifactCSP {
		t.Errorf("artifact: %d, CSP %q", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
	if rec := get(t, h, "GET", strings.TrimSuffix(run, "/")); rec.Code != http.StatusFound || !strings.HasSuffix(rec.Header().Get("Location"), "/report.html") {
		t.Errorf("run directory: %d → %q", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, h, "GET", "/sim-set/"); rec.Code != 404 {
		t.Errorf("directory listing: %d", rec.Code)
	}
	if rec := get(t, h, "GET", "/latest/results.json"); rec.Code != 200 {
		t.Errorf("latest link inside the store: %d", rec.Code)
	}
	if rec := get(t, h, "GET", "/sim-set/20261125T220000/report.html"); rec.Code != 404 {
		t.Errorf("report of a directory without results: %d", rec.Code)
	}
	if rec := get(t, h, "POST", "/"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestServeRefusesTraversal(t *testing.T) {
	root, secret := makeStore(t)
	srv := httptest.NewServer(NewServer(filepath.Join(root, "sim-set")))
	defer srv.Close()
	h := NewServer(root)
	base := filepath.Base(secret)
	for _, target := range []string{
		"/../" + base,
		"/sim-set/../../" + base,
		"/%2e%2e/" + base,
		"/sim-set/%2E%2E/%2e%2e/" + base,
		"/..%2f" + base,
		"/sim-set/escape.txt",
		"/..\\" + base,
	} {
		rec := get(t, h, "GET", target)
		if rec.Code == 200 || strings.Contains(rec.Body.String(), "TOP-SECRET") {
			t.Errorf("GET %s: %d %q", target, rec.Code, rec.Body.String())
		}
	}
	// Over a real connection too (the client does not clean the path).
	for _, target := range []string{"/../store/sim-register/20261125T200000/results.json", "/%2e%2e/secret.txt"} {
		req, err := http.NewRequest("GET", srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = target
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "TOP-SECRET") {
			t.Errorf("GET %s over HTTP: %d", target, resp.StatusCode)
		}
	}
}

func TestServeConfinesHistory(t *testing.T) {
	root, secret := makeStore(t)
	dir := filepath.Join(root, "sim-register", "20261125T200000")
	var res rundir.Results
	if err := rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &res); err != nil {
		t.Fatal(err)
	}
	res.History = secret
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
	rec := get(t, NewServer(root), "GET", "/sim-register/20261125T200000/report.html")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "outside the run directory") {
		t.Errorf("report with an outside history: %d", rec.Code)
	}
}

// A Host header that is not a loopback name nor the address the server
// was bound to is refused (421), whatever the path: a DNS-rebinding page
// in a local browser must not read the store.
func TestServeRefusesForeignHost(t *testing.T) {
	root, _ := makeStore(t)
	h := NewServer(root)
	for _, host := range []string{"evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io:8080", "", "10.1.2.3"} {
		for _, target := range []string{"/", "/sim-register/20261125T200000/results.json"} {
			req := httptest.NewRequest("GET", target, nil)
			req.Host = host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusMisdirectedRequest || strings.Contains(rec.Body.String(), "verdict") {
				t.Errorf("Host %q GET %s: %d, want %d", host, target, rec.Code, http.StatusMisdirectedRequest)
			}
		}
	}
	allowed := NewServer(root, AllowHosts("chaos.lan", "192.0.2.7"))
	for _, host := range []string{"chaos.lan:8080", "CHAOS.LAN.", "192.0.2.7:8080"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		allowed.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("allowed Host %q: %d, want 200", host, rec.Code)
		}
	}
	for _, host := range []string{"localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:9999", "[::1]:8080", "LOCALHOST:8080"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("Host %q: %d, want 200", host, rec.Code)
		}
	}
}

// Only the index and what run directories hold are served: other files
// of the store (beside runs, or in directories that are not runs) are not.
func TestServeOnlyRunDirectories(t *testing.T) {
	root, _ := makeStore(t)
	for _, f := range []string{"notarun/secret.txt", "secret.txt", "sim-set/stray.txt", "notarun/deeper/secret.txt"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("NOT-A-RUN"), 0o644); err != nil {
			t.Fatal(err)
		}
		rec := get(t, NewServer(root), "GET", "/"+f)
		if rec.Code != 404 || strings.Contains(rec.Body.String(), "NOT-A-RUN") {
			t.Errorf("GET /%s: %d, want 404", f, rec.Code)
		}
	}
	h := NewServer(root)
	for _, f := range []string{"/sim-register/20261125T200000/results.json", "/latest/results.json", "/sim-set/latest/test.json"} {
		if rec := get(t, h, "GET", f); rec.Code != 200 {
			t.Errorf("GET %s: %d, want 200", f, rec.Code)
		}
	}
}

// A suite directory (<suite>/<timestamp>/ with results.json, junit.xml
// and summary.html, its cells' runs inside) is listed as one suite row
// that links to its summary, not as a run of unknown verdict; the
// directory leads to the summary, and its cells' reports are served.
func TestServeListsSuites(t *testing.T) {
	root, _ := makeStore(t)
	suiteDir := filepath.Join(root, "cassandra-cl", "20261125T230000")
	makeRun(t, filepath.Join(suiteDir, "cl-ONE-none", "20261125T230001"))
	for f, body := range map[string]string{
		rundir.ResultsFile:      `{"schema_version":1,"suite":"cassandra-cl","start":"2026-11-25T23:00:00Z","held":8,"not_held":1,"not_run":0,"cells":[]}`,
		rundir.SuiteSummaryFile: `<!DOCTYPE html><title>suite</title>`,
		"junit.xml":             `<testsuites/>`,
	} {
		if err := os.WriteFile(filepath.Join(suiteDir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := NewServer(root)
	body := get(t, h, "GET", "/").Body.String()
	if n := strings.Count(body, `<tr class="run">`); n != 3 {
		t.Errorf("index lists %d rows, want 3 (two runs and one suite)", n)
	}
	for _, s := range []string{
		`href="/cassandra-cl/20261125T230000/summary.html"`,
		`<span class="pill invalid">not held</span>`,
		"8 held, 1 not held, 0 not run", "9 cells", "1 suite<",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("index lacks %q", s)
		}
	}
	if strings.Contains(body, `cassandra-cl/20261125T230000/report.html`) {
		t.Error("the suite is linked as a run's report")
	}
	if strings.Contains(body, "2 unknown") || strings.Contains(body, "1 unknown") {
		t.Error("the suite is counted as a run of unknown verdict")
	}
	rec := get(t, h, "GET", "/cassandra-cl/20261125T230000/")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/cassandra-cl/20261125T230000/summary.html" {
		t.Errorf("suite directory: %d to %q, want a redirect to its summary", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(t, h, "GET", "/cassandra-cl/20261125T230000/report.html"); rec.Code != 404 {
		t.Errorf("report of a suite directory: %d, want 404 (a suite has no report)", rec.Code)
	}
	for _, f := range []string{"/cassandra-cl/20261125T230000/summary.html", "/cassandra-cl/20261125T230000/cl-ONE-none/20261125T230001/report.html"} {
		if rec := get(t, h, "GET", f); rec.Code != 200 {
			t.Errorf("GET %s: %d, want 200", f, rec.Code)
		}
	}
}
