// Package browsertest drives a headless chromium for tests of the HTML
// pages chaoscheck writes (the suite summary): open a page, count and
// read elements, collect JavaScript errors, take a screenshot. Without
// chromium the test fails under CI (CI set) and is skipped elsewhere.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser is a headless chromium with a listener collecting JavaScript
// exceptions, console errors and dialogs.
type Browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// Path finds Debian's chromium.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "chromium is not installed (apt-get install -y chromium): the browser test cannot run"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// New starts chromium for the test with a 1400x900 window; it is stopped
// at cleanup. The whole browser lives under a deadline, so every wait of
// the test is bounded.
func New(t testing.TB) *Browser {
	t.Helper()
	return NewSized(t, 1400, 900)
}

// NewSized is New with a window of w x h pixels (the width of a
// screenshot).
func NewSized(t testing.TB, w, h int) *Browser {
	t.Helper()
	path := Path(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
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
	b := &Browser{ctx: bctx}
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

func (b *Browser) add(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// Errors returns the JavaScript errors seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Context is the browser's context (chromedp.Run on it for what the
// methods here do not cover); it ends with the browser's deadline.
func (b *Browser) Context() context.Context { return b.ctx }

// Step bounds one browser action (20 s).
func (b *Browser) Step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 20*time.Second)
}

// Open navigates to url and waits for the page to be ready.
func (b *Browser) Open(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := b.Step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// Count returns how many elements match the CSS selector.
func (b *Browser) Count(t testing.TB, sel string) int {
	t.Helper()
	ctx, cancel := b.Step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// Text returns the visible text of the first element matching sel.
func (b *Browser) Text(t testing.TB, sel string) string {
	t.Helper()
	ctx, cancel := b.Step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression returning a string.
func (b *Browser) Eval(t testing.TB, expr string) string {
	t.Helper()
	ctx, cancel := b.Step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// Screenshot writes a full-page PNG to path.
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := b.Step()
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
