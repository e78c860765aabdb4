package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// apiClient makes the setup calls of the scenarios over gatehouse's HTTP
// API, as an operator would: nothing reaches into the store.
type apiClient struct {
	base  string
	token string // sent as a Bearer token when set (X-Vault-Token when vault is set)
	vault bool
	http  *http.Client
}

// statusError is a non-2xx answer to a setup call.
type statusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// call sends in (JSON, when not nil) and decodes a 2xx answer into out
// (when not nil).
func (c *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.token != "" && c.vault:
		req.Header.Set("X-Vault-Token", c.token)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{Method: method, Path: path, Status: resp.StatusCode, Body: redactTokens(snippet(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// skipError ends a scenario's setup without running it: something it
// needs is not in this build. A skipped scenario is reported as skipped,
// never as passed.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// needsUniversalAuth is the skip of scenarios that need an identity token:
// until Universal Auth (issue 5) is served there is no way over the API to
// get one, and the bench does not open the store behind the server's back.
var needsUniversalAuth = &skipError{reason: "needs universal auth (POST /api/v1/auth/universal-auth/identities/{identityId} is 404 in this build)"}

// uaClient is the Universal Auth login of a bench identity.
type uaClient struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// universalAuthClient returns a Universal Auth client ID and secret whose
// tokens have the given use limit (0 = unlimited) and may be used from
// anywhere, set up as an operator would: create an identity, attach
// Universal Auth, create an unlimited client secret. One per limit, made
// once and reused. Callers hold e.uaMu.
func (e *env) universalAuthClient(ctx context.Context, g *gatehouseTarget, numUsesLimit int64) (uaClient, error) {
	if e.uaMissing {
		return uaClient{}, needsUniversalAuth
	}
	if c, ok := e.uaClients[numUsesLimit]; ok {
		return c, nil
	}
	admin := &apiClient{base: g.url, token: g.rootToken, http: e.setupClient}
	id, err := createIdentity(ctx, admin, fmt.Sprintf("bench-uses-%d-%s", numUsesLimit, randomSuffix()))
	if err != nil {
		return uaClient{}, err
	}
	var attached struct {
		UA struct {
			ClientID string `json:"clientId"`
		} `json:"identityUniversalAuth"`
	}
	err = admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+id,
		map[string]any{"accessTokenNumUsesLimit": numUsesLimit, "accessTokenTrustedIps": anywhere}, &attached)
	if se := (*statusError)(nil); errors.As(err, &se) && se.Status == http.StatusNotFound {
		e.uaMissing = true
		return uaClient{}, needsUniversalAuth
	}
	if err != nil {
		return uaClient{}, fmt.Errorf("attaching universal auth: %w", err)
	}
	var cs struct {
		ClientSecret string `json:"clientSecret"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets",
		map[string]any{"description": "gatehouse-bench"}, &cs); err != nil {
		return uaClient{}, fmt.Errorf("creating a client secret: %w", err)
	}
	c := uaClient{ClientID: attached.UA.ClientID, ClientSecret: cs.ClientSecret}
	e.uaClients[numUsesLimit] = c
	return c, nil
}

// anywhere is a trusted-IP list that allows every address.
var anywhere = []map[string]string{{"ipAddress": "0.0.0.0/0"}, {"ipAddress": "::/0"}}

// createIdentity creates a no-access identity and returns its id.
func createIdentity(ctx context.Context, admin *apiClient, name string) (string, error) {
	var created struct {
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/identities", map[string]any{"name": name, "role": "no-access"}, &created); err != nil {
		return "", fmt.Errorf("creating an identity: %w", err)
	}
	return created.Identity.ID, nil
}

// universalAuthToken returns an identity access token with the given
// use limit (0 = unlimited), logging in through Universal Auth as a
// workload would. Tokens are made once per limit and reused.
func (e *env) universalAuthToken(ctx context.Context, g *gatehouseTarget, numUsesLimit int64) (string, error) {
	e.uaMu.Lock()
	defer e.uaMu.Unlock()
	if t, ok := e.uaToks[numUsesLimit]; ok {
		return t, nil
	}
	c, err := e.universalAuthClient(ctx, g, numUsesLimit)
	if err != nil {
		return "", err
	}
	anon := &apiClient{base: g.url, http: e.setupClient}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := anon.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/login", c, &login); err != nil {
		return "", fmt.Errorf("universal auth login: %w", err)
	}
	if login.AccessToken == "" {
		return "", errors.New("universal auth login answered no accessToken")
	}
	e.uaToks[numUsesLimit] = login.AccessToken
	return login.AccessToken, nil
}

// kubernetesAuthIdentity creates an identity with Kubernetes Auth in the
// given tokenReviewMode ("api" or "local") against the test cluster k (its
// CA given, so TLS is verified), allowing the bench's workload service
// account, and returns the identity's id.
func (e *env) kubernetesAuthIdentity(ctx context.Context, g *gatehouseTarget, k *helperTarget, mode string) (string, error) {
	admin := &apiClient{base: g.url, token: g.rootToken, http: e.setupClient}
	id, err := createIdentity(ctx, admin, "bench-kube-"+randomSuffix())
	if err != nil {
		return "", err
	}
	u, err := url.Parse(k.info.URL)
	if err != nil {
		return "", err
	}
	err = admin.call(ctx, http.MethodPost, "/api/v1/auth/kubernetes-auth/identities/"+id, map[string]any{
		"kubernetesHost":        u.Host,
		"caCert":                k.info.CAPEM,
		"tokenReviewerJwt":      k.info.ReviewerJWT,
		"tokenReviewMode":       mode,
		"allowedNamespaces":     kubeLoginNS,
		"allowedNames":          kubeLoginName,
		"accessTokenTrustedIps": anywhere,
	}, nil)
	if se := (*statusError)(nil); errors.As(err, &se) && se.Status == http.StatusNotFound {
		return "", &skipError{reason: "needs kubernetes auth (POST /api/v1/auth/kubernetes-auth/identities/{identityId} is 404 in this build)"}
	}
	if err != nil {
		return "", fmt.Errorf("attaching kubernetes auth: %w", err)
	}
	return id, nil
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// vaultKubeMode is how a bench Vault mount checks login JWTs.
type vaultKubeMode int

const (
	vaultReview  vaultKubeMode = iota // TokenReview (Vault's behaviour)
	vaultPEMKeys                      // pem_keys = the cluster's signing key, and still a TokenReview
	vaultLocal                        // token_review_mode local: the cluster's published keys, no TokenReview
)

// vaultKubernetesMount enables a Kubernetes auth mount on the Vault API
// against the test cluster k (its CA and a reviewer JWT given) in the
// given mode, and a role allowing the bench's workload service account,
// as an operator would with the Vault CLI. It returns the mount path and
// role.
func (e *env) vaultKubernetesMount(ctx context.Context, g *gatehouseTarget, k *helperTarget, mode vaultKubeMode) (mount, role string, err error) {
	admin := &apiClient{base: g.url, token: g.rootToken, vault: true, http: e.setupClient}
	mount, role = "bench-k8s-"+randomSuffix(), "bench"
	err = admin.call(ctx, http.MethodPost, "/v1/sys/auth/"+mount, map[string]any{"type": "kubernetes"}, nil)
	if se := (*statusError)(nil); errors.As(err, &se) && se.Status == http.StatusNotFound {
		return "", "", &skipError{reason: "needs the Vault API's kubernetes auth (POST /v1/sys/auth/{path} is 404 in this build)"}
	}
	if err != nil {
		return "", "", fmt.Errorf("enabling a kubernetes auth mount: %w", err)
	}
	cfg := map[string]any{
		"kubernetes_host":    k.info.URL,
		"kubernetes_ca_cert": k.info.CAPEM,
		"token_reviewer_jwt": k.info.ReviewerJWT,
	}
	switch mode {
	case vaultPEMKeys:
		if k.info.SigningKeyPEM == "" {
			return "", "", errors.New("the test cluster announced no signing key")
		}
		cfg["pem_keys"] = []string{k.info.SigningKeyPEM}
	case vaultLocal:
		cfg["token_review_mode"] = "local"
	}
	if err := admin.call(ctx, http.MethodPut, "/v1/auth/"+mount+"/config", cfg, nil); err != nil {
		return "", "", fmt.Errorf("configuring the kubernetes auth mount: %w", err)
	}
	if err := admin.call(ctx, http.MethodPut, "/v1/auth/"+mount+"/role/"+role, map[string]any{
		"bound_service_account_names":      kubeLoginName,
		"bound_service_account_namespaces": kubeLoginNS,
	}, nil); err != nil {
		return "", "", fmt.Errorf("writing the kubernetes auth role: %w", err)
	}
	return mount, role, nil
}
