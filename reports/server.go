package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// maxIndexRuns caps the runs the index page reads and lists.
const maxIndexRuns = 2000

// maxRenders bounds the reports generated at once by a server.
const maxRenders = 2

// Content-Security-Policy of the pages this package generates: no script
// at all, styles inline only.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Content-Security-Policy of other HTML files of a run (porcupine's
// visualizations, which need their own scripts): sandboxed into an opaque
// origin, so they cannot reach the rest of the store.
const artifactCSP = "sandbox allow-scripts"

// server serves a store of runs read-only.
type server struct {
	root    string
	renders chan struct{}
	runs    runCache
	// hosts are the Host names accepted besides the loopback ones
	// (lower case, IPs in canonical form).
	hosts map[string]bool
}

// ServerOption configures NewServer.
type ServerOption func(*server)

// AllowHosts adds host names or IP addresses (without port) that requests
// may name in their Host header, besides the loopback names localhost,
// 127.0.0.0/8 and ::1, which are always accepted: typically the address
// the server is bound to. Requests naming any other host get 421.
func AllowHosts(hosts ...string) ServerOption {
	return func(s *server) {
		for _, h := range hosts {
			if h = normalHost(h); h != "" {
				s.hosts[h] = true
			}
		}
	}
}

// normalHost lowercases a host name, drops a trailing dot and IPv6
// brackets, and puts IP addresses in canonical form ("" if empty).
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	return h
}

// hostAllowed reports whether the Host header (host or host:port) names
// a loopback address, localhost, or one of the allowed hosts. It is what
// stops DNS rebinding: a page of evil.example whose name was re-pointed at
// 127.0.0.1 still sends Host: evil.example.
func (s *server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normalHost(host)
	if host == "" {
		return false
	}
	if host == "localhost" || s.hosts[host] {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// runCache keeps the index rows of runs, valid while their results.json
// and test.json are unchanged, so that the index does not decode every
// run's results on every request.
type runCache struct {
	mu sync.Mutex
	m  map[string]cachedRun
}

type cachedRun struct {
	res, test fileStamp
	row       runRow
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{st.ModTime(), st.Size()}
}

// row returns the index row of the run in dir, from the cache when its
// files did not change.
func (c *runCache) row(dir, name, stamp string) runRow {
	res, test := stampOf(filepath.Join(dir, rundir.ResultsFile)), stampOf(filepath.Join(dir, rundir.TestFile))
	c.mu.Lock()
	cr, ok := c.m[dir]
	c.mu.Unlock()
	if ok && cr.res == res && cr.test == test {
		return cr.row
	}
	row := readRun(dir, name, stamp)
	c.mu.Lock()
	if c.m == nil || len(c.m) > 2*maxIndexRuns {
		c.m = make(map[string]cachedRun)
	}
	c.m[dir] = cachedRun{res: res, test: test, row: row}
	c.mu.Unlock()
	return row
}

// NewServer returns a handler serving the store at storeRoot read-only: an
// index of the runs at /, newest first, and the files that run
// directories hold (see servable); nothing else of the store. Paths with
// ".." are refused, and nothing outside storeRoot is reachable, symbolic
// links included. A run's report.html that does not exist yet is
// generated on the fly (in memory: the store is not written). Requests
// whose Host header names neither a loopback address nor a host of
// AllowHosts are refused with 421 Misdirected Request.
func NewServer(storeRoot string, opts ...ServerOption) http.Handler {
	s := &server{root: storeRoot, renders: make(chan struct{}, maxRenders), hosts: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !s.hostAllowed(r.Host) {
		http.Error(w, "misdirected request: this server answers only to localhost and the address it listens on", http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the store is read-only", http.StatusMethodNotAllowed)
		return
	}
	name, ok := cleanPath(r.URL)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	if name == "." {
		s.index(w, r)
		return
	}
	s.file(w, r, name)
}

// cleanPath returns the store-relative name of the request, refusing any
// ".." segment (decoded or not), backslashes and NUL bytes.
func cleanPath(u *url.URL) (string, bool) {
	for _, p := range []string{u.Path, u.EscapedPath()} {
		if strings.ContainsAny(p, "\\\x00") {
			return "", false
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || strings.EqualFold(seg, "%2e%2e") {
				return "", false
			}
		}
	}
	name := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
	if name == "" {
		return ".", true
	}
	if !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}

// file serves one file of the store.
func (s *server) file(w http.ResponseWriter, r *http.Request, name string) {
	root, err := os.OpenRoot(s.root)
	if err != nil {
		http.Error(w, "store not readable", http.StatusInternalServerError)
		return
	}
	defer root.Close()
	if !servable(root, name) {
		http.NotFound(w, r)
		return
	}
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && path.Base(name) == rundir.ReportFile {
			s.generate(w, r, root, path.Dir(name))
			return
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if st.IsDir() {
		// No listings: a run directory leads to its report, a suite
		// directory to its summary.
		if isSuiteDir(root, name) {
			http.Redirect(w, r, "/"+escapePath(path.Join(name, rundir.SuiteSummaryFile)), http.StatusFound)
			return
		}
		if _, err := root.Stat(path.Join(name, rundir.ResultsFile)); err == nil {
			http.Redirect(w, r, "/"+escapePath(path.Join(name, rundir.ReportFile)), http.StatusFound)
			return
		}
		http.NotFound(w, r)
		return
	}
	if !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	setPageHeaders(w, name)
	http.ServeContent(w, r, path.Base(name), st.ModTime(), f)
}

// servable reports whether name is a run directory or lies below one. A
// run directory is a directory of the store, one or two levels down
// (<name>/<timestamp>, or a link such as latest or <name>/latest, followed
// within the store), that holds test.json or results.json. Files beside
// the runs, or in directories that are not runs, are not served.
func servable(root *os.Root, name string) bool {
	segs := strings.Split(name, "/")
	for k := 1; k <= 2 && k <= len(segs); k++ {
		if isRunDir(root, path.Join(segs[:k]...)) {
			return true
		}
	}
	return false
}

// isRunDir reports whether dir (store-relative) is a directory holding
// test.json or results.json.
func isRunDir(root *os.Root, dir string) bool {
	for _, f := range []string{rundir.TestFile, rundir.ResultsFile} {
		if st, err := root.Stat(path.Join(dir, f)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// isSuiteDir reports whether dir (store-relative) is a suite directory:
// it holds the suite's summary page and no test.json.
func isSuiteDir(root *os.Root, dir string) bool {
	if st, err := root.Stat(path.Join(dir, rundir.SuiteSummaryFile)); err != nil || !st.Mode().IsRegular() {
		return false
	}
	_, err := root.Stat(path.Join(dir, rundir.TestFile))
	return errors.Is(err, fs.ErrNotExist)
}

// setPageHeaders sets the content type and policy of a served file.
func setPageHeaders(w http.ResponseWriter, name string) {
	h := w.Header()
	switch ext := strings.ToLower(path.Ext(name)); {
	case path.Base(name) == rundir.ReportFile:
		h.Set("Content-Security-Policy", pageCSP)
	case ext == ".html" || ext == ".htm" || ext == ".svg" || ext == ".xhtml":
		h.Set("Content-Security-Policy", artifactCSP)
	case ext == ".jsonl" || ext == ".edn" || ext == ".log":
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
}

// generate renders the report of the run directory dir, which has no
// report.html, and serves it.
func (s *server) generate(w http.ResponseWriter, r *http.Request, root *os.Root, dir string) {
	if _, err := root.Stat(path.Join(dir, rundir.ResultsFile)); err != nil || isSuiteDir(root, dir) {
		http.NotFound(w, r)
		return
	}
	select {
	case s.renders <- struct{}{}:
		defer func() { <-s.renders }()
	case <-r.Context().Done():
		return
	case <-time.After(2 * time.Minute):
		http.Error(w, "too many reports being generated; try again", http.StatusServiceUnavailable)
		return
	}
	in, err := loadRun(filepath.Join(s.root, filepath.FromSlash(dir)), "", true)
	if err != nil {
		http.Error(w, "cannot generate the report: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := Render(&buf, in); err != nil {
		http.Error(w, "cannot generate the report: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, rundir.ReportFile, time.Time{}, bytes.NewReader(buf.Bytes()))
}

// runRow is one run of the index, or one suite run (Suite: its cells'
// runs are listed on its summary page, not here).
type runRow struct {
	Name, Stamp, Time, Target, Workloads, Verdict, Anomalies, Href string
	// Pill is the style of the verdict: the verdict of a run; for a
	// suite, valid when every cell held, invalid when one did not.
	Pill  string
	Suite bool
	Ops   int
	Err   string
	when  time.Time
}

type indexView struct {
	Root string
	Runs []runRow
	More int
	// Counts are the runs by verdict; Suites the suite rows.
	Counts    map[string]int
	Suites    int
	Generated string
}

// index serves the list of runs.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	t, err := indexTmpl()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	runs, more, err := listRuns(s.root, &s.runs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "cannot list the store: "+err.Error(), http.StatusInternalServerError)
		return
	}
	v := indexView{Root: s.root, Runs: runs, More: more, Counts: map[string]int{}}
	for _, run := range runs {
		if run.Suite {
			v.Suites++
			continue
		}
		v.Counts[run.Verdict]++
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		http.Error(w, "cannot render the index: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// listRuns finds the runs of the store at root (directories
// <name>/<timestamp>/ holding results.json; symbolic links such as
// "latest" are skipped), newest first, reading at most maxIndexRuns of
// them; more is how many were left out.
func listRuns(root string, cache *runCache) (runs []runRow, more int, err error) {
	names, err := os.ReadDir(root)
	if err != nil {
		return nil, 0, fmt.Errorf("list store: %w", err)
	}
	type cand struct{ name, stamp string }
	var cands []cand
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		stamps, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			continue
		}
		for _, st := range stamps {
			if !st.IsDir() || strings.HasPrefix(st.Name(), ".") {
				continue
			}
			cands = append(cands, cand{n.Name(), st.Name()})
		}
	}
	// Timestamps sort lexically; read the newest first.
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].stamp != cands[j].stamp {
			return cands[i].stamp > cands[j].stamp
		}
		return cands[i].name < cands[j].name
	})
	for _, c := range cands {
		dir := filepath.Join(root, c.name, c.stamp)
		if _, err := os.Stat(filepath.Join(dir, rundir.ResultsFile)); err != nil {
			continue
		}
		if len(runs) >= maxIndexRuns {
			more++
			continue
		}
		runs = append(runs, cache.row(dir, c.name, c.stamp))
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].when.After(runs[j].when) })
	return runs, more, nil
}

// readRun summarizes one run directory, or suite directory, for the
// index.
func readRun(dir, name, stamp string) runRow {
	row := runRow{Name: name, Stamp: stamp, Href: "/" + escapePath(path.Join(name, stamp, rundir.ReportFile))}
	if t, err := time.ParseInLocation("20060102T150405", strings.SplitN(stamp, "-", 2)[0], time.Local); err == nil {
		row.when = t
	}
	// Only what the index shows: witnesses are not decoded. A suite's
	// results.json names its suite and counts its cells.
	var res struct {
		Verdict checkers.Verdict `json:"verdict"`
		Stats   rundir.Stats     `json:"stats"`
		Checks  []struct {
			AnomalyCounts map[string]int `json:"anomaly_counts"`
		} `json:"checks"`
		Suite   string    `json:"suite"`
		Start   time.Time `json:"start"`
		Held    int       `json:"held"`
		NotHeld int       `json:"not_held"`
		NotRun  int       `json:"not_run"`
	}
	if err := rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &res); err != nil {
		row.Verdict, row.Pill, row.Err = string(checkers.Unknown), string(checkers.Unknown), "unreadable results.json"
		return row
	}
	if res.Suite != "" {
		return suiteRow(row, dir, res.Start, res.Held, res.NotHeld, res.NotRun)
	}
	row.Verdict = string(res.Verdict)
	if row.Verdict == "" {
		row.Verdict = string(checkers.Unknown)
	}
	row.Pill = row.Verdict
	row.Ops = res.Stats.Invocations
	counts := map[string]int{}
	for _, c := range res.Checks {
		for k, n := range c.AnomalyCounts {
			counts[k] += n
		}
	}
	row.Anomalies = countsSummary(counts)
	if row.Anomalies == "-" {
		row.Anomalies = ""
	}
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(filepath.Join(dir, rundir.TestFile), &ti); err == nil {
		row.Target = ti.Target
		row.Workloads = strings.Join(ti.Workloads, ", ")
		if !ti.Start.IsZero() {
			row.when = ti.Start
		}
	}
	if !row.when.IsZero() {
		row.Time = row.when.Format("2006-01-02 15:04:05")
	}
	return row
}

// suiteRow is the index row of a suite directory: its cells held or
// not, and a link to its summary page.
func suiteRow(row runRow, dir string, start time.Time, held, notHeld, notRun int) runRow {
	row.Suite, row.Target = true, "suite"
	row.Href = "/" + escapePath(path.Join(row.Name, row.Stamp, rundir.SuiteSummaryFile))
	if _, err := os.Stat(filepath.Join(dir, rundir.SuiteSummaryFile)); err != nil {
		row.Err = "no summary page"
	}
	row.Workloads = fmt.Sprintf("%d cells", held+notHeld+notRun)
	row.Anomalies = fmt.Sprintf("%d held, %d not held, %d not run", held, notHeld, notRun)
	switch {
	case notHeld > 0:
		row.Verdict, row.Pill = "not held", string(checkers.Invalid)
	case notRun > 0 || held == 0:
		row.Verdict, row.Pill = "not run", string(checkers.Unknown)
	default:
		row.Verdict, row.Pill = "held", string(checkers.Valid)
	}
	if !start.IsZero() {
		row.when = start
	}
	if !row.when.IsZero() {
		row.Time = row.when.Format("2006-01-02 15:04:05")
	}
	return row
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
