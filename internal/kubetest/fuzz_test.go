package kubetest

import (
	"strings"
	"testing"
)

// FuzzReview feeds arbitrary tokens and bodies to the review path: nothing
// may panic, and nothing but this cluster's own tokens may authenticate.
func FuzzReview(f *testing.F) {
	c := New(f)
	good := c.Token("ns", "app")
	f.Add(good, `{"spec":{"token":"x"}}`)
	f.Add(good[:len(good)-2], `{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","spec":{"token":"x","audiences":["a"]}}`)
	f.Add("a.b.c", `{"spec":{"token":5}}`)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.", `garbage`)
	f.Add(c.LegacyToken("ns", "app"), `{"apiVersion":"a/b/c"}`)
	f.Fuzz(func(t *testing.T, token, body string) {
		for _, fv := range []string{"", "Strict", "Ignore"} {
			_, _, _ = decodeTokenReview([]byte(body), fv) // must only not panic
		}
		res, err := c.authenticateToken(token, c.apiAudiences)
		if err == nil && res.user.Name == "" {
			t.Fatalf("authenticated without a user: %q", token)
		}
		if err == nil && !strings.HasPrefix(token, "eyJ") && token != c.AdminToken() {
			t.Fatalf("authenticated a token this cluster did not issue: %q", token)
		}
	})
}
