package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Widths every page is checked and photographed at.
const (
	desktopWidth = 1280
	phoneWidth   = 375
)

// screenshotDir is GATEHOUSE_SCREENSHOTS, or a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkA11y runs a11y.js in the current page and returns its defects.
func checkA11y(ctx context.Context, t *testing.T, nav bool) []string {
	t.Helper()
	opts := `{"nav": false, "minContrast": 4.5, "minFontPx": 12}`
	if nav {
		opts = `{"nav": true, "minContrast": 4.5, "minFontPx": 12}`
	}
	defects, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](a11yJS+"("+opts+")"))
	if err != nil {
		t.Fatalf("accessibility check: %v", err)
	}
	return defects
}

// setWidth resizes the viewport (a phone width emulates a mobile device,
// so the page's viewport meta applies).
func setWidth(ctx context.Context, t *testing.T, width int) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	height := int64(900)
	if width <= phoneWidth {
		opts = append(opts, chromedp.EmulateMobile)
		height = 812
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), height, opts...)); err != nil {
		t.Fatal(err)
	}
	// Let the page react first (app.js shows or hides its hints on
	// resize), so nothing moves under a click or a check that follows.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("waiting for the page to settle at %d px: %v", width, err)
	}
}

// settled resolves after two animation frames: resize handlers have run
// and the page is laid out again.
const settled = `new Promise(function (done) {
  requestAnimationFrame(function () { requestAnimationFrame(function () { done(true); }); });
})`

// inspect checks the current page at both widths: the accessibility check
// must pass, and a full-page screenshot of each is saved as
// <dir>/<name>-<width>.png. It leaves the viewport at the desktop width.
func inspect(ctx context.Context, t *testing.T, dir, name string, nav bool) {
	t.Helper()
	for _, w := range []int{desktopWidth, phoneWidth} {
		setWidth(ctx, t, w)
		for _, d := range checkA11y(ctx, t, nav) {
			t.Errorf("%s at %d px: %s", name, w, d)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		file := filepath.Join(dir, name+"-"+itoa(w)+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setWidth(ctx, t, desktopWidth)
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
