package kubeauth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

func mustJWT(t *testing.T, raw string) JWT {
	t.Helper()
	j, err := ParseJWT(raw)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestLogin runs the pipeline against a test cluster: who may log in, and
// every way a login fails.
func TestLogin(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	other := kubetest.New(t)
	pod := c.CreatePod("apps", "web-0", "web")
	deleted := c.Token("apps", "gone")
	c.DeleteServiceAccount("apps", "gone")
	allowApps := Rules{Namespaces: Patterns{"apps", "team-*"}, Names: Patterns{"web", "worker-*"}}

	type want struct {
		ns, name, podName string
		auds              []string
	}
	ok := []struct {
		name  string
		rules Rules
		jwt   string
		want  want
	}{
		{"allowed account", allowApps, c.Token("apps", "web"), want{ns: "apps", name: "web", auds: c.APIAudiences()}},
		{"glob namespace and name", allowApps, c.Token("team-blue", "worker-7"), want{ns: "team-blue", name: "worker-7", auds: c.APIAudiences()}},
		{"empty rules allow any", Rules{}, c.Token("kube-system", "anything"), want{ns: "kube-system", name: "anything", auds: c.APIAudiences()}},
		{"pod-bound token", allowApps, c.Token("apps", "web", kubetest.BoundToPod(pod)), want{ns: "apps", name: "web", podName: "web-0", auds: c.APIAudiences()}},
		{"audience", Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web", kubetest.Audiences("gatehouse", "other")), want{ns: "apps", name: "web", auds: []string{"gatehouse"}}},
		{"audience from the JWT", Rules{AudiencesFromJWT: true}, c.Token("apps", "web", kubetest.Audiences("custom")), want{ns: "apps", name: "web", auds: []string{"custom"}}},
		{"expired within the API server's leeway", allowApps, c.Token("apps", "web", kubetest.ExpiresIn(-30*time.Second)), want{ns: "apps", name: "web", auds: c.APIAudiences()}},
	}
	s := testService(5 * time.Second)
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := s.Login(context.Background(), Config{Cluster: clusterOf(c), Rules: tc.rules}, mustJWT(t, tc.jwt))
			if err != nil {
				t.Fatal(err)
			}
			acct, _ := c.ServiceAccount(tc.want.ns, tc.want.name)
			if sa.Namespace != tc.want.ns || sa.Name != tc.want.name || sa.UID != acct.UID || sa.UID == "" ||
				sa.PodName != tc.want.podName || !slices.Equal(sa.Audiences, tc.want.auds) {
				t.Errorf("Login = %+v, want %+v uid %s", sa, tc.want, acct.UID)
			}
			if tc.want.podName != "" && sa.PodUID != pod.UID {
				t.Errorf("pod uid = %q, want %q", sa.PodUID, pod.UID)
			}
		})
	}

	bad := []struct {
		name  string
		rules Rules
		jwt   string
		errNm error
		msg   string
	}{
		{"wrong namespace", allowApps, c.Token("prod", "web"), nil, `namespace "prod" is not allowed`},
		{"wrong name", allowApps, c.Token("apps", "admin"), nil, `service account name "admin" is not allowed`},
		{"wrong audience", Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web"), ErrTokenReview, "token audiences"},
		{"token for another audience, none configured", Rules{}, c.Token("apps", "web", kubetest.Audiences("vault")), ErrTokenReview, "token audiences"},
		{"expired token", allowApps, c.Token("apps", "web", kubetest.ExpiresIn(-2*time.Minute)), ErrTokenReview, "service account token has expired"},
		{"deleted service account", allowApps, deleted, ErrTokenReview, `serviceaccounts "gone" not found`},
		{"token of another cluster", allowApps, other.Token("apps", "web"), ErrTokenReview, "invalid bearer token"},
		{"forged signature", allowApps, c.Token("apps", "web", kubetest.SignedWith(other.SigningKey()), kubetest.KeyID(c.KeyID())), ErrTokenReview, "invalid bearer token"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Login(context.Background(), Config{Cluster: clusterOf(c), Rules: tc.rules}, mustJWT(t, tc.jwt))
			checkErr(t, err, errs.Unauthenticated, tc.errNm, tc.msg)
		})
	}

	t.Run("gateway mode without gateways", func(t *testing.T) {
		cl := clusterOf(c)
		cl.ReviewMode = ReviewGateway
		cl.GatewayID = "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
		_, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, c.Token("apps", "web")))
		checkErr(t, err, errs.NotImplemented, nil, "gateways are not enabled on this server")
	})
}

// TestLoginBearer: the reviewer JWT is the TokenReview bearer; without one
// the login JWT itself is.
func TestLoginBearer(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	cl := clusterOf(c)
	jwt := c.Token("apps", "web")

	if _, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, jwt)); err != nil {
		t.Fatal(err)
	}
	if call, _ := c.LastTokenReview(); call.Bearer != cl.ReviewerJWT.Reveal() || call.Token != jwt {
		t.Errorf("with a reviewer: bearer is not the reviewer JWT")
	}

	cl.ReviewerJWT = ""
	_, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, jwt))
	checkErr(t, err, errs.Unauthenticated, ErrTokenReview, "HTTP 403 to the login JWT")
	c.GrantAuthDelegator("apps", "web")
	if _, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, jwt)); err != nil {
		t.Fatal(err)
	}
	if call, _ := c.LastTokenReview(); call.Bearer != jwt || call.Token != jwt {
		t.Errorf("without a reviewer: bearer is not the login JWT")
	}
}

// TestLoginLocalKeys: with pem_keys (Vault), the JWT is also checked
// locally; a failure there never reaches the API server.
func TestLoginLocalKeys(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	stranger, _ := testKeys(t)
	cl := clusterOf(c)
	cl.PEMKeys = []string{c.SigningKeyPEM()}
	cl.Issuer = c.Issuer()

	sa, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, c.Token("apps", "web")))
	if err != nil || sa.Name != "web" {
		t.Fatalf("Login = %+v, %v", sa, err)
	}
	bad := []struct {
		name   string
		modify func(*Cluster)
		rules  Rules
		jwt    string
		msg    string
	}{
		{"signed by another key", nil, Rules{}, c.Token("apps", "web", kubetest.SignedWith(stranger)), "does not verify with any of the configured public keys"},
		{"wrong issuer", func(cl *Cluster) { cl.Issuer = "https://elsewhere" }, Rules{}, c.Token("apps", "web"), "issuer (iss)"},
		{"expired", nil, Rules{}, c.Token("apps", "web", kubetest.ExpiresIn(-2*time.Minute)), "has expired"},
		{"wrong audience", nil, Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web"), "not valid for the audience"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cl := cl
			if tc.modify != nil {
				tc.modify(&cl)
			}
			before := c.TokenReviewCount()
			_, err := s.Login(context.Background(), Config{Cluster: cl, Rules: tc.rules}, mustJWT(t, tc.jwt))
			checkErr(t, err, errs.Unauthenticated, nil, tc.msg)
			if c.TokenReviewCount() != before {
				t.Error("a JWT that failed the local check was sent to the API server")
			}
		})
	}
	if _, err := ParsePEMKeys([]string{"not a key"}); err == nil || !strings.Contains(err.Error(), "RSA or ECDSA") {
		t.Errorf("ParsePEMKeys(garbage) = %v", err)
	}
	if keys, err := ParsePEMKeys([]string{c.SigningKeyPEM(), c.CAPEM()}); err != nil || len(keys) != 2 {
		t.Errorf("ParsePEMKeys(key, certificate) = %d keys, %v", len(keys), err)
	}
}

// TestJudge covers answers a faithful API server does not give but a
// broken or hostile one could: only the reviewed status decides.
func TestJudge(t *testing.T) {
	t.Parallel()
	sa := authv1.UserInfo{Username: "system:serviceaccount:apps:web", UID: "u-1"}
	cases := []struct {
		name  string
		st    authv1.TokenReviewStatus
		sent  []string
		rules Rules
		errNm error
		msg   string
	}{
		{"authenticated with an error", authv1.TokenReviewStatus{Authenticated: true, Error: "boom", User: sa}, nil, Rules{}, ErrTokenReview, "did not authenticate the token: boom"},
		{"not authenticated, no error", authv1.TokenReviewStatus{User: sa}, nil, Rules{}, ErrTokenReview, "Kubernetes token not authenticated"},
		{"audience missing from answer", authv1.TokenReviewStatus{Authenticated: true, User: sa, Audiences: []string{"other"}}, []string{"gatehouse"}, Rules{}, nil, `not valid for the audience "gatehouse"`},
		{"no audiences in answer", authv1.TokenReviewStatus{Authenticated: true, User: sa}, []string{"gatehouse"}, Rules{}, nil, "not valid for the audience"},
		{"not a service account", authv1.TokenReviewStatus{Authenticated: true, User: authv1.UserInfo{Username: "alice"}}, nil, Rules{}, ErrUsername, `belongs to "alice"`},
		{"five-part username", authv1.TokenReviewStatus{Authenticated: true, User: authv1.UserInfo{Username: "system:serviceaccount:a:b:c"}}, nil, Rules{}, ErrUsername, "not to a service account"},
		{"empty namespace", authv1.TokenReviewStatus{Authenticated: true, User: authv1.UserInfo{Username: "system:serviceaccount::web"}}, nil, Rules{}, ErrUsername, "not to a service account"},
		{"namespace", authv1.TokenReviewStatus{Authenticated: true, User: sa}, nil, Rules{Namespaces: Patterns{"prod"}}, nil, `namespace "apps"`},
		{"name", authv1.TokenReviewStatus{Authenticated: true, User: sa}, nil, Rules{Names: Patterns{"db-*"}}, nil, `name "web"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := judge(tc.st, tc.sent)
			if err == nil {
				err = tc.rules.allow(sa.Namespace, sa.Name)
			}
			checkErr(t, err, errs.Unauthenticated, tc.errNm, tc.msg)
		})
	}
	got, err := judge(authv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"gatehouse"}, User: authv1.UserInfo{
		Username: sa.Username, UID: "u-1", Extra: map[string]authv1.ExtraValue{extraPodName: {"web-0"}, extraPodUID: {"p-1"}},
	}}, []string{"gatehouse"})
	if err == nil {
		err = Rules{Namespaces: Patterns{"apps"}, Names: Patterns{"w*"}}.allow(got.Namespace, got.Name)
	}
	if err != nil || got.Namespace != "apps" || got.Name != "web" || got.UID != "u-1" || got.PodName != "web-0" || got.PodUID != "p-1" {
		t.Errorf("judge = %+v, %v", got, err)
	}
	md := got.Metadata()
	if md[MetaNamespace] != "apps" || md[MetaName] != "web" || md[MetaUID] != "u-1" || md[MetaPodName] != "web-0" || md[MetaPodUID] != "p-1" {
		t.Errorf("Metadata = %v", md)
	}
}

// TestLoginIssuer: in api mode without pem_keys, a configured issuer is
// checked against the JWT's (unverified) iss once the API server has
// authenticated the token, as Vault does; without one nothing is checked.
func TestLoginIssuer(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	projected := c.Token("apps", "web")
	legacy := c.LegacyToken("apps", "web")
	withIssuer := func(iss string) Config {
		cl := clusterOf(c)
		cl.Issuer = iss
		return Config{Cluster: cl}
	}
	for _, tc := range []struct {
		name, issuer, jwt string
		ok                bool
	}{
		{"no issuer: projected", "", projected, true},
		{"no issuer: legacy", "", legacy, true},
		{"the cluster's issuer", c.Issuer(), projected, true},
		{"the legacy issuer for a legacy token", kubetest.LegacyIssuer, legacy, true},
		{"another issuer", "https://elsewhere.example", projected, false},
		{"the cluster's issuer for a legacy token", c.Issuer(), legacy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.TokenReviewCount()
			sa, err := s.Login(context.Background(), withIssuer(tc.issuer), mustJWT(t, tc.jwt))
			if c.TokenReviewCount() == before {
				t.Error("no TokenReview was made")
			}
			if tc.ok {
				if err != nil || sa.Name != "web" {
					t.Fatalf("Login = %+v, %v", sa, err)
				}
				return
			}
			checkErr(t, err, errs.Unauthenticated, nil, `invalid issuer (iss) claim: the jwt's iss "`)
			if !errors.Is(err, ErrIssuerMismatch) {
				t.Errorf("error %v is not ErrIssuerMismatch", err)
			}
			if !strings.Contains(err.Error(), `is not the configured issuer "`+tc.issuer+`"`) {
				t.Errorf("error %q does not name the configured issuer", err)
			}
		})
	}
	// A token the API server does not authenticate fails on the review,
	// whatever its iss: the unverified claim decides nothing alone.
	gone := c.Token("apps", "gone")
	c.DeleteServiceAccount("apps", "gone")
	_, err := s.Login(context.Background(), withIssuer("https://elsewhere.example"), mustJWT(t, gone))
	if err == nil || errors.Is(err, ErrIssuerMismatch) {
		t.Errorf("unauthenticated token: err = %v, want the review's refusal", err)
	}
}
