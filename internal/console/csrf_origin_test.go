package console_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestSignInNullOrigin: Chromium posts a form with "Origin: null" under
// Referrer-Policy: no-referrer; with Sec-Fetch-Site: same-origin that is
// the console's own form, without it (or cross-site) it is refused.
func TestSignInNullOrigin(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		site string
		want int
	}{
		{"same-origin", http.StatusSeeOther},
		{"", http.StatusForbidden},
		{"cross-site", http.StatusForbidden},
		{"same-site", http.StatusForbidden},
	} {
		b := e.browser()
		b.get("/ui/signin")
		p := b.postHeaders("/ui/signin", url.Values{"token": {rootToken}}, map[string]string{"Origin": "null", "Sec-Fetch-Site": c.site})
		if p.status != c.want {
			t.Errorf("Origin null, Sec-Fetch-Site %q: %d, want %d", c.site, p.status, c.want)
		}
	}
}
