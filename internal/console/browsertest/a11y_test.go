package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// brokenPage has one defect of every kind the checker looks for.
const brokenPage = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>broken</title></head>
<body><div>
<input id="nolabel" name="nolabel" type="text">
<label for="x">x</label><input id="x" type="text" aria-describedby="x-help">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<svg width="20" height="20"><rect width="20" height="20" fill="#000"></rect></svg>
<p style="color: #aaaaaa">light grey text on white</p>
<div style="width: 600px">a wide block</div>
<div id="scroller" style="overflow-x: auto; width: 100px"><div style="width: 300px">a wide table</div></div>
<p style="font-size: 8px">tiny print</p>
</div></body></html>`

// goodPage passes every check.
const goodPage = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>good</title></head>
<body><header>Gatehouse</header><nav aria-label="Main"><a href="#">Home</a></nav><main>
<label for="a">Name</label><input id="a" name="a" type="text">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<svg role="img" aria-label="a square" width="20" height="20"><rect width="20" height="20" fill="#000"></rect></svg>
<p style="color: #1a1a1a">dark text</p>
<div role="region" tabindex="0" aria-label="a wide table" style="overflow-x: auto; width: 100px"><div style="width: 300px">a wide table</div></div>
</main></body></html>`

// TestAccessibilityCheckFindsDefects proves the checker can fail: it
// reports each defect of a deliberately broken page, and nothing on a
// sound one.
func TestAccessibilityCheckFindsDefects(t *testing.T) {
	ctx := newBrowser(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/good" {
			w.Write([]byte(goodPage))
			return
		}
		w.Write([]byte(brokenPage))
	}))
	defer srv.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/broken")); err != nil {
		t.Fatal(err)
	}
	setWidth(ctx, t, phoneWidth)
	defects := checkA11y(ctx, t, true)
	all := strings.Join(defects, "\n")
	for _, want := range []string{
		"unlabelled field input#nolabel",
		"aria-describedby names a missing id x-help on input#x",
		"no header landmark", "no main landmark", "no nav landmark",
		"image without alt", "svg without role=img",
		"horizontal overflow",
		"contrast 2.32:1 of p",
		"scrollable region without tabindex and a name div#scroller",
		"text of 8.0 px in p",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the checker missed %q; it found:\n%s", want, all)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{phoneWidth, desktopWidth} {
		setWidth(ctx, t, w)
		if d := checkA11y(ctx, t, true); len(d) > 0 {
			t.Errorf("the sound page at %d px: %q", w, d)
		}
	}
}
