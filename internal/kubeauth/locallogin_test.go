package kubeauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/logtest"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// syncBuffer is a log sink the code under test and the test may share.
type syncBuffer = logtest.Buffer

// epoch is where the manual clocks of these tests start.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// localFixture is a test cluster and a Service on one manual clock, in
// local mode against that cluster.
type localFixture struct {
	clock *kubetest.ManualClock
	c     *kubetest.Cluster
	s     *Service
	logs  *syncBuffer
	conn  Cluster
}

func newLocalFixture(t *testing.T, timeout time.Duration, opts ...kubetest.Option) *localFixture {
	t.Helper()
	clock := kubetest.NewManualClock(epoch)
	f := &localFixture{clock: clock, c: kubetest.New(t, append(opts, kubetest.WithClock(clock.Now))...), logs: &syncBuffer{}}
	f.s = NewService(nil, seal.Key{}, nil, nil, clock.Now, timeout, slog.New(slog.NewTextHandler(f.logs, nil)))
	f.conn = clusterOf(f.c)
	f.conn.ReviewMode = ReviewLocal
	// Long-lived, as the clock moves hours in some tests.
	f.conn.ReviewerJWT = secret.Secret(f.c.ReviewerToken("kube-system", "gatehouse-reviewer", kubetest.ExpiresIn(24*time.Hour)))
	return f
}

// cluster is a local-mode connection to the fixture's cluster, with a
// reviewer JWT (always the same one: it is part of the key set's cache
// key).
func (f *localFixture) cluster() Cluster { return f.conn }

func (f *localFixture) login(t *testing.T, cl Cluster, rules Rules, jwt string) (ServiceAccount, error) {
	t.Helper()
	return f.s.Login(context.Background(), Config{Cluster: cl, Rules: rules}, mustJWT(t, jwt))
}

// reads counts the cluster's reads of path.
func (f *localFixture) reads(path string) int {
	n := 0
	for _, call := range f.c.DiscoveryCalls() {
		if call.Path == path {
			n++
		}
	}
	return n
}

// testKeys are an RSA and an ECDSA key of no cluster.
func testKeys(tb testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	tb.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return rsaKey, ecKey
}

// signClaims signs arbitrary claims with key under kid, for tokens
// kube-apiserver would never mint.
func signClaims(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLocalLogin: local mode verifies the JWT with the cluster's published
// keys and judges its claims, and never asks for a TokenReview; what it
// returns is what the review path returns for the same token.
func TestLocalLogin(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	c := f.c
	other := kubetest.New(t)
	stranger, _ := testKeys(t)
	pod := c.CreatePod("apps", "web-0", "web")
	allowApps := Rules{Namespaces: Patterns{"apps", "team-*"}, Names: Patterns{"web", "worker-*"}}
	webUID := c.CreateServiceAccount("apps", "web").UID
	now := f.clock.Now()

	ok := []struct {
		name  string
		rules Rules
		jwt   string
		auds  []string
	}{
		{"allowed account", allowApps, c.Token("apps", "web"), []string{c.Issuer()}},
		{"pod-bound token", allowApps, c.Token("apps", "web", kubetest.BoundToPod(pod)), []string{c.Issuer()}},
		{"glob namespace and name", allowApps, c.Token("team-blue", "worker-7"), []string{c.Issuer()}},
		{"rules' audience", Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web", kubetest.Audiences("other", "gatehouse")), []string{"gatehouse"}},
		{"any audience with AudiencesFromJWT", Rules{AudiencesFromJWT: true}, c.Token("apps", "web", kubetest.Audiences("custom")), []string{"custom"}},
		{"expired within the leeway", allowApps, c.Token("apps", "web", kubetest.ExpiresIn(-30*time.Second)), []string{c.Issuer()}},
		{"no kid: every key is tried", allowApps, c.Token("apps", "web", kubetest.KeyID("")), []string{c.Issuer()}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := f.login(t, f.cluster(), tc.rules, tc.jwt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sa.Audiences, tc.auds) || sa.UID == "" {
				t.Errorf("Login = %+v, want audiences %q", sa, tc.auds)
			}
			// The review path answers the same for the same token.
			reviewRules := tc.rules
			if len(reviewRules.Audiences) == 0 && !reviewRules.AudiencesFromJWT {
				reviewRules.Audiences = nil // the API server's own audiences: the issuer
			}
			reviewed, err := f.login(t, clusterOf(c), reviewRules, tc.jwt)
			if err != nil {
				t.Fatalf("review path: %v", err)
			}
			if !reflect.DeepEqual(sa, reviewed) {
				t.Errorf("local %+v\nreview %+v", sa, reviewed)
			}
		})
	}
	sa, err := f.login(t, f.cluster(), allowApps, c.Token("apps", "web", kubetest.BoundToPod(pod)))
	if err != nil {
		t.Fatal(err)
	}
	if md := sa.Metadata(); md[MetaNamespace] != "apps" || md[MetaName] != "web" || md[MetaUID] != webUID || md[MetaPodName] != "web-0" || md[MetaPodUID] != pod.UID {
		t.Errorf("metadata of a pod-bound token = %v", md)
	}

	reviews := c.TokenReviewCount()
	kid := c.KeyID()
	bad := []struct {
		name   string
		modify func(*Cluster)
		rules  Rules
		jwt    string
		errNm  error
		msg    string
	}{
		{"expired", nil, allowApps, c.Token("apps", "web", kubetest.ExpiresIn(-2*time.Minute)), nil, "the jwt has expired (exp)"},
		{"legacy token: no exp", nil, allowApps, c.LegacyToken("apps", "web"), nil, errNoExpiry},
		{"not valid yet", nil, allowApps, c.Token("apps", "web", kubetest.IssuedAt(now.Add(5*time.Minute))), nil, "not valid yet (nbf/iat in the future)"},
		{"wrong iss claim", nil, allowApps, c.Token("apps", "web", kubetest.ClaimIssuer("https://evil.example")), nil, `issuer (iss) "https://evil.example" is not the issuer "` + c.Issuer() + `"`},
		{"configured issuer wins over the cluster's", func(cl *Cluster) { cl.Issuer = "https://elsewhere.example" }, allowApps, c.Token("apps", "web"), nil, `is not the issuer "https://elsewhere.example"`},
		{"bad signature under the cluster's kid", nil, allowApps, c.Token("apps", "web", kubetest.SignedWith(stranger), kubetest.KeyID(kid)), nil,
			"signature does not verify with any of the cluster's service-account signing keys (GET /openid/v1/jwks)"},
		{"another cluster's key, no kid", nil, allowApps, c.Token("apps", "web", kubetest.SignedWith(other.SigningKey()), kubetest.KeyID("")), nil, "signature does not verify"},
		{"another cluster's token", nil, allowApps, other.Token("apps", "web"), nil, "is not one of the cluster's service-account signing keys"},
		{"rules' audience missing", nil, Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web"), nil, `not valid for the audience ["gatehouse"]`},
		{"no audience configured: aud must hold the issuer", nil, Rules{}, c.Token("apps", "web", kubetest.Audiences("vault")), nil, "not valid for the audience"},
		{"AudiencesFromJWT: no aud at all", nil, Rules{AudiencesFromJWT: true}, signClaims(t, c.SigningKey(), kid, map[string]any{
			"iss": c.Issuer(), "sub": "system:serviceaccount:apps:web", "exp": now.Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"namespace": "apps", "serviceaccount": map[string]any{"name": "web", "uid": webUID}},
		}), nil, "has no audience"},
		{"namespace not allowed", nil, allowApps, c.Token("prod", "web"), nil, `K8s namespace "prod" is not allowed by allowedNamespaces`},
		{"name not allowed", nil, allowApps, c.Token("apps", "admin"), nil, `K8s service account name "admin" is not allowed by allowedNames`},
		{"sub names another account", nil, Rules{}, signClaims(t, c.SigningKey(), kid, map[string]any{
			"iss": c.Issuer(), "aud": []string{c.Issuer()}, "sub": "system:serviceaccount:kube-system:admin", "exp": now.Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"namespace": "apps", "serviceaccount": map[string]any{"name": "web", "uid": webUID}},
		}), nil, `subject (sub) "system:serviceaccount:kube-system:admin" is not its service account`},
		{"no service account uid", nil, Rules{}, signClaims(t, c.SigningKey(), kid, map[string]any{
			"iss": c.Issuer(), "aud": []string{c.Issuer()}, "sub": "system:serviceaccount:apps:web", "exp": now.Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"namespace": "apps", "serviceaccount": map[string]any{"name": "web"}},
		}), nil, "names no service account"},
		{"not a JWS go-jose reads", nil, allowApps, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", ErrMalformedJWT, "the jwt cannot be verified"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cl := f.cluster()
			if tc.modify != nil {
				tc.modify(&cl)
			}
			_, err := f.login(t, cl, tc.rules, tc.jwt)
			checkErr(t, err, errs.Unauthenticated, tc.errNm, tc.msg)
			if strings.Contains(errs.As(err).Error(), tc.jwt) {
				t.Error("the error holds the JWT")
			}
		})
	}
	var na *NotAllowedError
	if _, err := f.login(t, f.cluster(), allowApps, c.Token("prod", "web")); !errors.As(err, &na) || !errors.Is(err, ErrNamespaceNotAllowed) || na.Value != "prod" {
		t.Errorf("namespace refusal = %v, want the NotAllowedError the review path gives", err)
	}
	if _, err := f.login(t, f.cluster(), Rules{Audiences: []string{"gatehouse"}}, c.Token("apps", "web")); !errors.Is(err, ErrAudienceMismatch) {
		t.Errorf("audience refusal = %v, want ErrAudienceMismatch", err)
	}
	if n := c.TokenReviewCount(); n != reviews {
		t.Errorf("local mode made %d TokenReviews", n-reviews)
	}
	// One read of each document served every login: the keys are kept
	// (the key set once more for the config with its own issuer).
	if j, d := f.reads("/openid/v1/jwks"), f.reads("/.well-known/openid-configuration"); j != 2 || d != 1 {
		t.Errorf("key set read %d times, discovery document %d times; want 2 and 1", j, d)
	}
	if strings.Contains(f.logs.String(), clusterOf(c).ReviewerJWT.Reveal()) {
		t.Error("the log holds the reviewer JWT")
	}
}

// TestLocalLoginIssuer: with no configured issuer the discovery document's
// is checked (and read); a configured one is checked without reading it;
// pem_keys need one.
func TestLocalLoginIssuer(t *testing.T) {
	t.Parallel()
	const iss = "https://issuer.example.com"
	f := newLocalFixture(t, 5*time.Second, kubetest.WithIssuer(iss))
	jwt := f.c.Token("apps", "web")

	sa, err := f.login(t, f.cluster(), Rules{}, jwt)
	if err != nil || !slices.Equal(sa.Audiences, []string{iss}) {
		t.Fatalf("discovered issuer: %+v, %v", sa, err)
	}
	_, err = f.login(t, f.cluster(), Rules{}, f.c.Token("apps", "web", kubetest.ClaimIssuer(kubetest.DefaultIssuer)))
	checkErr(t, err, errs.Unauthenticated, nil, `is not the issuer "`+iss+`"`)

	configured := f.cluster()
	configured.Issuer = iss
	if _, err := f.login(t, configured, Rules{}, jwt); err != nil {
		t.Fatal(err)
	}
	if d := f.reads("/.well-known/openid-configuration"); d != 1 {
		t.Errorf("discovery document read %d times, want once (not for a configured issuer)", d)
	}

	pem := f.cluster()
	pem.Host, pem.PEMKeys = refusedHost(t), []string{f.c.SigningKeyPEM()}
	_, err = f.login(t, pem, Rules{}, jwt)
	checkErr(t, err, errs.BadRequest, nil, "local verification with pem_keys needs an issuer")
	pem.Issuer = iss
	if _, err := f.login(t, pem, Rules{}, jwt); err != nil {
		t.Fatalf("pem_keys and issuer, API server unreachable: %v", err)
	}
	pem.Issuer = "https://elsewhere.example"
	_, err = f.login(t, pem, Rules{}, jwt)
	checkErr(t, err, errs.Unauthenticated, nil, "issuer (iss)")
	_, err = f.login(t, pem, Rules{}, f.c.Token("apps", "web", kubetest.SignedWith(kubetest.New(t).SigningKey())))
	checkErr(t, err, errs.Unauthenticated, nil, "does not verify with any of the configured public keys (pem_keys)")
	if f.c.TokenReviewCount() != 0 {
		t.Error("a TokenReview was made in local mode")
	}
}

// TestLocalLoginKeyRotation: a JWT whose kid the kept set lacks makes the
// set be read again, at most once per KeySetMinRefetch per cluster.
func TestLocalLoginKeyRotation(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	c, cl := f.c, f.cluster()
	oldToken := c.Token("apps", "web")
	if _, err := f.login(t, cl, Rules{}, oldToken); err != nil {
		t.Fatal(err)
	}

	newKid := c.RotateSigningKey()
	newToken := c.Token("apps", "web")
	f.clock.Advance(KeySetMinRefetch - time.Second)
	_, err := f.login(t, cl, Rules{}, newToken)
	checkErr(t, err, errs.Unauthenticated, nil, fmt.Sprintf("key id (kid) %q is not one of the cluster's service-account signing keys", newKid))
	if n := f.reads("/openid/v1/jwks"); n != 1 {
		t.Fatalf("read the key set %d times within %s, want once", n, KeySetMinRefetch)
	}
	f.clock.Advance(time.Second)
	if _, err := f.login(t, cl, Rules{}, newToken); err != nil {
		t.Fatalf("new key after the rotation: %v", err)
	}
	if _, err := f.login(t, cl, Rules{}, oldToken); err != nil {
		t.Fatalf("old key, still published: %v", err)
	}
	if n := f.reads("/openid/v1/jwks"); n != 2 {
		t.Errorf("read the key set %d times, want twice", n)
	}
}

// TestLocalLoginUnknownKidFlood: junk kids, however many and however
// concurrent, read the key set at most once per KeySetMinRefetch.
func TestLocalLoginUnknownKidFlood(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	c, cl := f.c, f.cluster()
	if _, err := f.login(t, cl, Rules{}, c.Token("apps", "web")); err != nil {
		t.Fatal(err)
	}
	junk := make([]string, 40)
	for i := range junk {
		junk[i] = c.Token("apps", "web", kubetest.KeyID(fmt.Sprintf("junk-%d", i)))
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, j := range junk {
			wg.Go(func() {
				_, err := f.s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, j))
				if !errs.Is(err, errs.Unauthenticated) || !strings.Contains(err.Error(), "is not one of the cluster's service-account signing keys") {
					t.Errorf("junk kid: %v", err)
				}
			})
		}
		wg.Wait()
	}
	for _, step := range []struct {
		advance time.Duration
		reads   int
	}{
		{0, 1},                        // the first read was just now
		{KeySetMinRefetch, 2},         // one more read for the whole flood
		{KeySetMinRefetch / 2, 2},     // none within the interval
		{KeySetMinRefetch / 2, 3},     // then one again
		{KeySetMinRefetch * 3 / 4, 3}, // and none
	} {
		f.clock.Advance(step.advance)
		flood()
		if n := f.reads("/openid/v1/jwks"); n != step.reads {
			t.Fatalf("after %s more: %d reads of the key set, want %d", step.advance, n, step.reads)
		}
	}
}

// TestLocalLoginSharedRead: concurrent first logins share one read.
func TestLocalLoginSharedRead(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	cl := f.cluster()
	jwt := f.c.Token("apps", "web")
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := f.s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, jwt)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if j, d := f.reads("/openid/v1/jwks"), f.reads("/.well-known/openid-configuration"); j != 1 || d != 1 {
		t.Errorf("%d concurrent first logins read the key set %d times and the discovery document %d times, want once each", 32, j, d)
	}
	if n := f.s.keySets.cached(); n != 1 {
		t.Errorf("%d key sets kept, want 1", n)
	}
}

// TestLocalLoginStaleKeys: a set older than KeySetRefreshAfter is read
// again; when that fails, the set held is used (with a warning) until it
// is KeySetMaxStale old, then logins fail with the read's error.
func TestLocalLoginStaleKeys(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	c, cl := f.c, f.cluster()
	login := func() error {
		t.Helper()
		_, err := f.login(t, cl, Rules{}, c.Token("apps", "web"))
		return err
	}
	if err := login(); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(KeySetRefreshAfter - time.Second)
	if err := login(); err != nil || f.reads("/openid/v1/jwks") != 1 {
		t.Fatalf("fresh set: %v, %d reads", err, f.reads("/openid/v1/jwks"))
	}
	f.clock.Advance(time.Second)
	if err := login(); err != nil || f.reads("/openid/v1/jwks") != 2 {
		t.Fatalf("refresh: %v, %d reads", err, f.reads("/openid/v1/jwks"))
	}

	c.FailAllDiscovery(kubetest.FaultInternalError)
	f.clock.Advance(KeySetRefreshAfter)
	if err := login(); err != nil {
		t.Fatalf("a failed refresh must not fail the login while the set is young enough: %v", err)
	}
	if !strings.Contains(f.logs.String(), "reading a Kubernetes cluster's signing keys failed") || !strings.Contains(f.logs.String(), "HTTP 500") {
		t.Errorf("no warning logged: %s", f.logs.String())
	}
	f.clock.Advance(KeySetMinRefetch / 2)
	if err := login(); err != nil || f.reads("/openid/v1/jwks") != 3 {
		t.Fatalf("within the retry interval: %v, %d reads, want 3", err, f.reads("/openid/v1/jwks"))
	}
	// Up to KeySetMaxStale after the last good read.
	f.clock.Advance(KeySetMaxStale - KeySetRefreshAfter - KeySetMinRefetch/2 - time.Second)
	if err := login(); err != nil {
		t.Fatalf("just within %s: %v", KeySetMaxStale, err)
	}
	f.clock.Advance(time.Second)
	err := login()
	checkErr(t, err, errs.BadGateway, ErrAPI, "the cluster's signing keys were last read 1h0m0s ago")
	checkErr(t, err, errs.BadGateway, ErrAPI, "failed GET /openid/v1/jwks with HTTP 500")

	c.ClearFaults()
	f.clock.Advance(KeySetMinRefetch)
	if err := login(); err != nil {
		t.Fatalf("after the API server is back: %v", err)
	}
	for _, secret := range []string{cl.ReviewerJWT.Reveal()} {
		if strings.Contains(f.logs.String(), secret) {
			t.Error("the log holds a JWT")
		}
	}
	if c.TokenReviewCount() != 0 {
		t.Error("a TokenReview was made in local mode")
	}
}

// TestLocalLoginKeyReadFailures: with no set held, every way of not
// getting one is the error class the TokenReview path gives for it.
func TestLocalLoginKeyReadFailures(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 10*time.Second)
	c := f.c
	other := kubetest.New(t)
	unbound := kubetest.New(t, kubetest.WithoutIssuerDiscoveryBinding())
	jwt := c.Token("apps", "web")
	vaultJWT := c.Token("apps", "web", kubetest.Audiences("vault"))

	cases := []struct {
		name   string
		modify func(*Cluster)
		fault  func()
		jwt    string
		code   errs.Code
		errNm  error
		msg    string
	}{
		{"unreachable", func(cl *Cluster) { cl.Host = refusedHost(t) }, nil, jwt,
			errs.BadGateway, ErrConnectionRefused, "was refused"},
		{"wrong CA", func(cl *Cluster) { cl.CACert = other.CAPEM() }, nil, jwt,
			errs.BadGateway, ErrCertificate, "TLS certificate verification"},
		{"slow", nil, func() { c.SetDiscoveryLatency(time.Hour) }, jwt,
			errs.BadGateway, ErrConnectionTimeout, "did not answer within 300ms"},
		{"500", nil, func() { c.FailNextDiscovery(kubetest.FaultInternalError, 1) }, jwt,
			errs.BadGateway, ErrAPI, "failed GET /openid/v1/jwks with HTTP 500"},
		{"429", nil, func() { c.FailNextDiscovery(kubetest.FaultTooManyRequests, 1) }, jwt,
			errs.BadGateway, ErrAPI, "shedding load (HTTP 429)"},
		{"garbage", nil, func() { c.FailNextDiscovery(kubetest.FaultGarbage, 1) }, jwt,
			errs.BadGateway, ErrAPI, `answered GET /openid/v1/jwks (HTTP 200) with something that is not a usable JSON Web Key Set: it is not a JSON object with a "keys" list`},
		{"oversized", nil, func() { c.FailNextDiscovery(kubetest.FaultOversized, 1) }, jwt,
			errs.BadGateway, ErrAPI, "answered more than 256 KiB to GET /openid/v1/jwks"},
		{"dropped", nil, func() { c.FailNextDiscovery(kubetest.FaultDrop, 1) }, jwt,
			errs.BadGateway, ErrAPI, "failed before an answer"},
		{"discovery document failing", nil, func() {
			c.FailNextDiscovery(kubetest.FaultNone, 1)
			c.FailNextDiscovery(kubetest.FaultGarbage, 1)
		}, jwt, errs.BadGateway, ErrAPI, "GET /.well-known/openid-configuration (HTTP 200) with something that is not a usable OpenID configuration"},
		{"reviewer JWT invalid", func(cl *Cluster) { cl.ReviewerJWT = secret.Secret(other.ReviewerToken("kube-system", "r")) }, nil, jwt,
			errs.Unauthenticated, ErrIssuerDiscovery, "token reviewer JWT is invalid or expired (the Kubernetes API server answered GET /openid/v1/jwks with HTTP 401)"},
		{"login JWT as bearer, not for the API server's audience", func(cl *Cluster) { cl.ReviewerJWT = "" }, nil, vaultJWT,
			errs.Unauthenticated, ErrIssuerDiscovery, "rejected the login JWT (no token reviewer JWT is configured, so a login's own JWT is the bearer of GET /openid/v1/jwks) (HTTP 401)"},
		{"reviewer without issuer discovery", func(cl *Cluster) {
			cl.Host, cl.CACert, cl.ReviewerJWT = unbound.URL(), unbound.CAPEM(), secret.Secret(unbound.ReviewerToken("kube-system", "r"))
		}, nil, unbound.Token("apps", "web"),
			errs.Unauthenticated, ErrIssuerDiscovery, "the token reviewer JWT is not allowed to read the cluster's service-account issuer keys (kube-apiserver answered 403 to GET /openid/v1/jwks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: faults are injected into the shared cluster.
			t.Cleanup(c.ClearFaults)
			cl := f.cluster()
			if tc.modify != nil {
				tc.modify(&cl)
			}
			if tc.fault != nil {
				tc.fault()
			}
			timeout := 10 * time.Second // generous: a loaded machine must not turn a case into a timeout
			if tc.name == "slow" {
				timeout = 300 * time.Millisecond // its server never answers
			}
			s := NewService(nil, seal.Key{}, nil, nil, f.clock.Now, timeout, nil) // nothing kept from an earlier case
			_, err := s.Login(context.Background(), Config{Cluster: cl}, mustJWT(t, tc.jwt))
			checkErr(t, err, tc.code, tc.errNm, tc.msg)
			if full := errs.As(err).Error(); strings.Contains(full, tc.jwt) || (cl.ReviewerJWT != "" && strings.Contains(full, cl.ReviewerJWT.Reveal())) {
				t.Error("the error holds a JWT")
			}
		})
	}
	// Without a reviewer JWT the login JWT is the bearer, only when the
	// keys are read.
	cl := f.cluster()
	cl.ReviewerJWT = ""
	for range 3 {
		if _, err := f.login(t, cl, Rules{}, jwt); err != nil {
			t.Fatal(err)
		}
	}
	var bearers []string
	for _, call := range c.DiscoveryCalls() {
		if call.StatusCode == 200 && call.Fault == kubetest.FaultNone {
			bearers = append(bearers, call.Bearer)
		}
	}
	if len(bearers) < 2 || bearers[len(bearers)-1] != jwt || bearers[len(bearers)-2] != jwt {
		t.Errorf("the last reads' bearers are not the login JWT")
	}
	if n := f.reads("/openid/v1/jwks"); n > len(cases)+1 {
		t.Errorf("%d reads: the login JWT's logins read the keys more than once", n)
	}
	if c.TokenReviewCount() != 0 {
		t.Error("a TokenReview was made in local mode")
	}
}

// TestProbeLocal: attaching or changing a local-mode config reads the key
// set and discovery document with the reviewer JWT.
func TestProbeLocal(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 2*time.Second)
	unbound := kubetest.New(t, kubetest.WithoutIssuerDiscoveryBinding())
	if err := f.s.Probe(context.Background(), f.cluster()); err != nil {
		t.Fatal(err)
	}
	if j, d := f.reads("/openid/v1/jwks"), f.reads("/.well-known/openid-configuration"); j != 1 || d != 1 || f.c.TokenReviewCount() != 0 {
		t.Errorf("probe: %d key set reads, %d discovery reads, %d TokenReviews", j, d, f.c.TokenReviewCount())
	}
	for _, tc := range []struct {
		name   string
		modify func(*Cluster)
		errNm  error
		msg    string
	}{
		{"unreachable", func(cl *Cluster) { cl.Host = refusedHost(t) }, ErrConnectionRefused, "was refused"},
		{"reviewer invalid", func(cl *Cluster) { cl.ReviewerJWT = "x.y.z" }, ErrIssuerDiscovery, "token reviewer JWT is invalid or expired"},
		{"reviewer not allowed", func(cl *Cluster) {
			cl.Host, cl.CACert, cl.ReviewerJWT = unbound.URL(), unbound.CAPEM(), secret.Secret(unbound.ReviewerToken("kube-system", "r"))
		}, ErrIssuerDiscovery, "grant system:service-account-issuer-discovery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := f.cluster()
			tc.modify(&cl)
			err := f.s.Probe(context.Background(), cl)
			checkErr(t, err, errs.BadRequest, tc.errNm, "the Kubernetes API server check failed, nothing was changed: ")
			checkErr(t, err, errs.BadRequest, tc.errNm, tc.msg)
		})
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := testKeys(t)
	set := func(keys ...jose.JSONWebKey) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rsaJWK := jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "r", Algorithm: "RS256", Use: "sig"}
	ecJWK := jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "e"}
	many := make([]jose.JSONWebKey, MaxKeySetKeys+1)
	for i := range many {
		many[i] = jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: fmt.Sprint(i)}
	}
	cases := []struct {
		name string
		raw  string
		kids []string
		msg  string
	}{
		{"RSA and ECDSA", set(rsaJWK, ecJWK), []string{"r", "e"}, ""},
		{"encryption key left out", set(rsaJWK, jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "enc", Use: "enc"}), []string{"r"}, ""},
		{"private key left out", set(jose.JSONWebKey{Key: ecKey, KeyID: "priv"}, ecJWK), []string{"e"}, ""},
		{"symmetric key left out", set(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac"}, rsaJWK), []string{"r"}, ""},
		{"unknown key type left out", `{"keys":[{"kty":"XYZ","kid":"x"},` + strings.TrimPrefix(set(ecJWK), `{"keys":[`), []string{"e"}, ""},
		{"only unusable keys", set(jose.JSONWebKey{Key: ecKey, KeyID: "priv"}), nil, "no usable RSA or ECDSA signature key (key 1: not an RSA or ECDSA public key)"},
		{"no keys", `{"keys":[]}`, nil, "holds no keys"},
		{"too many keys", set(many...), nil, "more than the 100 allowed"},
		{"not JSON", `<html>`, nil, `not a JSON object with a "keys" list`},
		{"keys not a list", `{"keys":{}}`, nil, `not a JSON object with a "keys" list`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tc.raw))
			if tc.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("parseJWKS = %v, want an error holding %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
			}
			if !slices.Equal(kids, tc.kids) {
				t.Errorf("kids = %q, want %q", kids, tc.kids)
			}
		})
	}
	for raw, want := range map[string]string{
		`{"issuer":"https://k.example"}`: "", `{"issuer":""}`: "names no issuer", `{}`: "names no issuer",
		`{"issuer":7}`: "not a JSON object", `[]`: "not a JSON object", `{"issuer":"` + strings.Repeat("x", MaxIssuerLen+1) + `"}`: "longer than 1024",
	} {
		iss, err := parseDiscovery([]byte(raw))
		if (want == "" && (err != nil || iss != "https://k.example")) || (want != "" && (err == nil || !strings.Contains(err.Error(), want))) {
			t.Errorf("parseDiscovery(%.40s) = %q, %v; want error %q", raw, iss, err, want)
		}
	}
}

// FuzzParseJWKS: the key set and discovery parsers never panic, and what
// the key set parser keeps is only ever public RSA or ECDSA keys, 1 to
// MaxKeySetKeys of them.
func FuzzParseJWKS(f *testing.F) {
	rsaKey, ecKey := testKeys(f)
	good, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsaKey.PublicKey, KeyID: "r", Algorithm: "RS256", Use: "sig"}, {Key: &ecKey.PublicKey, KeyID: "e"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(good), `{"keys":[]}`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`, `{"issuer":"https://kubernetes.default.svc"}`, `null`, `{"keys":null}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = parseDiscovery(raw)
		keys, err := parseJWKS(raw)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > MaxKeySetKeys {
			t.Fatalf("%d keys kept", len(keys))
		}
		for _, k := range keys {
			switch k.key.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey:
			default:
				t.Fatalf("kept a %T", k.key)
			}
		}
	})
}

// TestLocalLoginWithoutReviewer: without a reviewer JWT the login JWT is
// the bearer of the reads; junk JWTs cannot refresh the held keys or make
// them go stale.
func TestLocalLoginWithoutReviewer(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 5*time.Second)
	c, cl := f.c, f.cluster()
	cl.ReviewerJWT = ""
	stranger, _ := testKeys(t)
	login := func(jwt string) error {
		t.Helper()
		_, err := f.login(t, cl, Rules{}, jwt)
		return err
	}
	first := c.Token("apps", "web")
	if err := login(first); err != nil {
		t.Fatal(err)
	}
	if err := login(c.Token("apps", "web")); err != nil || f.reads("/openid/v1/jwks") != 1 {
		t.Fatalf("second login: %v, %d reads", err, f.reads("/openid/v1/jwks"))
	}

	f.clock.Advance(KeySetRefreshAfter)
	forged := c.Token("apps", "web", kubetest.SignedWith(stranger), kubetest.KeyID(c.KeyID()))
	junkKid := c.Token("apps", "web", kubetest.SignedWith(stranger), kubetest.KeyID("junk"))
	checkErr(t, login(forged), errs.Unauthenticated, nil, "signature does not verify")
	if n := f.reads("/openid/v1/jwks"); n != 1 {
		t.Errorf("a JWT the held keys do not verify refreshed them (%d reads)", n)
	}
	// A new kid is read at once, with that JWT: the API server refuses it,
	// which fails that login only.
	checkErr(t, login(junkKid), errs.Unauthenticated, nil, `key id (kid) "junk" is not one of the cluster's service-account signing keys`)
	if calls := c.DiscoveryCalls(); calls[len(calls)-1].Bearer != junkKid || calls[len(calls)-1].StatusCode != 401 {
		t.Errorf("the new kid's read: %+v", calls[len(calls)-1].StatusCode)
	}
	if n := f.reads("/openid/v1/jwks"); n != 2 {
		t.Errorf("%d reads, want the one for the new kid", n)
	}
	// A good JWT still refreshes at once, with itself as the bearer.
	good := c.Token("apps", "web")
	if err := login(good); err != nil {
		t.Fatal(err)
	}
	calls := c.DiscoveryCalls()
	if n := f.reads("/openid/v1/jwks"); n != 3 || calls[len(calls)-1].Bearer != good || calls[len(calls)-1].StatusCode != 200 {
		t.Errorf("%d reads; last read's bearer is the good login JWT: %v", n, calls[len(calls)-1].Bearer == good)
	}
	if strings.Contains(f.logs.String(), "failed") {
		t.Errorf("a junk JWT's refused read was logged as a failed refresh: %s", f.logs.String())
	}
	if c.TokenReviewCount() != 0 {
		t.Error("a TokenReview was made in local mode")
	}
}
