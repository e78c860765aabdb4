package oauth

import (
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// TestAppendTokenResponse: the hand-written token response is what
// httpapi.WriteJSON (encoding/json) writes, byte for byte.
func TestAppendTokenResponse(t *testing.T) {
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"
	for _, scope := range []string{"", "read write", `a"b\c`, "<&>", "é\u2028\x01", "bad \xff"} {
		for _, exp := range []int64{0, 3600, -1} {
			tr := tokenResponse{AccessToken: jwt, IssuedTokenType: "urn:ietf:params:oauth:token-type:jwt", TokenType: "N_A", ExpiresIn: exp, Scope: scope}
			rec := httptest.NewRecorder()
			httpapi.WriteJSON(rec, 200, tr)
			if got := appendTokenResponse(nil, tr); string(got) != rec.Body.String() {
				t.Errorf("scope %q:\n got %s\nwant %s", scope, got, rec.Body.String())
			}
		}
	}
	if got, want := string(appendJSONString(nil, "a<b")), `"a\u003cb"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
