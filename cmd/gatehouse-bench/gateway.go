package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// setupGatewayLogin logs the bench's workload in with tokenReviewMode
// "gateway": a `gatehouse gateway` process (the same binary) connects to
// the server, and each login's TokenReview travels over its yamux session
// and is made by the gateway, with its own service-account token, against
// the test API server.
func setupGatewayLogin(ctx context.Context, e *env) (*plan, error) {
	g, err := e.Gatehouse(ctx)
	if err != nil {
		return nil, err
	}
	k, err := e.Kube(ctx)
	if err != nil {
		return nil, err
	}
	bin := e.opts.gatehouseBin
	if bin == "" {
		bin = filepath.Join(e.dir, "gatehouse")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, &skipError{reason: "needs the gatehouse binary (not built under --server-cpuprofile; give --gatehouse-bin)"}
	}
	admin := &apiClient{base: g.url, token: g.rootToken, http: e.setupClient}
	var created struct {
		Identity struct {
			ID string `json:"id"`
		} `json:"identity"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/identities", map[string]any{"name": "bench-gateway-" + randomSuffix(), "role": "no-access",
		"metadata": []map[string]string{{"key": "gatehouse-gateway", "value": "true"}}}, &created); err != nil {
		return nil, fmt.Errorf("creating the gateway identity: %w", err)
	}
	var attached struct {
		UA struct {
			ClientID string `json:"clientId"`
		} `json:"identityUniversalAuth"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+created.Identity.ID,
		map[string]any{"accessTokenTrustedIps": anywhere}, &attached); err != nil {
		return nil, fmt.Errorf("attaching universal auth to the gateway identity: %w", err)
	}
	var sec struct {
		ClientSecret string `json:"clientSecret"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/universal-auth/identities/"+created.Identity.ID+"/client-secrets", map[string]any{}, &sec); err != nil {
		return nil, fmt.Errorf("creating the gateway's client secret: %w", err)
	}
	dir, err := os.MkdirTemp(e.dir, "gateway-")
	if err != nil {
		return nil, err
	}
	files := map[string]string{"ca.crt": k.info.CAPEM, "token": k.info.ReviewerJWT, "client-secret": sec.ClientSecret}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	health := fmt.Sprintf("127.0.0.1:%d", port)
	procEnv, err := gatehouseEnviron("sqlite://")
	if err != nil {
		return nil, err
	}
	p, err := startProc("gateway", bin, []string{"gateway", "--server", g.url, "--client-id", attached.UA.ClientID,
		"--client-secret-file", filepath.Join(dir, "client-secret"), "--name", "bench-gateway", "--kube-host", k.info.URL,
		"--kube-ca-file", filepath.Join(dir, "ca.crt"), "--kube-token-file", filepath.Join(dir, "token"),
		"--listen", health, "--log-level", "warn"}, procEnv, nil, nil)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	if err := waitReady(ctx, p, "http://"+health+"/readyz", readyPollFast); err != nil {
		return nil, err
	}
	var list struct {
		Gateways []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"gateways"`
	}
	if err := admin.call(ctx, http.MethodGet, "/api/v2/gateways", nil, &list); err != nil {
		return nil, fmt.Errorf("listing gateways: %w", err)
	}
	gatewayID := ""
	for _, gw := range list.Gateways {
		if gw.Name == "bench-gateway" {
			gatewayID = gw.ID
		}
	}
	if gatewayID == "" {
		return nil, fmt.Errorf("the gateway is ready but not listed")
	}
	id, err := createIdentity(ctx, admin, "bench-kube-gw-"+randomSuffix())
	if err != nil {
		return nil, err
	}
	if err := admin.call(ctx, http.MethodPost, "/api/v1/auth/kubernetes-auth/identities/"+id, map[string]any{
		"tokenReviewMode": "gateway", "gatewayId": gatewayID,
		"allowedNamespaces": kubeLoginNS, "allowedNames": kubeLoginName, "allowedAudience": "",
		"accessTokenTrustedIps": anywhere,
	}, nil); err != nil {
		return nil, fmt.Errorf("attaching kubernetes auth in gateway mode: %w", err)
	}
	body, err := json.Marshal(map[string]string{"identityId": id, "jwt": k.info.LoginJWT})
	if err != nil {
		return nil, err
	}
	return &plan{
		server: g.proc,
		beside: k.proc,
		req:    request{new: postJSON(g.url+"/api/v1/auth/kubernetes-auth/login", body), check: wantBody(loginAnswer)},
		note: fmt.Sprintf("workload JWT of %s/%s reviewed by a `gatehouse gateway` process (over its one yamux session) with its own token against the test API server (%s added per review); "+
			"RSS is gatehouse's, the gateway and the test API server run beside it on the same cores", kubeLoginNS, kubeLoginName, e.opts.kubeLatency),
	}, nil
}
