package reports

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium. Without it the browser tests fail
// in CI (env CI set) and are skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "chromium is not installed (apt-get install -y chromium): the browser test of the report cannot run"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactDir is where screenshots go: $CHAOSCHECK_ARTIFACTS, or a
// temporary directory of the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CHAOSCHECK_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("artifact directory: %v", err)
		}
		return d
	}
	return t.TempDir()
}

// browser is a headless chromium with a listener collecting JavaScript
// exceptions, console errors, browser log errors and dialogs.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts chromium for the test; it is stopped at cleanup. The
// whole browser lives under a deadline, so every wait of the test is
// bounded.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
	ctx, cancelTime := context.WithTimeout(context.Background(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &browser{ctx: bctx}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTime()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("console reader did not stop")
		}
	})
	// Start the browser, then collect its messages.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		close(done)
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	messages := chromedp.Console(bctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.add(m.String() + " " + m.URL)
			}
		}
	}()
	if err := chromedp.Listen(bctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.add("a JavaScript dialog opened: " + d.Message)
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	return b
}

func (b *browser) add(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// errs returns the errors seen so far.
func (b *browser) errs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// step bounds one browser action.
func (b *browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 20*time.Second)
}

// open navigates to url and waits for the page to be ready.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// count returns how many elements match the CSS selector, without
// waiting for any.
func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// text returns the visible text of the first element matching sel.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot writes a full-page PNG.
func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

func TestBrowserReport(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	makeRun(t, dir)
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b.open(t, "file://"+filepath.Join(dir, "report.html"))

	if v := b.text(t, ".verdict"); !strings.HasPrefix(v, "INVALID") {
		t.Errorf("verdict shows %q", v)
	}
	if n := b.count(t, "article.card.anomaly"); n != 3 {
		t.Errorf("%d anomaly cards, want 3 (stale-read, non-linearizable, brand-new-kind)", n)
	}
	if n := b.count(t, "article.card.unavail"); n != 1 {
		t.Errorf("%d unavailable cards, want 1", n)
	}
	if n := b.count(t, "article.card.unknown"); n != 1 {
		t.Errorf("%d undecided cards, want 1", n)
	}
	for _, sel := range []string{"svg.chart.timeline", "svg.chart.latency", "svg.chart.throughput", "svg.chart.nodes"} {
		if n := b.count(t, sel); n != 1 {
			t.Errorf("%d %s, want 1", n, sel)
		}
	}
	if n := b.count(t, "svg.timeline rect.o-ok"); n < 100 {
		t.Errorf("timeline has %d ok bars", n)
	}
	if n := b.count(t, "svg.timeline rect.band"); n == 0 {
		t.Error("timeline has no fault band")
	}
	if n := b.count(t, "table.ops tbody tr"); n < 4 {
		t.Errorf("%d witness rows", n)
	}
	// Hostile data is text, never markup.
	if n := b.count(t, "script"); n != 0 {
		t.Errorf("%d script elements in the page", n)
	}
	if n := b.count(t, "main img"); n != 0 {
		t.Errorf("%d img elements in the page (from data?)", n)
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.body.innerText.includes("<img src=x onerror=alert(1)>") && document.body.innerText.includes("<script>alert(1)</script>")`))
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("the hostile strings are not shown as text")
	}
	b.screenshot(t, filepath.Join(artifactDir(t), "report.png"))
	if errs := b.errs(); len(errs) > 0 {
		t.Errorf("JavaScript or console errors on the report page:\n%s", strings.Join(errs, "\n"))
	}
}

func TestBrowserServeIndex(t *testing.T) {
	b := newBrowser(t)
	root := t.TempDir()
	makeRun(t, filepath.Join(root, "sim-register", "20261125T200000"))
	fx := makeRun(t, "")
	fx.Results.Verdict = "valid"
	fx.Results.Checks = fx.Results.Checks[:0]
	fx.Results.Errors = nil
	fx.Test.Name = "sim-set"
	writeRun(t, filepath.Join(root, "sim-set", "20261125T210000"), fx)
	if err := os.Symlink("20261125T210000", filepath.Join(root, "sim-set", "latest")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(root))
	defer srv.Close()

	b.open(t, srv.URL+"/")
	if n := b.count(t, "tr.run"); n != 2 {
		t.Errorf("index lists %d runs, want 2", n)
	}
	if first := b.text(t, "tr.run td"); !strings.Contains(first, "sim-set") {
		t.Errorf("first run is %q, want the newest (sim-set)", first)
	}
	if n := b.count(t, "span.pill.invalid"); n < 1 {
		t.Error("no invalid verdict shown")
	}
	b.screenshot(t, filepath.Join(artifactDir(t), "index.png"))

	// Follow the link of the invalid run: its report is generated on the
	// fly.
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href*="sim-register"]`)),
		chromedp.WaitVisible(chromedp.CSS("svg.chart.timeline")),
	); err != nil {
		t.Fatalf("open a report from the index: %v", err)
	}
	if n := b.count(t, "section#findings"); n != 1 {
		t.Error("served report has no findings")
	}
	b.screenshot(t, filepath.Join(artifactDir(t), "served-report.png"))
	if errs := b.errs(); len(errs) > 0 {
		t.Errorf("JavaScript or console errors:\n%s", strings.Join(errs, "\n"))
	}
}
