package console

import (
	"crypto/subtle"
	"net/http"
	"net/url"
)

// signInCookie carries the sign-in form's double-submit CSRF value.
const signInCookie = "gatehouse_signin"

// checkCSRF reports whether a state-changing request comes from the
// console itself: the form's csrf field equals want (constant time) and
// the browser's Sec-Fetch-Site and Origin, when sent, say same origin.
func (c *Console) checkCSRF(r *http.Request, want string) bool {
	if !c.sameOrigin(r) || want == "" {
		return false
	}
	got := r.PostFormValue("csrf")
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin checks the headers browsers send with a form post.
func (c *Console) sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	switch site {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	// Under Referrer-Policy: no-referrer, Chromium sends "Origin: null"
	// with a form post, even to its own origin; Sec-Fetch-Site, which a
	// page cannot forge, then vouches for it.
	if origin == "null" {
		return site == "same-origin"
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return u.Host == r.Host && (u.Scheme == "https" || (u.Scheme == "http" && r.TLS == nil && !c.cfg.Secure))
}
