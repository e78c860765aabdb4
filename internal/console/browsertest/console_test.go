package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// step runs browser actions, failing the test with what on error.
// Each step has 20 s; on failure the test reports where the browser is and
// what the page says.
func step(ctx context.Context, t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\nthe browser shows %s", what, err, page)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](ctx context.Context, t *testing.T, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (20 s at most); a
// navigation under way only delays it.
func waitFor(ctx context.Context, t *testing.T, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		<-tick.C
	}
	t.Fatalf("still not true after 20 s: %s", cond)
}

// text is the text of the first element that matches a CSS selector.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]string, error) {
		return poll(ctx, tg, "the text of "+sel, `(function () {
  var e = document.querySelector(`+jsString(sel)+`);
  return e ? [e.textContent] : null;
})()`, func(v []string) bool { return len(v) == 1 })
	})
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v[0]
}

// uaLogin logs in with a client secret through the Infisical API, as a
// plain HTTP client, and returns the status and the access token.
func uaLogin(t *testing.T, base, clientID, secret string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"clientId": clientID, "clientSecret": secret})
	resp, err := http.Post(base+"/api/v1/auth/universal-auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.AccessToken
}

// signIn signs in on the sign-in page with tok and waits for the dashboard.
func signIn(ctx context.Context, t *testing.T, base, tok string) {
	t.Helper()
	step(ctx, t, "sign in",
		chromedp.Navigate(base+"/ui/"), // redirected to the sign-in page
		waitVisible("#token"),
		typeInto("#token", tok),
		clickOn(`form[action="/ui/signin"] button[type=submit]`),
		waitVisible(`nav[aria-label="Main"]`),
	)
	if got := eval[string](ctx, t, "location.pathname"); got != "/ui/" {
		t.Fatalf("after sign-in the browser is at %s", got)
	}
}

// adminForms counts the forms in main that change something.
const adminForms = `document.querySelectorAll('main form[method="post"]').length`

// TestConsoleInBrowser drives the console of a real `gatehouse server
// --dev` in headless Chromium: sign in with the root token, create an
// identity, attach Universal Auth, create a client secret and read it from
// the page, log in with it through the API, find that login in the audit
// log page, revoke the secret; a member's token sees no admin actions.
// Every page passes the accessibility check at 1280 and 375 px, and is
// photographed.
func TestConsoleInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	srv := startDevServer(t)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)

	// The sign-in page.
	step(ctx, t, "open the console", chromedp.Navigate(srv.URL+"/ui"), waitVisible("#token"))
	inspect(ctx, t, shots, "signin", false)
	signIn(ctx, t, srv.URL, srv.Root)
	inspect(ctx, t, shots, "dashboard", true)

	// Create an identity.
	step(ctx, t, "identities", chromedp.Navigate(srv.URL+"/ui/identities"), waitVisible("#name"))
	inspect(ctx, t, shots, "identities", true)
	step(ctx, t, "create an identity",
		typeInto("#name", "robot-from-the-browser"),
		setValue("#role", "member"),
		clickOn(`form[action="/ui/identities"][method="post"] button[type=submit]`),
		waitVisible(`main a[href$="/universal-auth"]`),
	)
	idPath := eval[string](ctx, t, "location.pathname")
	id := path.Base(idPath)
	if !strings.HasPrefix(idPath, "/ui/identities/") || id == "" {
		t.Fatalf("after creating, the browser is at %s", idPath)
	}
	if flash := text(ctx, t, `[role="status"]`); !strings.Contains(flash, "robot-from-the-browser") {
		t.Errorf("no notice of the creation: %q", flash)
	}
	inspect(ctx, t, shots, "identity", true)

	// Attach Universal Auth and create a client secret.
	step(ctx, t, "attach Universal Auth",
		clickOn(`main a[href$="/universal-auth"]`),
		waitVisible(`form[action$="/universal-auth"] button[type=submit]`),
		clickOn(`form[action$="/universal-auth"] button[type=submit]`),
		waitVisible("#description"),
	)
	step(ctx, t, "create a client secret",
		typeInto("#description", "made in a browser"),
		clickOn(`form[action$="/client-secrets"] button[type=submit]`),
		waitVisible("#new-secret"),
	)
	secret := strings.TrimSpace(text(ctx, t, "#new-secret"))
	clientID := strings.TrimSpace(text(ctx, t, `section[aria-labelledby="created-h"] p code`))
	if secret == "" || clientID == "" {
		t.Fatalf("secret %q, client id %q", secret, clientID)
	}
	// app.js ran under the CSP: it shows the copy button.
	if !eval[bool](ctx, t, `!document.querySelector('button[data-copy="new-secret"]').hidden`) {
		t.Errorf("the copy button stayed hidden: app.js did not run")
	}
	inspect(ctx, t, shots, "universal-auth", true)

	// Log in with it through the API, as a machine would.
	status, memberToken := uaLogin(t, srv.URL, clientID, secret)
	if status != http.StatusOK || memberToken == "" {
		t.Fatalf("login with the secret from the page: %d", status)
	}

	// The login is in the audit log page.
	step(ctx, t, "audit log",
		chromedp.Navigate(srv.URL+"/ui/audit?"+url.Values{"type": {"login"}, "identity": {id}}.Encode()),
		waitVisible("table.audit"),
	)
	if caption := text(ctx, t, "table.audit caption"); !strings.HasPrefix(caption, "1 event matching") {
		t.Errorf("audit caption %q", caption)
	}
	if row := text(ctx, t, "table.audit tbody"); !strings.Contains(row, "login") || !strings.Contains(row, "success") || !strings.Contains(row, id) {
		t.Errorf("audit row %q", row)
	}
	inspect(ctx, t, shots, "audit", true)
	// The filter form: failures of this identity are none.
	step(ctx, t, "filter failures",
		setValue("#outcome", "failure"),
		clickOn(`form.filters button[type=submit]`),
	)
	waitFor(ctx, t, `location.search.includes("outcome=failure") && document.readyState === "complete"`)
	if caption := text(ctx, t, "table.audit caption"); !strings.HasPrefix(caption, "0 events matching") {
		t.Errorf("failures caption %q", caption)
	}
	step(ctx, t, "dashboard", chromedp.Navigate(srv.URL+"/ui/"), waitVisible("svg[role=img]"))
	if stats := text(ctx, t, "ul.stats"); !strings.Contains(stats, "1 successful login in the last 24 hours") {
		t.Errorf("dashboard stats %q", stats)
	}
	inspect(ctx, t, shots, "dashboard-after-login", true)
	step(ctx, t, "tokens", chromedp.Navigate(srv.URL+idPath+"/tokens"), waitVisible("main h1"))
	inspect(ctx, t, shots, "tokens", true)

	// Sign out; a member's token sees no admin actions.
	step(ctx, t, "sign out",
		clickOn(`form.signout button[type=submit]`),
		waitVisible("#token"),
		chromedp.Navigate(srv.URL+"/ui/identities"), // the session is gone
		waitVisible("#token"),
	)
	signIn(ctx, t, srv.URL, memberToken)
	if main := text(ctx, t, "main"); !strings.Contains(main, "for administrators") {
		t.Errorf("member dashboard: %q", main)
	}
	inspect(ctx, t, shots, "member-dashboard", true)
	for _, p := range []string{"/ui/identities", idPath, idPath + "/universal-auth"} {
		step(ctx, t, "member "+p, chromedp.Navigate(srv.URL+p), waitVisible("main h1"))
		if n := eval[int](ctx, t, adminForms); n != 0 {
			t.Errorf("member sees %d admin forms on %s", n, p)
		}
	}
	inspect(ctx, t, shots, "member-universal-auth", true)
	step(ctx, t, "member signs out",
		clickOn(`form.signout button[type=submit]`),
		waitVisible("#token"),
	)
	signIn(ctx, t, srv.URL, srv.Root)

	// Revoke the secret (confirming the dialog); it no longer logs in.
	step(ctx, t, "revoke the secret",
		chromedp.Navigate(srv.URL+idPath+"/universal-auth"),
		waitVisible(`button[aria-label^="Revoke client secret"]`),
	)
	// The same count for the root, so the member's check can fail.
	if n := eval[int](ctx, t, adminForms); n < 3 {
		t.Errorf("root sees %d admin forms on the Universal Auth page", n)
	}
	eval[bool](ctx, t, `window.confirm = function () { return true; }, true`)
	step(ctx, t, "confirm the revocation",
		clickOn(`button[aria-label^="Revoke client secret"]`),
		waitGone(`button[aria-label^="Revoke client secret"]`),
	)
	if flash := text(ctx, t, `[role="status"]`); !strings.Contains(flash, "revoked") {
		t.Errorf("no notice of the revocation: %q", flash)
	}
	if status, _ := uaLogin(t, srv.URL, clientID, secret); status != http.StatusUnauthorized {
		t.Errorf("login with the revoked secret: %d", status)
	}
}
