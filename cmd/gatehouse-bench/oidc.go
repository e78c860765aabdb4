package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The OIDC issuer's scenarios (issue 14): token exchange and introspection.

var (
	// tokenExchange: "token exchange ≥ 25 % of the bare net/http
	// baseline"; ES256 signing is the main cost.
	tokenExchange = &target{minRatio: 0.25}
	// introspection: "≥ 50 %, like a token check".
	introspection = &target{minRatio: 0.50}
)

func oidcScenarios() []scenario {
	return []scenario{
		{
			name:    "token-exchange",
			about:   "POST /oauth2/token (RFC 8693) exchanging an unlimited identity token for an ES256 JWT for sts.amazonaws.com: a token check, two reads, signing, an audit event",
			ceiling: "baseline-nethttp", target: tokenExchange,
			setup: setupTokenExchange,
		},
		{
			name:    "introspect-access-token",
			about:   "POST /oauth2/introspect (RFC 7662) of an access token by a member identity: the caller's token check, then a lookup that spends no use",
			ceiling: "baseline-nethttp", target: introspection,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupIntrospect(ctx, e, false)
			},
		},
		{
			name:    "introspect-jwt",
			about:   "POST /oauth2/introspect of an exchanged JWT by a member identity: the caller's token check, then a signature check in memory",
			ceiling: "baseline-nethttp", target: introspection,
			setup: func(ctx context.Context, e *env) (*plan, error) {
				return setupIntrospect(ctx, e, true)
			},
		},
	}
}

// oidcWorld is a member identity with Universal Auth, allowed the audience
// sts.amazonaws.com, an unlimited access token of it and a JWT exchanged
// for it; each scenario makes its own.
type oidcWorld struct {
	token string
	jwt   string
}

func (e *env) oidcWorld(ctx context.Context) (*gatehouseTarget, *oidcWorld, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, nil, err
	}
	admin := &apiClient{base: g.url, token: g.rootToken, http: e.setupClient}
	var created struct {
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/identities", map[string]any{"name": "bench-oidc-" + randomSuffix(), "role": "member"}, &created); err != nil {
		return nil, nil, fmt.Errorf("creating an identity: %w", err)
	}
	id := created.Identity.ID
	var attached struct {
		UA struct {
			ClientID string `json:"clientId"`
		} `json:"identityUniversalAuth"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+id, map[string]any{"accessTokenTrustedIps": anywhere}, &attached); err != nil {
		return nil, nil, fmt.Errorf("attaching universal auth: %w", err)
	}
	var cs struct {
		ClientSecret string `json:"clientSecret"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", map[string]any{"description": "gatehouse-bench"}, &cs); err != nil {
		return nil, nil, fmt.Errorf("creating a client secret: %w", err)
	}
	if err := admin.call(ctx, http.MethodPut, "/api/v1/identities/"+id+"/exchange-audiences", map[string]any{"audiences": []string{"sts.amazonaws.com"}}, nil); err != nil {
		return nil, nil, fmt.Errorf("allowing the audience: %w", err)
	}
	anon := &apiClient{base: g.url, http: e.setupClient}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := anon.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/login", uaClient{ClientID: attached.UA.ClientID, ClientSecret: cs.ClientSecret}, &login); err != nil {
		return nil, nil, fmt.Errorf("universal auth login: %w", err)
	}
	w := &oidcWorld{token: login.AccessToken}
	req, err := newForm(ctx, g.url+"/oauth2/token", "", exchangeBody(w.token))
	if err != nil {
		return nil, nil, err
	}
	resp, err := e.setupClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var ex struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ex); err != nil || ex.AccessToken == "" {
		return nil, nil, fmt.Errorf("exchanging a token: %d %v", resp.StatusCode, err)
	}
	w.jwt = ex.AccessToken
	return g, w, nil
}

func exchangeBody(tok string) string {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "audience": {"sts.amazonaws.com"}}.Encode()
}

func newForm(ctx context.Context, target, bearer, body string) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	return r, nil
}

func setupTokenExchange(ctx context.Context, e *env) (*plan, error) {
	g, w, err := e.oidcWorld(ctx)
	if err != nil {
		return nil, err
	}
	target, body := g.url+"/oauth2/token", exchangeBody(w.token)
	return &plan{
		server: g.proc,
		req: request{
			new:   func(ctx context.Context) (*http.Request, error) { return newForm(ctx, target, "", body) },
			check: wantBody([]byte(`"access_token":"`)),
		},
		note: "identity token from Universal Auth, unlimited; ES256 signing key; each exchange is audited in the store",
	}, nil
}

func setupIntrospect(ctx context.Context, e *env, jwt bool) (*plan, error) {
	g, w, err := e.oidcWorld(ctx)
	if err != nil {
		return nil, err
	}
	tok := w.token
	if jwt {
		tok = w.jwt
	}
	target, body := g.url+"/oauth2/introspect", url.Values{"token": {tok}}.Encode()
	return &plan{
		server: g.proc,
		req: request{
			new:   func(ctx context.Context) (*http.Request, error) { return newForm(ctx, target, w.token, body) },
			check: wantBody([]byte(`"active":true`)),
		},
		note: "the caller is the member identity itself (its own unlimited token as Bearer)",
	}, nil
}
