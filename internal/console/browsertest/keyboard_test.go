package browsertest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes the focused element and whether its focus is visible:
// it matches :focus-visible and has the console's outline (at least 2 px,
// solid) or, failing that, says what it has.
const focused = `(function () {
  var el = document.activeElement;
  if (!el || el === document.body) { return "body|none"; }
  var cs = getComputedStyle(el), r = el.getBoundingClientRect();
  var shown = el.matches(":focus-visible") && cs.outlineStyle === "solid" && parseFloat(cs.outlineWidth) >= 2 &&
    r.width > 0 && r.height > 0 && r.right > 0 && r.left < document.documentElement.clientWidth;
  var name = el.id ? "#" + el.id : el.tagName.toLowerCase() + (el.getAttribute("type") ? "[type=" + el.getAttribute("type") + "]" : "");
  return name + "|" + (shown ? "visible" : "outline " + cs.outlineStyle + " " + cs.outlineWidth + " at " + Math.round(r.left));
})()`

// tab presses Tab and returns the newly focused element; it fails the test
// when that element's focus is not visible.
func tab(ctx context.Context, t *testing.T) string {
	t.Helper()
	step(ctx, t, "press Tab", chromedp.KeyEvent(kb.Tab))
	name, state, _ := strings.Cut(eval[string](ctx, t, focused), "|")
	if state != "visible" {
		t.Errorf("focus on %s is not visible: %s", name, state)
	}
	return name
}

// signInWithKeyboard signs in on the sign-in page with the keyboard only:
// Tab to the skip link (shown when focused), on to the token field, type
// the token, Tab to the button, Enter. Every focus must be visible.
func signInWithKeyboard(ctx context.Context, t *testing.T, base, tok string) {
	t.Helper()
	step(ctx, t, "open the sign-in page", chromedp.Navigate(base+"/ui/signin"), waitVisible("#token"))
	if first := tab(ctx, t); first != "a" || eval[string](ctx, t, `document.activeElement.textContent`) != "Skip to content" {
		t.Errorf("the first Tab focuses %s, not the skip link", first)
	}
	var path []string
	for name := ""; name != "#token"; {
		if len(path) == 5 {
			t.Fatalf("Tab never reached the token field: %q", path)
		}
		name = tab(ctx, t)
		path = append(path, name)
	}
	step(ctx, t, "type the token", chromedp.KeyEvent(tok))
	if got := tab(ctx, t); got != "button[type=submit]" {
		t.Fatalf("Tab after the token field focuses %s", got)
	}
	step(ctx, t, "press Enter on Sign in",
		chromedp.KeyEvent(kb.Enter),
		waitVisible(`nav[aria-label="Main"]`),
	)
	if got := eval[string](ctx, t, "location.pathname"); got != "/ui/" {
		t.Fatalf("after signing in with the keyboard the browser is at %s", got)
	}
}
