package vaultauth

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// SystemDefaultTTL is Vault's default and maximum lease (768h), used when
// a role sets no token_ttl or token_max_ttl.
const SystemDefaultTTL = 768 * 3600

// Alias name sources.
const (
	AliasUID  = "serviceaccount_uid"
	AliasName = "serviceaccount_name"
)

// MaxPolicies bounds token_policies.
const MaxPolicies = 100

// roleNameRE is Vault's role name pattern (framework.GenericNameRegex):
// word characters, with '-', '.' and '@' inside; at most 128 characters.
var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.@-]{0,126}[A-Za-z0-9_])?$`)

// WarnNoAudience is Vault's warning on writing a role without an audience.
func WarnNoAudience(role string) string {
	return "Role " + role + " does not have an audience configured. While audiences are not required, consider specifying one if your use case would benefit from additional JWT claim verification."
}

// Role is a named role of a mount, as stored in its AuthMethod's Config.
type Role struct {
	Name            string   `json:"name"`
	BoundNames      []string `json:"boundServiceAccountNames"`
	BoundNamespaces []string `json:"boundServiceAccountNamespaces"`
	// NamespaceSelector is bound_service_account_namespace_selector as
	// written (JSON or YAML), "" for none.
	NamespaceSelector string   `json:"boundServiceAccountNamespaceSelector,omitempty"`
	Audience          string   `json:"audience"`
	AliasNameSource   string   `json:"aliasNameSource"`
	TTL               int64    `json:"tokenTtl"`
	MaxTTL            int64    `json:"tokenMaxTtl"`
	ExplicitMaxTTL    int64    `json:"tokenExplicitMaxTtl"`
	Period            int64    `json:"tokenPeriod"`
	NumUses           int64    `json:"tokenNumUses"`
	Policies          []string `json:"tokenPolicies"`
	BoundCIDRs        []string `json:"tokenBoundCidrs"`
	NoDefaultPolicy   bool     `json:"tokenNoDefaultPolicy"`
	TokenType         string   `json:"tokenType"`
}

// RoleInput is a role write; nil fields are left as they are (or at their
// defaults on create).
type RoleInput struct {
	BoundNames, BoundNamespaces          *[]string
	NamespaceSelector                    *string
	Audience, AliasNameSource, TokenType *string
	TTL, MaxTTL, ExplicitMaxTTL, Period  *int64
	NumUses                              *int64
	Policies, BoundCIDRs                 *[]string
	NoDefaultPolicy                      *bool
}

// RoleName lower-cases and checks a role name.
func RoleName(name string) (string, error) {
	if !roleNameRE.MatchString(name) {
		return "", errs.New(errs.BadRequest, "invalid role name %q: use letters, digits and '_', with '-', '.' and '@' inside, at most 128 characters", clip(name, 130))
	}
	return strings.ToLower(name), nil
}

func lookupKey(mount, role string) string { return mount + "/" + role }

// WriteRole creates or updates a role. On create the bound names and
// namespaces (or a namespace selector) are required; on update omitted
// fields keep their values. It returns the write's warnings (Vault's: a
// role without an audience).
func (s *Service) WriteRole(ctx context.Context, p identity.Principal, mountPath, name string, in RoleInput) ([]string, error) {
	given := name
	r, err := s.writeRole(ctx, p, mountPath, name, in)
	if err != nil {
		return nil, err
	}
	if r.Audience == "" {
		return []string{WarnNoAudience(given)}, nil
	}
	return nil, nil
}

func (s *Service) writeRole(ctx context.Context, p identity.Principal, mountPath, name string, in RoleInput) (Role, error) {
	if err := p.RequireAdmin("writing a role"); err != nil {
		return Role{}, err
	}
	m, err := s.mount(ctx, mountPath)
	if err != nil {
		return Role{}, err
	}
	if name, err = RoleName(name); err != nil {
		return Role{}, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetAuthMethodByLookupKey(ctx, store.AuthMethodVaultKubernetes, lookupKey(m.Path, name))
		if errors.Is(err, store.ErrNotFound) {
			r, err := s.createRole(ctx, p, m, name, in)
			if errors.Is(err, store.ErrAlreadyExists) && attempt == 0 {
				continue // created meanwhile: update it instead
			}
			return r, err
		}
		if err != nil {
			return Role{}, errs.Wrap(err, "reading role")
		}
		var written Role
		_, err = s.store.UpdateAuthMethod(ctx, cur.ID, func(am *store.AuthMethod) error {
			r, err := decodeRole(*am)
			if err != nil {
				return err
			}
			if r, err = in.apply(r, false); err != nil {
				return err
			}
			am.UpdatedAt = s.now()
			written = r
			return encodeRole(am, r)
		})
		if errors.Is(err, store.ErrNotFound) && attempt == 0 {
			continue // deleted meanwhile: create it
		}
		var e *errs.Error
		if err != nil && !errors.As(err, &e) {
			return Role{}, errs.Wrap(err, "storing role")
		}
		if err != nil {
			return Role{}, err
		}
		s.recordRole(ctx, p, audit.TypeAuthMethodUpdate, cur.IdentityID, m.Path, name)
		return written, nil
	}
}

func (s *Service) createRole(ctx context.Context, p identity.Principal, m store.Mount, name string, in RoleInput) (Role, error) {
	r, err := in.apply(Role{Name: name}, true)
	if err != nil {
		return Role{}, err
	}
	now := s.now()
	id := store.Identity{ID: uuid.NewString(), Name: "vault-role:" + m.Path + "/" + name, Role: store.RoleNoAccess,
		Metadata:  []store.MetadataEntry{{Key: "vault_mount", Value: m.Path}, {Key: "vault_role", Value: name}},
		CreatedAt: now, UpdatedAt: now}
	am := store.AuthMethod{ID: uuid.NewString(), IdentityID: id.ID, Type: store.AuthMethodVaultKubernetes,
		LookupKey: lookupKey(m.Path, name), MountPath: m.Path, CreatedAt: now, UpdatedAt: now}
	if err := encodeRole(&am, r); err != nil {
		return Role{}, err
	}
	switch err := s.store.CreateIdentityWithAuthMethod(ctx, id, am); {
	case errors.Is(err, store.ErrAlreadyExists):
		return Role{}, err
	case errors.Is(err, store.ErrNotFound):
		return Role{}, errs.New(errs.NotFound, "no auth method is mounted at auth/%s", m.Path)
	case err != nil:
		return Role{}, errs.Wrap(err, "storing role")
	}
	s.recordRole(ctx, p, audit.TypeAuthMethodCreate, id.ID, m.Path, name)
	return r, nil
}

// ReadRole returns a role: NotFound when absent.
func (s *Service) ReadRole(ctx context.Context, p identity.Principal, mountPath, name string) (Role, error) {
	if err := p.RequireMember("reading a role"); err != nil {
		return Role{}, err
	}
	_, am, err := s.role(ctx, mountPath, name)
	if err != nil {
		return Role{}, err
	}
	return decodeRole(am)
}

// ListRoles returns a mount's role names, sorted.
func (s *Service) ListRoles(ctx context.Context, p identity.Principal, mountPath string) ([]string, error) {
	if err := p.RequireMember("listing roles"); err != nil {
		return nil, err
	}
	m, err := s.mount(ctx, mountPath)
	if err != nil {
		return nil, err
	}
	ams, err := s.store.ListAuthMethodsByMount(ctx, m.Path)
	if err != nil {
		return nil, errs.Wrap(err, "listing roles")
	}
	names := make([]string, 0, len(ams))
	for _, am := range ams {
		names = append(names, strings.TrimPrefix(am.LookupKey, m.Path+"/"))
	}
	slices.Sort(names)
	return names, nil
}

// DeleteRole deletes a role, the identity it belongs to and (revoking
// them) its tokens. An absent role is not an error, as in Vault.
func (s *Service) DeleteRole(ctx context.Context, p identity.Principal, mountPath, name string) error {
	if err := p.RequireAdmin("deleting a role"); err != nil {
		return err
	}
	m, am, err := s.role(ctx, mountPath, name)
	if e := errs.As(err); err != nil && e.Code == errs.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.store.DeleteIdentity(ctx, am.IdentityID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return errs.Wrap(err, "deleting role")
	}
	s.recordRole(ctx, p, audit.TypeAuthMethodDelete, am.IdentityID, m.Path, strings.TrimPrefix(am.LookupKey, m.Path+"/"))
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseRoleDelete, am.IdentityID,
		map[string]string{"identityId": am.IdentityID, "mount": m.Path, "role": strings.TrimPrefix(am.LookupKey, m.Path+"/")}))
	return nil
}

// role reads a mount and one of its roles: NotFound when either is absent.
func (s *Service) role(ctx context.Context, mountPath, name string) (store.Mount, store.AuthMethod, error) {
	m, err := s.mount(ctx, mountPath)
	if err != nil {
		return store.Mount{}, store.AuthMethod{}, err
	}
	name, err = RoleName(name)
	if err != nil {
		return store.Mount{}, store.AuthMethod{}, errs.New(errs.NotFound, "role not found")
	}
	am, err := s.store.GetAuthMethodByLookupKey(ctx, store.AuthMethodVaultKubernetes, lookupKey(m.Path, name))
	if errors.Is(err, store.ErrNotFound) {
		return store.Mount{}, store.AuthMethod{}, errs.New(errs.NotFound, "role %q not found", name)
	}
	if err != nil {
		return store.Mount{}, store.AuthMethod{}, errs.Wrap(err, "reading role")
	}
	return m, am, nil
}

func (s *Service) recordRole(ctx context.Context, p identity.Principal, typ, identityID, mount, role string) {
	s.audit.Record(ctx, store.AuditEvent{Type: typ, Success: true, ActorID: p.ActorID(), IdentityID: identityID,
		AuthMethod: string(store.AuthMethodVaultKubernetes), Details: map[string]string{"mount": mount, "role": role}})
}

// apply validates in and applies it to r.
func (in RoleInput) apply(r Role, create bool) (Role, error) {
	bad := func(format string, args ...any) (Role, error) {
		return Role{}, errs.New(errs.BadRequest, format, args...)
	}
	for _, l := range []struct {
		field string
		in    *[]string
		dst   *[]string
	}{{"bound_service_account_names", in.BoundNames, &r.BoundNames}, {"bound_service_account_namespaces", in.BoundNamespaces, &r.BoundNamespaces}} {
		if l.in == nil {
			continue
		}
		v, err := boundList(l.field, *l.in)
		if err != nil {
			return Role{}, err
		}
		*l.dst = v
	}
	if in.NamespaceSelector != nil {
		r.NamespaceSelector = *in.NamespaceSelector // as written, as Vault keeps it
		if strings.TrimSpace(r.NamespaceSelector) == "" {
			r.NamespaceSelector = ""
		} else {
			if _, err := kubeauth.ParseNamespaceSelector(r.NamespaceSelector); err != nil {
				return bad("invalid %q configured: the selector %s", "bound_service_account_namespace_selector", err)
			}
		}
	}
	if len(r.BoundNames) == 0 {
		return bad("%q can not be empty", "bound_service_account_names")
	}
	if len(r.BoundNamespaces) == 0 && r.NamespaceSelector == "" {
		return bad("%q can not be empty if %q is not set", "bound_service_account_namespaces", "bound_service_account_namespace_selector")
	}
	if in.Audience != nil {
		r.Audience = strings.TrimSpace(*in.Audience)
		if len(r.Audience) > kubeauth.MaxAudienceLen {
			return bad("audience must be at most %d characters", kubeauth.MaxAudienceLen)
		}
	}
	if in.AliasNameSource != nil {
		r.AliasNameSource = *in.AliasNameSource
	}
	switch r.AliasNameSource {
	case "":
		r.AliasNameSource = AliasUID
	case AliasUID, AliasName:
	default:
		return bad("invalid alias_name_source %q: use %q or %q", clip(r.AliasNameSource, 50), AliasUID, AliasName)
	}
	if in.TokenType != nil {
		r.TokenType = *in.TokenType
	}
	switch r.TokenType {
	case "", "default", "default-service":
		r.TokenType = "default"
	case "service":
	case "batch", "default-batch":
		return bad("token_type %q is not supported: Gatehouse issues service tokens only; use \"service\" or \"default\"", r.TokenType)
	default:
		return bad("invalid token_type %q: use \"service\" or \"default\"", clip(r.TokenType, 50))
	}
	for _, d := range []struct {
		field string
		in    *int64
		dst   *int64
	}{{"token_ttl", in.TTL, &r.TTL}, {"token_max_ttl", in.MaxTTL, &r.MaxTTL}, {"token_explicit_max_ttl", in.ExplicitMaxTTL, &r.ExplicitMaxTTL},
		{"token_period", in.Period, &r.Period}, {"token_num_uses", in.NumUses, &r.NumUses}} {
		if d.in == nil {
			continue
		}
		if *d.in < 0 {
			return bad("%s cannot be negative", d.field)
		}
		if *d.in > authmethod.MaxTTLLimit && d.field != "token_num_uses" {
			return bad("%s must be at most %d seconds", d.field, authmethod.MaxTTLLimit)
		}
		*d.dst = *d.in
	}
	if r.TTL > 0 && r.MaxTTL > 0 && r.TTL > r.MaxTTL {
		return bad("token_ttl should not be greater than token_max_ttl")
	}
	if in.Policies != nil {
		if len(*in.Policies) > MaxPolicies {
			return bad("token_policies: at most %d policies", MaxPolicies)
		}
		ps := []string{}
		for _, p := range *in.Policies {
			p = strings.ToLower(strings.TrimSpace(p))
			if p == "" {
				continue
			}
			if len(p) > 128 {
				return bad("token_policies: policy names are at most 128 characters")
			}
			if !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
		slices.Sort(ps)
		r.Policies = ps
	}
	if in.BoundCIDRs != nil {
		var entries []string
		for _, e := range *in.BoundCIDRs {
			if strings.TrimSpace(e) != "" {
				entries = append(entries, e)
			}
		}
		prefixes, err := clientip.ParsePrefixList(entries)
		if err != nil {
			return bad("token_bound_cidrs: %s", err)
		}
		r.BoundCIDRs = make([]string, 0, len(prefixes))
		for _, p := range prefixes {
			r.BoundCIDRs = append(r.BoundCIDRs, p.String())
		}
	}
	if in.NoDefaultPolicy != nil {
		r.NoDefaultPolicy = *in.NoDefaultPolicy
	}
	if r.Policies == nil {
		r.Policies = []string{}
	}
	if r.BoundCIDRs == nil {
		r.BoundCIDRs = []string{}
	}
	return r, nil
}

// boundList validates a bound names or namespaces list: "*" alone means
// any; otherwise exact names or globs.
func boundList(field string, entries []string) ([]string, error) {
	var out []string
	for _, e := range entries {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, errs.New(errs.BadRequest, "%s: can not mix %q with values", field, "*")
	}
	if _, err := kubeauth.ParsePatterns(field, out); err != nil {
		e := errs.As(err)
		if len(e.Fields) > 0 {
			return nil, errs.New(errs.BadRequest, "%s: %s", field, e.Fields[0].Message)
		}
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// Policy is the token policy a role's tokens get on an untuned mount
// (policyOn).
func (r Role) Policy() store.TokenPolicy { return r.policyOn(Tune{}) }

// TokenPolicies are the policies a role's tokens carry: the role's, with
// "default" unless token_no_default_policy, sorted.
func (r Role) TokenPolicies() []string {
	ps := slices.Clone(r.Policies)
	if !r.NoDefaultPolicy && !slices.Contains(ps, "default") {
		ps = append(ps, "default")
	}
	slices.Sort(ps)
	return ps
}

// rules are the kubeauth rules of a role: "*" allows any; a namespace
// selector also allows the namespaces whose labels it selects (with no
// namespaces listed, only those); without an audience the JWT's own aud
// is asked for, as Vault does.
func (r Role) rules() (kubeauth.Rules, error) {
	any := func(l []string) kubeauth.Patterns {
		if slices.Contains(l, "*") {
			return kubeauth.Patterns{}
		}
		return kubeauth.Patterns(l)
	}
	rules := kubeauth.Rules{Namespaces: any(r.BoundNamespaces), Names: any(r.BoundNames), AudiencesFromJWT: true}
	if r.NamespaceSelector != "" && !slices.Contains(r.BoundNamespaces, "*") {
		sel, err := kubeauth.ParseNamespaceSelector(r.NamespaceSelector)
		if err != nil {
			return kubeauth.Rules{}, errs.Wrap(err, "role %s has a bad bound_service_account_namespace_selector", r.Name)
		}
		rules.NamespaceSelector = sel
	}
	if r.Audience != "" {
		rules.Audiences = []string{r.Audience}
	}
	return rules, nil
}

func decodeRole(am store.AuthMethod) (Role, error) {
	var r Role
	if err := json.Unmarshal(am.Config, &r); err != nil {
		return Role{}, errs.Wrap(err, "stored role %s is unreadable", am.LookupKey)
	}
	for _, l := range []*[]string{&r.BoundNames, &r.BoundNamespaces, &r.Policies, &r.BoundCIDRs} {
		if *l == nil {
			*l = []string{}
		}
	}
	return r, nil
}

func encodeRole(am *store.AuthMethod, r Role) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return errs.Wrap(err, "encoding role")
	}
	am.Config, am.TokenPolicy = raw, r.Policy()
	return nil
}
