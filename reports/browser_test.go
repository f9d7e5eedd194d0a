package reports

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chaoscheck/chaoscheck/internal/browsertest"
)

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

// browser is the report tests' headless chromium (browsertest.Browser),
// with a window as wide as the report's screenshots.
type browser struct {
	*browsertest.Browser
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	b := browsertest.NewSized(t, 1280, 900)
	return &browser{Browser: b, ctx: b.Context()}
}

func (b *browser) errs() []string                              { return b.Errors() }
func (b *browser) step() (context.Context, context.CancelFunc) { return b.Step() }
func (b *browser) open(t *testing.T, url string)               { t.Helper(); b.Open(t, url) }
func (b *browser) count(t *testing.T, sel string) int          { t.Helper(); return b.Count(t, sel) }
func (b *browser) text(t *testing.T, sel string) string        { t.Helper(); return b.Text(t, sel) }
func (b *browser) screenshot(t *testing.T, path string)        { t.Helper(); b.Screenshot(t, path) }

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
