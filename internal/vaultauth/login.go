package vaultauth

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Token metadata keys a Vault login adds to kubeauth's.
const (
	MetaRole       = "role"
	MetaSecretName = "service_account_secret_name"
	MetaMount      = "mount"
	MetaPolicies   = "policies"
)

// LoginInput is a login on a mount: {role, jwt} and the caller's address.
type LoginInput struct {
	Mount    string
	Role     string
	JWT      string
	ClientIP netip.Addr
}

// LoginResult is a successful login.
type LoginResult struct {
	Token    token.Issued
	Account  kubeauth.ServiceAccount
	Policies []string
	Metadata map[string]string // Vault's auth.metadata
}

// Login runs Vault's Kubernetes login on the shared pipeline: the role's
// bound CIDRs against the caller, then kubeauth's Login with the mount's
// cluster and the role's rules (in api mode, local pem_keys checks first
// when set, then always a TokenReview, names and namespaces judged on the
// reviewed account; in local mode, no TokenReview: the JWT verified with
// pem_keys or the cluster's key set and judged on its claims), then a
// token with the role's policy. Every attempt is audited with its true
// reason.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	ev := store.AuditEvent{Type: audit.TypeLogin, AuthMethod: string(store.AuthMethodVaultKubernetes),
		Details: map[string]string{"mount": in.Mount, "role": clip(in.Role, 130)}}
	if in.ClientIP.IsValid() {
		ev.ClientIP = in.ClientIP.String()
	}
	res, err := s.login(ctx, in, &ev)
	if err == nil {
		return res, nil // its event was stored with the token
	}
	ev.Reason = errs.As(err).Error()
	s.audit.Record(ctx, ev)
	return res, err
}

func (s *Service) login(ctx context.Context, in LoginInput, ev *store.AuditEvent) (LoginResult, error) {
	if in.Role == "" {
		return LoginResult{}, errs.New(errs.BadRequest, "missing role")
	}
	if strings.TrimSpace(in.JWT) == "" {
		return LoginResult{}, errs.New(errs.BadRequest, "missing jwt")
	}
	m, err := s.mount(ctx, in.Mount)
	if err != nil {
		return LoginResult{}, err
	}
	cfg, ok, err := decodeConfig(m)
	if err != nil {
		return LoginResult{}, err
	}
	tune, err := TuneOf(m)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, errs.New(errs.BadRequest, "could not load backend configuration: write auth/%s/config first", m.Path)
	}
	invalidRole := errs.New(errs.BadRequest, "invalid role name %q", clip(in.Role, 130))
	name, err := RoleName(in.Role)
	if err != nil {
		return LoginResult{}, invalidRole
	}
	am, err := s.store.GetAuthMethodByLookupKey(ctx, store.AuthMethodVaultKubernetes, lookupKey(m.Path, name))
	if errors.Is(err, store.ErrNotFound) {
		return LoginResult{}, invalidRole
	}
	if err != nil {
		return LoginResult{}, errs.Wrap(err, "reading role")
	}
	ev.IdentityID = am.IdentityID
	role, err := decodeRole(am)
	if err != nil {
		return LoginResult{}, err
	}
	if err := checkBoundCIDRs(role, in.ClientIP); err != nil {
		return LoginResult{}, err
	}
	jwt, err := kubeauth.ParseJWT(in.JWT)
	if err != nil {
		if e := errs.As(err); e.Code == errs.Invalid && len(e.Fields) > 0 {
			return LoginResult{}, errs.New(errs.BadRequest, "jwt %s", e.Fields[0].Message)
		}
		return LoginResult{}, err
	}
	cluster, err := s.cluster(m, cfg)
	if err != nil {
		return LoginResult{}, err
	}
	rules, err := role.rules()
	if err != nil {
		return LoginResult{}, err
	}
	sa, err := s.kube.Login(ctx, kubeauth.Config{Cluster: cluster, Rules: rules}, jwt)
	if err != nil {
		return LoginResult{}, reword(err, role)
	}
	var aliasMetadata map[string]string
	if cfg.UseAnnotationsAsAliasMetadata {
		if aliasMetadata, err = s.aliasMetadata(ctx, cluster, jwt, sa); err != nil {
			return LoginResult{}, err
		}
	}
	policies := role.TokenPolicies()
	md := sa.Metadata()
	md[MetaRole], md[MetaSecretName] = name, ""
	stored := maps.Clone(md)
	maps.Copy(stored, aliasMetadata) // never over the keys above: aliasMetadata refuses them
	stored[MetaMount], stored[MetaPolicies] = m.Path, strings.Join(policies, ",")
	ev.Details = md
	ev.Details["mount"] = m.Path
	issued, err := s.tokens.Issue(ctx, token.IssueRequest{
		IdentityID: am.IdentityID, AuthMethodID: am.ID, AuthMethodType: store.AuthMethodVaultKubernetes,
		Policy: role.policyOn(tune), Metadata: stored, Event: ev,
	})
	if err != nil {
		return LoginResult{}, err
	}
	// Vault's auth.metadata has exactly these keys.
	out := map[string]string{MetaRole: name, kubeauth.MetaName: sa.Name, kubeauth.MetaNamespace: sa.Namespace,
		MetaSecretName: "", kubeauth.MetaUID: sa.UID}
	return LoginResult{Token: issued, Account: sa, Policies: policies, Metadata: out}, nil
}

func checkBoundCIDRs(r Role, client netip.Addr) error {
	if len(r.BoundCIDRs) == 0 {
		return nil
	}
	ok, err := clientip.ListAllows(r.BoundCIDRs, client)
	if err != nil {
		return errs.Wrap(err, "role %s has a bad token_bound_cidrs list", r.Name)
	}
	if ok {
		return nil
	}
	return errs.New(errs.Forbidden, "source address %q unauthorized through CIDR restrictions on the role", client.String())
}

// reword puts a refused login in the Vault API's terms (the role's field
// names); other failures already say what is wrong.
func reword(err error, r Role) error {
	var na *kubeauth.NotAllowedError
	if !errors.As(err, &na) {
		return err
	}
	e := errs.As(err)
	var msg string
	switch {
	case errors.Is(na.Kind, kubeauth.ErrNamespaceNotAllowed) && r.NamespaceSelector != "":
		msg = "namespace not authorized: the service account's namespace " + quote(na.Value) +
			" is not in the role's bound_service_account_namespaces and its labels do not match the role's bound_service_account_namespace_selector"
	case errors.Is(na.Kind, kubeauth.ErrNamespaceNotAllowed):
		msg = "namespace not authorized: the service account's namespace " + quote(na.Value) + " is not in the role's bound_service_account_namespaces"
	case errors.Is(na.Kind, kubeauth.ErrNameNotAllowed):
		msg = "service account name not authorized: " + quote(na.Value) + " is not in the role's bound_service_account_names"
	case errors.Is(na.Kind, kubeauth.ErrAudienceMismatch):
		if r.Audience != "" {
			msg = "invalid audience (aud) claim: the token is not valid for the role's audience " + quote(r.Audience)
		} else {
			msg = "invalid audience (aud) claim: the API server did not accept the token for its own aud " + quote(na.Value)
		}
	default:
		return err
	}
	return &errs.Error{Code: e.Code, Message: msg, Err: err}
}

func quote(s string) string { return `"` + clip(s, 200) + `"` }
