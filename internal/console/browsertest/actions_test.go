package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser actions the tests use. They find elements with JavaScript
// in the page at the moment they act, rather than through chromedp's
// cached DOM node ids, which a document update right after a navigation
// can invalidate ("No node with given id found"). Each polls until its
// condition holds or the context (step's 20 s) ends.

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// poll evaluates expr (a JavaScript expression that yields T, or null
// while the condition does not hold yet) until ok accepts the value.
func poll[T any](ctx context.Context, t *chromedp.Target, what, expr string, ok func(T) bool) (T, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := chromedp.Evaluate[T](expr)(ctx, t)
		if err == nil && ok(v) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// shownJS is a function that tells whether an element is shown.
const shownJS = `function (e) {
  var cs = getComputedStyle(e), r = e.getBoundingClientRect();
  return cs.display !== "none" && cs.visibility !== "hidden" && r.width > 0 && r.height > 0;
}`

// waitVisible waits until an element matching sel is shown.
func waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t, "waiting for "+sel,
			`Array.prototype.some.call(document.querySelectorAll(`+jsString(sel)+`), `+shownJS+`)`,
			func(b bool) bool { return b })
		return chromedp.Void{}, err
	}
}

// waitGone waits until no element matches sel.
func waitGone(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t, "waiting for "+sel+" to go",
			`document.querySelector(`+jsString(sel)+`) === null`, func(b bool) bool { return b })
		return chromedp.Void{}, err
	}
}

// clickOn clicks, with a real mouse event, the middle of the first shown
// element matching sel, once it is scrolled into view and nothing covers
// it there.
func clickOn(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		xy, err := poll(ctx, t, "clicking "+sel, `(function () {
  var shown = `+shownJS+`;
  var e = Array.prototype.find.call(document.querySelectorAll(`+jsString(sel)+`), shown);
  if (!e) { return null; }
  e.scrollIntoView({block: "center", inline: "nearest"});
  var r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  var hit = document.elementFromPoint(x, y);
  return hit && (hit === e || e.contains(hit)) ? [x, y] : null;
})()`, func(xy []float64) bool { return len(xy) == 2 })
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.MouseClickXY(xy[0], xy[1])(ctx, t)
	}
}

// setValue sets the value of the field that matches sel (input, select,
// textarea) as typing or choosing would, with input and change events.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t, "setting "+sel, `(function () {
  var e = document.querySelector(`+jsString(sel)+`);
  if (!e) { return false; }
  e.value = `+jsString(value)+`;
  e.dispatchEvent(new Event("input", {bubbles: true}));
  e.dispatchEvent(new Event("change", {bubbles: true}));
  return e.value === `+jsString(value)+`;
})()`, func(b bool) bool { return b })
		return chromedp.Void{}, err
	}
}

// focusOn moves the keyboard focus to the element that matches sel.
func focusOn(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t, "focusing "+sel, `(function () {
  var e = document.querySelector(`+jsString(sel)+`);
  if (!e) { return false; }
  e.focus();
  return document.activeElement === e;
})()`, func(b bool) bool { return b })
		return chromedp.Void{}, err
	}
}

// typeInto types s into the field that matches sel with key events.
func typeInto(sel, s string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(focusOn(sel), chromedp.KeyEvent(s))
}
