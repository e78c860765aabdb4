package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/gatehouse-dev/gatehouse/internal/client"
	"github.com/gatehouse-dev/gatehouse/internal/client/clienttest"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

// TestClientTokenCalls: login, lookup, renew and revoke on both APIs of a
// real server; on the Vault API the token is also checked with Vault's
// own Go client.
func TestClientTokenCalls(t *testing.T) {
	srv := clienttest.Start(t)
	c := kubetest.New(t)
	id := srv.KubeIdentity(c, 60, 120)
	srv.VaultRole(c, "k8s", "app", 60, 120)
	jwt := c.Token("apps", "web")
	ctx := context.Background()
	for _, tc := range []struct {
		api client.API
		cr  client.Credentials
	}{
		{client.Infisical, client.Credentials{Method: client.Kubernetes, IdentityID: id, JWT: jwt}},
		{client.Vault, client.Credentials{Method: client.Kubernetes, Role: "app", JWT: jwt}},
	} {
		t.Run(string(tc.api), func(t *testing.T) {
			cl := &client.Client{Address: srv.URL(), API: tc.api, Mount: "k8s", HTTP: &http.Client{Timeout: 5 * time.Second}}
			l, err := cl.Login(ctx, tc.cr)
			if err != nil {
				t.Fatal(err)
			}
			if l.TTL != time.Minute || !l.Renewable {
				t.Errorf("login: ttl %v renewable %v", l.TTL, l.Renewable)
			}
			if tc.api == client.Infisical && l.MaxTTL != 2*time.Minute {
				t.Errorf("max TTL %v", l.MaxTTL)
			}
			if tc.api == client.Vault {
				vc, err := vault.NewClient(&vault.Config{Address: srv.URL()})
				if err != nil {
					t.Fatal(err)
				}
				vc.SetToken(l.Token.Reveal())
				if s, err := vc.Auth().Token().LookupSelf(); err != nil || s.Data["accessor"] != l.Accessor {
					t.Errorf("Vault's client: %v, %v (accessor %q)", s, err, l.Accessor)
				}
			}
			if ttl, err := cl.Lookup(ctx, l.Token); err != nil || ttl <= 0 || ttl > time.Minute {
				t.Errorf("lookup: %v, %v", ttl, err)
			}
			r, err := cl.Renew(ctx, l.Token)
			if err != nil || r.TTL <= 0 || r.Token.Reveal() != l.Token.Reveal() {
				t.Errorf("renew: %v, %v", r.TTL, err)
			}
			if err := cl.Revoke(ctx, l.Token); err != nil {
				t.Fatal(err)
			}
			_, err = cl.Renew(ctx, l.Token)
			var ae *client.Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || client.IsTemporary(err) {
				t.Errorf("renewing a revoked token: %v", err)
			}
			if strings.Contains(err.Error(), l.Token.Reveal()) {
				t.Error("the token is in the error")
			}
		})
	}
}

// TestClientErrors: each API's error body becomes an *Error with the
// server's name and message; no answer is an *UnreachableError; the Vault
// API has no Universal Auth.
func TestClientErrors(t *testing.T) {
	srv := clienttest.Start(t)
	ctx := context.Background()
	inf := &client.Client{Address: srv.URL(), HTTP: &http.Client{Timeout: 5 * time.Second}}
	_, err := inf.Login(ctx, client.Credentials{Method: client.Universal, ClientID: "nope", ClientSecret: "x"})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Name == "" || ae.Message == "" {
		t.Errorf("Infisical refusal: %#v", err)
	}
	_, err = inf.Login(ctx, client.Credentials{Method: client.Kubernetes}) // empty identityId: a 422
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Name != "ValidationFailure" || !strings.Contains(ae.Message, "identityId") {
		t.Errorf("Infisical validation failure: %#v", err)
	}
	v := &client.Client{Address: srv.URL(), API: client.Vault, Mount: "missing", HTTP: &http.Client{Timeout: 5 * time.Second}}
	_, err = v.Login(ctx, client.Credentials{Method: client.Kubernetes, Role: "r", JWT: "x.y.z"})
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Name != "" {
		t.Errorf("Vault refusal: %#v", err)
	}
	if _, err := v.Login(ctx, client.Credentials{Method: client.Universal}); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("universal on Vault: %v", err)
	}
	srv.Down()
	_, err = inf.Renew(ctx, client.NewToken("gth_x"))
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || !client.IsTemporary(err) {
		t.Errorf("server down: %#v", err)
	}
}
