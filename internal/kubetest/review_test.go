package kubetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
)

func TestReviewSuccess(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now))
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	sa := c.CreateServiceAccount("team-a", "app")
	pod := c.CreatePod("team-a", "app-7d4f", "app")

	tests := []struct {
		name      string
		token     string
		audiences []string
		wantUser  string
		wantUID   string
		wantGroup []string
		wantAuds  []string
		wantExtra []string // keys of status.user.extra
	}{
		{
			name:      "default audience",
			token:     c.Token("team-a", "app"),
			wantUser:  "system:serviceaccount:team-a:app",
			wantUID:   sa.UID,
			wantGroup: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			wantAuds:  []string{DefaultIssuer},
			wantExtra: []string{extraCredentialID},
		},
		{
			name:      "requested audiences intersect the token's",
			token:     c.Token("team-a", "app", Audiences("vault", "other")),
			audiences: []string{"gatehouse", "vault"},
			wantUser:  "system:serviceaccount:team-a:app",
			wantUID:   sa.UID,
			wantGroup: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			wantAuds:  []string{"vault"},
			wantExtra: []string{extraCredentialID},
		},
		{
			name:      "pod-bound token",
			token:     c.Token("team-a", "app", BoundToPod(pod), Audiences("vault")),
			audiences: []string{"vault"},
			wantUser:  "system:serviceaccount:team-a:app",
			wantUID:   sa.UID,
			wantGroup: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			wantAuds:  []string{"vault"},
			wantExtra: []string{extraCredentialID, extraNodeName, extraNodeUID, extraPodName, extraPodUID},
		},
		{
			name:      "expired within the 60 s leeway",
			token:     c.Token("team-a", "app", ExpiresAt(epoch.Add(-59*time.Second))),
			wantUser:  "system:serviceaccount:team-a:app",
			wantUID:   sa.UID,
			wantGroup: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			wantAuds:  []string{DefaultIssuer},
			wantExtra: []string{extraCredentialID},
		},
		{
			name:      "legacy Secret-based token",
			token:     c.LegacyToken("team-a", "app"),
			wantUser:  "system:serviceaccount:team-a:app",
			wantUID:   sa.UID,
			wantGroup: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			wantAuds:  []string{DefaultIssuer},
		},
		{
			name:      "static admin token",
			token:     c.AdminToken(),
			wantUser:  "kubetest-admin",
			wantGroup: []string{"system:masters", "system:authenticated"},
			wantAuds:  []string{DefaultIssuer},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustReview(t, c, reviewer, tt.token, tt.audiences...)
			if tr.Kind != "TokenReview" || tr.APIVersion != "authentication.k8s.io/v1" {
				t.Errorf("kind/apiVersion = %q/%q", tr.Kind, tr.APIVersion)
			}
			if tr.Spec.Token != tt.token || !slices.Equal(tr.Spec.Audiences, tt.audiences) {
				t.Errorf("spec not echoed: %+v", tr.Spec)
			}
			st := tr.Status
			if !st.Authenticated || st.Error != "" {
				t.Fatalf("not authenticated: %+v", st)
			}
			if st.User.Username != tt.wantUser || st.User.UID != tt.wantUID {
				t.Errorf("user = %q uid %q, want %q uid %q", st.User.Username, st.User.UID, tt.wantUser, tt.wantUID)
			}
			if !slices.Equal(st.User.Groups, tt.wantGroup) {
				t.Errorf("groups = %q, want %q", st.User.Groups, tt.wantGroup)
			}
			if !slices.Equal(st.Audiences, tt.wantAuds) {
				t.Errorf("audiences = %q, want %q", st.Audiences, tt.wantAuds)
			}
			var keys []string
			for k := range st.User.Extra {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.wantExtra) {
				t.Errorf("extra keys = %q, want %q", keys, tt.wantExtra)
			}
		})
	}

	t.Run("extra values", func(t *testing.T) {
		token := c.Token("team-a", "app", BoundToPod(pod))
		jti := jwtPart(t, token, 1)["jti"].(string)
		extra := mustReview(t, c, reviewer, token).Status.User.Extra
		want := map[string]authv1.ExtraValue{
			extraCredentialID: {"JTI=" + jti},
			extraPodName:      {"app-7d4f"},
			extraPodUID:       {pod.UID},
			extraNodeName:     {pod.NodeName},
			extraNodeUID:      {pod.NodeUID},
		}
		if fmt.Sprint(extra) != fmt.Sprint(want) {
			t.Errorf("extra = %v, want %v", extra, want)
		}
	})
}

func TestReviewFailures(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now))
	other := New(t, WithClock(clk.Now)) // another cluster, same issuer, its own key
	reviewer := c.ReviewerToken("kube-system", "gatehouse")

	tests := []struct {
		name      string
		setup     func(t *testing.T) (token, wantErr string)
		audiences []string
	}{
		{
			name: "expired",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "expired", IssuedAt(epoch.Add(-2*time.Hour))),
					"[invalid bearer token, service account token has expired]"
			},
		},
		{
			name: "expired just past the leeway",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "expired", ExpiresAt(epoch.Add(-61*time.Second))),
					"[invalid bearer token, service account token has expired]"
			},
		},
		{
			name: "not yet valid",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "early", IssuedAt(epoch.Add(2*time.Minute))),
					"[invalid bearer token, service account token is not valid yet]"
			},
		},
		{
			name: "audience not the API server's",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "app", Audiences("vault")),
					`[invalid bearer token, token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]]`
			},
		},
		{
			name:      "audience not the requested one",
			audiences: []string{"y", "z"},
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "app", Audiences("x")),
					`[invalid bearer token, token audiences ["x"] is invalid for the target audiences ["y" "z"]]`
			},
		},
		{
			name: "signed by a foreign key",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "app", SignedWith(other.SigningKey())),
					"[invalid bearer token, invalid signature, no keys found]"
			},
		},
		{
			name: "signed by a foreign key under this cluster's kid",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "app", SignedWith(other.SigningKey()), KeyID(c.KeyID())),
					"[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]"
			},
		},
		{
			name: "token from another cluster",
			setup: func(t *testing.T) (string, string) {
				return other.Token("ns", "app"), "[invalid bearer token, invalid signature, no keys found]"
			},
		},
		{
			name: "payload tampered with",
			setup: func(t *testing.T) (string, string) {
				token := c.Token("ns", "app")
				parts := strings.Split(token, ".")
				claims := jwtPart(t, token, 1)
				claims["sub"] = "system:serviceaccount:kube-system:admin"
				parts[1] = encodeSegment(t, claims)
				return strings.Join(parts, "."), "[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]"
			},
		},
		{
			name: "service account deleted",
			setup: func(t *testing.T) (string, string) {
				token := c.Token("ns", "gone")
				c.DeleteServiceAccount("ns", "gone")
				return token, `[invalid bearer token, serviceaccounts "gone" not found]`
			},
		},
		{
			name: "service account recreated",
			setup: func(t *testing.T) (string, string) {
				old := c.CreateServiceAccount("ns", "again")
				token := c.Token("ns", "again")
				c.DeleteServiceAccount("ns", "again")
				now := c.CreateServiceAccount("ns", "again")
				if now.UID == old.UID {
					t.Fatal("recreated service account kept its UID")
				}
				return token, fmt.Sprintf("[invalid bearer token, service account UID (%s) does not match claim (%s)]", now.UID, old.UID)
			},
		},
		{
			name: "pod deleted",
			setup: func(t *testing.T) (string, string) {
				pod := c.CreatePod("ns", "short-lived", "app")
				token := c.Token("ns", "app", BoundToPod(pod))
				c.DeletePod("ns", "short-lived")
				return token, "[invalid bearer token, service account token has been invalidated]"
			},
		},
		{
			name: "pod recreated",
			setup: func(t *testing.T) (string, string) {
				old := c.CreatePod("ns", "restarted", "app")
				token := c.Token("ns", "app", BoundToPod(old))
				c.DeletePod("ns", "restarted")
				now := c.CreatePod("ns", "restarted", "app")
				return token, fmt.Sprintf("[invalid bearer token, pod UID (%s) does not match service account pod ref claim (%s)]", now.UID, old.UID)
			},
		},
		{
			name: "garbage token",
			setup: func(t *testing.T) (string, string) {
				return "not-a-jwt", "invalid bearer token"
			},
		},
		{
			name: "wrong issuer",
			setup: func(t *testing.T) (string, string) {
				return c.Token("ns", "app", ClaimIssuer("https://oidc.example.com")), "invalid bearer token"
			},
		},
		{
			name: "legacy token after its service account was deleted",
			setup: func(t *testing.T) (string, string) {
				token := c.LegacyToken("ns", "legacy")
				c.DeleteServiceAccount("ns", "legacy")
				c.CreateServiceAccount("ns", "legacy")
				return token, "[invalid bearer token, Token has been invalidated]"
			},
		},
		{
			name:      "legacy token for another audience",
			audiences: []string{"vault"},
			setup: func(t *testing.T) (string, string) {
				return c.LegacyToken("ns", "app"),
					`[invalid bearer token, token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["vault"]]`
			},
		},
		{
			name:      "static token for another audience",
			audiences: []string{"vault"},
			setup: func(t *testing.T) (string, string) {
				return c.AdminToken(), "invalid bearer token"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, wantErr := tt.setup(t)
			res := postReview(t, c, reviewer, token, tt.audiences...)
			if res.code != 201 {
				t.Fatalf("status %d, want 201: %s", res.code, res.body)
			}
			tr := mustDecodeReview(t, res.body)
			if tr.Status.Authenticated {
				t.Fatalf("authenticated: %+v", tr.Status)
			}
			if tr.Status.Error != wantErr {
				t.Errorf("status.error = %q\n                 want %q", tr.Status.Error, wantErr)
			}
			if tr.Status.User.Username != "" || tr.Status.Audiences != nil {
				t.Errorf("failed review has a user or audiences: %+v", tr.Status)
			}
			if !strings.Contains(string(res.body), `"status":{"user":{},"error":`) {
				t.Errorf("failed review body = %s", res.body)
			}
		})
	}
}

func TestExpiryFollowsTheClock(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now))
	reviewer := c.ReviewerToken("kube-system", "gatehouse", ExpiresIn(24*time.Hour))
	token := c.Token("ns", "app", ExpiresIn(10*time.Minute))

	if tr := mustReview(t, c, reviewer, token); !tr.Status.Authenticated {
		t.Fatalf("fresh token: %+v", tr.Status)
	}
	clk.Advance(10*time.Minute + 60*time.Second)
	if tr := mustReview(t, c, reviewer, token); !tr.Status.Authenticated {
		t.Fatalf("token at exp+60s (inside the leeway): %+v", tr.Status)
	}
	clk.Advance(time.Second)
	if tr := mustReview(t, c, reviewer, token); tr.Status.Authenticated {
		t.Fatalf("token at exp+61s: %+v", tr.Status)
	}
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now), WithTokenCacheTTL(10*time.Second))
	reviewer := c.ReviewerToken("kube-system", "gatehouse", ExpiresIn(24*time.Hour))
	token := c.Token("ns", "app")

	mustReview(t, c, reviewer, token)
	c.DeleteServiceAccount("ns", "app")
	if tr := mustReview(t, c, reviewer, token); !tr.Status.Authenticated {
		t.Fatalf("cached success should outlive the deletion for the TTL: %+v", tr.Status)
	}
	clk.Advance(10 * time.Second)
	if tr := mustReview(t, c, reviewer, token); tr.Status.Authenticated {
		t.Fatalf("cache should have expired: %+v", tr.Status)
	}
}

func mustDecodeReview(t *testing.T, body []byte) authv1.TokenReview {
	t.Helper()
	var tr authv1.TokenReview
	if err := jsonUnmarshal(body, &tr); err != nil {
		t.Fatalf("decode: %v: %s", err, body)
	}
	return tr
}
