package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// scenario is one named measurement: setup prepares it over the HTTP API
// and says what to send; the load generator does the rest.
type scenario struct {
	name    string
	about   string  // what is measured, for --list and the report
	ceiling string  // the baseline scenario it is compared with; "" for a baseline
	alsoVs  string  // a second baseline it is compared with, without a target; "" for none
	target  *target // issue 7's target, nil when it has none
	setup   func(ctx context.Context, e *env) (*plan, error)
}

// target is a goal from issue 7: at least minRatio of the ceiling's
// requests/s and, when maxP99 is set, a p99 under it.
type target struct {
	minRatio float64
	maxP99   time.Duration
}

func (t *target) String() string {
	s := fmt.Sprintf("≥ %.0f %%", t.minRatio*100)
	if t.maxP99 > 0 {
		s += ", p99 < " + formatMS(t.maxP99)
	}
	return s
}

// plan is a scenario ready to run.
type plan struct {
	server *proc // whose RSS is reported
	beside *proc // a server the server calls, whose CPU is reported apart; nil when none
	tls    *tlsSettings
	req    request
	note   string // exactly what was measured, when the name does not say it all
}

// Issue 7's targets (2-core machine, SQLite, concurrency 64).
var (
	tokenCheck = &target{minRatio: 0.50, maxP99: 5 * time.Millisecond}
	// uaLogin: a login that makes no outside call and writes a token.
	uaLogin = &target{minRatio: 0.25}
	// kubeLogin: a login in TokenReview mode, next to the review it waits on.
	kubeLogin = &target{minRatio: 0.70}
	// kubeLocalLogin: "Kubernetes login with local key verification", a
	// login that verifies an RS256 JWT and writes a token.
	kubeLocalLogin = &target{minRatio: 0.25}
)

// registry is every scenario, baselines first, in the order they run:
// token checks before logins, which add a token to the store each.
func registry() []scenario { return append(coreScenarios(), oidcScenarios()...) }

func coreScenarios() []scenario {
	return []scenario{
		{
			name:  "baseline-nethttp",
			about: "GET against a trivial net/http handler in its own process: the ceiling for token checks and for logins that make no outside call",
			setup: setupNetHTTP,
		},
		{
			name:  "baseline-tokenreview",
			about: "TokenReview POSTed straight at the test Kubernetes API server (internal/kubetest, with --kube-latency added): the ceiling for Kubernetes logins in TokenReview mode",
			setup: setupTokenReview,
		},
		{
			name:    "token-check-infisical",
			about:   "GET /api/v1/auth/token/lookup with an unlimited token (Authorization: Bearer)",
			ceiling: "baseline-nethttp", target: tokenCheck,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupTokenCheck(ctx, e, infisicalLookup, 0)
			},
		},
		{
			name:    "token-check-vault",
			about:   "GET /v1/auth/token/lookup-self with an unlimited token (X-Vault-Token)",
			ceiling: "baseline-nethttp", target: tokenCheck,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupTokenCheck(ctx, e, vaultLookupSelf, 0)
			},
		},
		{
			name:    "token-check-limited",
			about:   "GET /api/v1/auth/token/lookup with a use-limited identity token (each request spends a use in the store)",
			ceiling: "baseline-nethttp", target: tokenCheck,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				// Enough uses for every request the run may make, warm-up
				// included: the request cap bounds them.
				return setupTokenCheck(ctx, e, infisicalLookup, e.opts.maxRequests+1000)
			},
		},
		{
			name: "token-check-seeded",
			about: "GET /api/v1/auth/token/lookup with a different random token of the --seed-tokens seeded into the store at each request " +
				"(issue 7's 1,000,000-token target; skipped without --seed-tokens)",
			ceiling: "baseline-nethttp", target: tokenCheck,
			setup: setupSeededTokenCheck,
		},
		{
			name:    "login-universal-auth",
			about:   "POST /api/v1/auth/universal-auth/login with an unlimited client secret (each login counts a secret use and writes a token)",
			ceiling: "baseline-nethttp", target: uaLogin,
			setup: setupUniversalAuthLogin,
		},
		{
			name:    "login-kube-infisical",
			about:   "POST /api/v1/auth/kubernetes-auth/login in TokenReview mode: gatehouse has the test Kubernetes API server review the workload's JWT (--kube-latency added), then writes a token",
			ceiling: "baseline-tokenreview", target: kubeLogin,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupKubernetesLogin(ctx, e, "api", false)
			},
		},
		{
			name: "login-kube-infisical-http1",
			about: "login-kube-infisical against a second test Kubernetes API server that speaks HTTP/1.1 only (as one behind an HTTP/1.1 proxy does): " +
				"every review in flight needs a TLS connection of its own, so this measures whether gatehouse keeps them",
			ceiling: "baseline-tokenreview", target: kubeLogin,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupKubernetesLogin(ctx, e, "api", true)
			},
		},
		{
			name: "login-kube-infisical-gateway",
			about: "POST /api/v1/auth/kubernetes-auth/login with tokenReviewMode \"gateway\": a `gatehouse gateway` process makes the TokenReview with its own token " +
				"(--kube-latency added), carried over its one connection to gatehouse; compare with login-kube-infisical (direct)",
			ceiling: "baseline-tokenreview", target: kubeLogin, alsoVs: "login-kube-infisical",
			setup: setupGatewayLogin,
		},
		{
			name: "login-kube-infisical-local",
			about: "POST /api/v1/auth/kubernetes-auth/login with tokenReviewMode \"local\": gatehouse verifies the workload's JWT with the test cluster's signing keys " +
				"(read once from its /openid/v1/jwks and kept), no TokenReview, then writes a token",
			ceiling: "baseline-nethttp", target: kubeLocalLogin,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupKubernetesLogin(ctx, e, "local", false)
			},
		},
		{
			name:    "login-kube-vault",
			about:   "PUT /v1/auth/<mount>/login on the Vault API, TokenReview mode: the test Kubernetes API server reviews the workload's JWT (--kube-latency added), then gatehouse writes a token",
			ceiling: "baseline-tokenreview", target: kubeLogin,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupVaultKubernetesLogin(ctx, e, vaultReview)
			},
		},
		{
			name: "login-kube-vault-pemkeys",
			about: "PUT /v1/auth/<mount>/login on the Vault API with pem_keys set to the test cluster's signing key: the JWT's signature is checked locally, " +
				"and (Vault's rule) the TokenReview is still made, so this also waits on the test API server",
			ceiling: "baseline-nethttp", target: uaLogin, alsoVs: "baseline-tokenreview",
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupVaultKubernetesLogin(ctx, e, vaultPEMKeys)
			},
		},
		{
			name: "login-kube-vault-local",
			about: "PUT /v1/auth/<mount>/login on the Vault API with token_review_mode \"local\": the JWT is verified with the test cluster's signing keys " +
				"(read once from its /openid/v1/jwks and kept), no TokenReview, then gatehouse writes a token",
			ceiling: "baseline-nethttp", target: kubeLocalLogin,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupVaultKubernetesLogin(ctx, e, vaultLocal)
			},
		},
	}
}

// selectScenarios picks the named scenarios (all when names is empty) in
// registry order, adding the baselines they are compared with.
func selectScenarios(names []string) ([]scenario, error) {
	all := registry()
	if len(names) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		found := false
		for _, sc := range all {
			if sc.name == n {
				found = true
				want[n] = true
				if sc.ceiling != "" {
					want[sc.ceiling] = true
				}
				if sc.alsoVs != "" {
					want[sc.alsoVs] = true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (--list shows them)", n)
		}
	}
	var out []scenario
	for _, sc := range all {
		if want[sc.name] {
			out = append(out, sc)
		}
	}
	return out, nil
}

func setupNetHTTP(ctx context.Context, e *env) (*plan, error) {
	h, err := e.NetHTTP(ctx)
	if err != nil {
		return nil, err
	}
	url := h.info.URL + "/"
	return &plan{
		server: h.proc,
		req: request{
			new: func(ctx context.Context) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			},
			check: wantBody(trivialBody),
		},
	}, nil
}

func setupTokenReview(ctx context.Context, e *env) (*plan, error) {
	h, err := e.Kube(ctx)
	if err != nil {
		return nil, err
	}
	url := h.info.URL + "/apis/authentication.k8s.io/v1/tokenreviews"
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"` + h.info.LoginJWT + `"}}`)
	bearer := "Bearer " + h.info.ReviewerJWT
	return &plan{
		server: h.proc,
		tls:    &tlsSettings{caPEM: h.info.CAPEM, http2: e.opts.kubeHTTP2},
		req: request{
			new: func(ctx context.Context) (*http.Request, error) {
				r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", bearer)
				return r, nil
			},
			check: wantBody([]byte(`"authenticated":true`)),
		},
		note: fmt.Sprintf("reviewer and workload tokens are RS256 service account JWTs; %s added per review; %s", e.opts.kubeLatency, protoName(e.opts.kubeHTTP2)),
	}, nil
}

func protoName(http2 bool) string {
	if http2 {
		return "HTTP/2 over TLS (one multiplexed connection)"
	}
	return "keep-alive HTTP/1.1 over TLS"
}

// lookupEndpoint is a token-check endpoint of one of the two APIs.
type lookupEndpoint struct {
	path   string
	header func(tok string) (key, value string)
	want   []byte // in every successful answer
}

var (
	infisicalLookup = lookupEndpoint{
		path:   "/api/v1/auth/token/lookup",
		header: func(tok string) (string, string) { return "Authorization", "Bearer " + tok },
		want:   []byte(`"token":{`),
	}
	vaultLookupSelf = lookupEndpoint{
		path:   "/v1/auth/token/lookup-self",
		header: func(tok string) (string, string) { return "X-Vault-Token", tok },
		want:   []byte(`"accessor":`),
	}
)

// setupTokenCheck gets a token and checks it over and over at ep. An
// unlimited check uses an identity token from Universal Auth when the
// build has it, else the root token (said so in the note); a use-limited
// check needs Universal Auth.
func setupTokenCheck(ctx context.Context, e *env, ep lookupEndpoint, numUsesLimit int64) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := e.universalAuthToken(ctx, g, numUsesLimit)
	var note string
	switch {
	case err == nil && numUsesLimit > 0:
		note = fmt.Sprintf("identity token from Universal Auth, numUsesLimit %d (a store write per check); trusted IPs 0.0.0.0/0, ::/0", numUsesLimit)
	case err == nil:
		note = "identity token from Universal Auth, unlimited; trusted IPs 0.0.0.0/0, ::/0 (the check reads the token, its auth method and the identity's role)"
	case numUsesLimit == 0 && errors.As(err, new(*skipError)):
		tok = g.rootToken
		note = "ROOT token: this build has no Universal Auth, so the API cannot mint an identity token. Same check path, minus the two reads an identity token adds (its auth method's trusted IPs, the identity's role)"
	default:
		return nil, err
	}
	url := g.url + ep.path
	hk, hv := ep.header(tok)
	return &plan{
		server: g.proc,
		req: request{
			new: func(ctx context.Context) (*http.Request, error) {
				r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return nil, err
				}
				r.Header.Set(hk, hv)
				return r, nil
			},
			check: wantBody(ep.want),
		},
		note: note,
	}, nil
}

// loginAnswer is in every successful login answer of the Infisical API.
var loginAnswer = []byte(`"accessToken":"`)

// postJSON is a request that POSTs body to url.
func postJSON(url string, body []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", "application/json")
		return r, nil
	}
}

func setupUniversalAuthLogin(ctx context.Context, e *env) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	e.uaMu.Lock()
	c, err := e.universalAuthClient(ctx, g, 0)
	e.uaMu.Unlock()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return &plan{
		server: g.proc,
		req:    request{new: postJSON(g.url+"/api/v1/auth/universal-auth/login", body), check: wantBody(loginAnswer)},
		note:   "one identity, one unlimited client secret; tokens unlimited, trusted IPs 0.0.0.0/0, ::/0; every login is a successful one",
	}, nil
}

// setupKubernetesLogin logs the bench's workload in on the Infisical API,
// in tokenReviewMode mode ("api" or "local"), against the test API server
// that speaks HTTP/1.1 only when http1 is set.
func setupKubernetesLogin(ctx context.Context, e *env, mode string, http1 bool) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	kube := e.Kube
	if http1 {
		kube = e.KubeHTTP1
	}
	k, err := kube(ctx)
	if err != nil {
		return nil, err
	}
	id, err := e.kubernetesAuthIdentity(ctx, g, k, mode)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]string{"identityId": id, "jwt": k.info.LoginJWT})
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("workload JWT of %s/%s reviewed by the test API server (CA given, TLS verified; %s added per review)", kubeLoginNS, kubeLoginName, e.opts.kubeLatency)
	if http1 {
		note = fmt.Sprintf("workload JWT of %s/%s reviewed by a test API server that offers HTTP/1.1 only, no h2 (CA given, TLS verified; %s added per review); "+
			"the ceiling's client speaks %s", kubeLoginNS, kubeLoginName, e.opts.kubeLatency, protoName(e.opts.kubeHTTP2))
	}
	if mode == "local" {
		note = "tokenReviewMode local: " + localKubeNote()
	}
	return &plan{
		server: g.proc,
		beside: k.proc,
		req:    request{new: postJSON(g.url+"/api/v1/auth/kubernetes-auth/login", body), check: wantBody(loginAnswer)},
		note:   note + "; RSS is gatehouse's, the test API server runs beside it on the same cores",
	}, nil
}

// localKubeNote says what a Kubernetes login in local mode measures.
func localKubeNote() string {
	return fmt.Sprintf("the workload JWT of %s/%s is verified locally (RS256) with the key set gatehouse read once from the test API server's /openid/v1/jwks with the reviewer JWT "+
		"(and its issuer from /.well-known/openid-configuration), then kept; no TokenReview, so no --kube-latency", kubeLoginNS, kubeLoginName)
}

// vaultLoginAnswer is in every successful login answer of the Vault API.
var vaultLoginAnswer = []byte(`"client_token":"`)

// setupVaultKubernetesLogin logs the bench's workload in on a Vault API
// Kubernetes mount in the given mode.
func setupVaultKubernetesLogin(ctx context.Context, e *env, mode vaultKubeMode) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	k, err := e.Kube(ctx)
	if err != nil {
		return nil, err
	}
	mount, role, err := e.vaultKubernetesMount(ctx, g, k, mode)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]string{"role": role, "jwt": k.info.LoginJWT})
	if err != nil {
		return nil, err
	}
	url := g.url + "/v1/auth/" + mount + "/login"
	note := fmt.Sprintf("workload JWT of %s/%s reviewed by the test API server (CA given, TLS verified; %s added per review)", kubeLoginNS, kubeLoginName, e.opts.kubeLatency)
	switch mode {
	case vaultLocal:
		note = "token_review_mode local: " + localKubeNote()
	case vaultPEMKeys:
		note = fmt.Sprintf("pem_keys = the test cluster's RS256 signing key: the signature is verified locally, then (as Vault does) the JWT is still reviewed by the test API server (%s added per review), so the login waits on the same call as login-kube-vault; "+
			"issue 7's 25 %% target is against baseline-nethttp, the ratio to baseline-tokenreview is shown too", e.opts.kubeLatency)
	}
	return &plan{
		server: g.proc,
		beside: k.proc,
		req: request{
			new: func(ctx context.Context) (*http.Request, error) {
				r, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				r.Header.Set("Content-Type", "application/json")
				return r, nil
			},
			check: wantBody(vaultLoginAnswer),
		},
		note: note + "; RSS is gatehouse's, the test API server runs beside it on the same cores",
	}, nil
}

// wantBody is a check that the answer holds want.
func wantBody(want []byte) func([]byte) error {
	return func(body []byte) error {
		if !bytes.Contains(body, want) {
			return fmt.Errorf("2xx answer without %s: %s", want, redactTokens(snippet(body)))
		}
		return nil
	}
}

// listScenarios prints the registry for --list.
func listScenarios(w *strings.Builder) {
	for _, sc := range registry() {
		fmt.Fprintf(w, "%-26s %s", sc.name, sc.about)
		if sc.ceiling != "" {
			fmt.Fprintf(w, " [vs %s, target %s", sc.ceiling, sc.target)
			if sc.alsoVs != "" {
				fmt.Fprintf(w, "; also vs %s", sc.alsoVs)
			}
			w.WriteString("]")
		}
		w.WriteString("\n")
	}
}

// client is the load tool's client for this plan's target.
func (p *plan) client(concurrency int) (*http.Client, error) {
	if p.tls == nil {
		return newClient(concurrency, nil), nil
	}
	cfg, err := kubeTLS(p.tls.caPEM)
	if err != nil {
		return nil, err
	}
	c := newClient(concurrency, cfg)
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = p.tls.http2
	return c, nil
}
