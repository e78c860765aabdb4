package kubetest

import (
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now))
	noAnon := New(t, WithClock(clk.Now), WithAnonymousAuth(false))
	subject := c.Token("team-a", "app")

	const unauthorized = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}` + "\n"
	forbiddenFor := func(user string) string {
		return `tokenreviews.authentication.k8s.io is forbidden: User "` + user +
			`" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope`
	}

	tests := []struct {
		name        string
		cluster     *Cluster
		header      func() string // the Authorization header
		wantCode    int
		wantMessage string // of the Status, for 403
	}{
		{
			name:     "auth-delegator service account",
			header:   func() string { return "Bearer " + c.ReviewerToken("kube-system", "reviewer") },
			wantCode: http.StatusCreated,
		},
		{
			name:     "scheme is case-insensitive",
			header:   func() string { return "bearer " + c.ReviewerToken("kube-system", "reviewer") },
			wantCode: http.StatusCreated,
		},
		{
			name:     "static admin token",
			header:   func() string { return "Bearer " + c.AdminToken() },
			wantCode: http.StatusCreated,
		},
		{
			name: "the login JWT as its own reviewer",
			header: func() string {
				c.GrantAuthDelegator("team-b", "self")
				return "Bearer " + c.Token("team-b", "self")
			},
			wantCode: http.StatusCreated,
		},
		{
			name:        "service account without auth-delegator",
			header:      func() string { return "Bearer " + c.Token("team-a", "app") },
			wantCode:    http.StatusForbidden,
			wantMessage: forbiddenFor("system:serviceaccount:team-a:app"),
		},
		{
			name: "auth-delegator revoked",
			header: func() string {
				token := c.ReviewerToken("kube-system", "revoked")
				c.RevokeAuthDelegator("kube-system", "revoked")
				return "Bearer " + token
			},
			wantCode:    http.StatusForbidden,
			wantMessage: forbiddenFor("system:serviceaccount:kube-system:revoked"),
		},
		{
			name:        "no bearer: anonymous",
			header:      func() string { return "" },
			wantCode:    http.StatusForbidden,
			wantMessage: forbiddenFor("system:anonymous"),
		},
		{
			name:        "basic auth is not a bearer: anonymous",
			header:      func() string { return "Basic dXNlcjpwYXNz" },
			wantCode:    http.StatusForbidden,
			wantMessage: forbiddenFor("system:anonymous"),
		},
		{
			name:     "no bearer, anonymous auth off",
			cluster:  noAnon,
			header:   func() string { return "" },
			wantCode: http.StatusUnauthorized,
		},
		{
			name:     "garbage bearer",
			header:   func() string { return "Bearer garbage" },
			wantCode: http.StatusUnauthorized,
		},
		{
			name: "expired reviewer token",
			header: func() string {
				return "Bearer " + c.ReviewerToken("kube-system", "reviewer", IssuedAt(epoch.Add(-3*time.Hour)))
			},
			wantCode: http.StatusUnauthorized,
		},
		{
			name: "reviewer token for another audience",
			header: func() string {
				return "Bearer " + c.ReviewerToken("kube-system", "reviewer", Audiences("vault"))
			},
			wantCode: http.StatusUnauthorized,
		},
		{
			name: "reviewer service account deleted",
			header: func() string {
				token := c.ReviewerToken("kube-system", "deleted")
				c.DeleteServiceAccount("kube-system", "deleted")
				return "Bearer " + token
			},
			wantCode: http.StatusUnauthorized,
		},
		{
			name:     "token of another cluster",
			header:   func() string { return "Bearer " + noAnon.ReviewerToken("kube-system", "reviewer") },
			wantCode: http.StatusUnauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := tt.cluster
			if cl == nil {
				cl = c
			}
			req, err := http.NewRequest(http.MethodPost, cl.URL()+tokenReviewsPath, bytesReader(reviewBody(t, subject)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if h := tt.header(); h != "" {
				req.Header.Set("Authorization", h)
			}
			res := send(t, cl, req)
			if res.code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", res.code, tt.wantCode, res.body)
			}
			switch tt.wantCode {
			case http.StatusUnauthorized:
				if string(res.body) != unauthorized {
					t.Errorf("body = %s, want %s", res.body, unauthorized)
				}
			case http.StatusForbidden:
				st := decodeStatus(t, res.body)
				if st.Message != tt.wantMessage || st.Reason != metav1.StatusReasonForbidden || st.Code != 403 {
					t.Errorf("status = %+v, want message %q", st, tt.wantMessage)
				}
				if st.Details == nil || st.Details.Group != "authentication.k8s.io" || st.Details.Kind != "tokenreviews" {
					t.Errorf("details = %+v", st.Details)
				}
			case http.StatusCreated:
				if tr := mustDecodeReview(t, res.body); !tr.Status.Authenticated {
					t.Errorf("subject not authenticated: %+v", tr.Status)
				}
			}
			if res.header.Get("Content-Type") != "application/json" || res.header.Get("Audit-Id") == "" {
				t.Errorf("headers = %v", res.header)
			}
		})
	}
}
