// Package kubeauth is Kubernetes Auth: a workload proves who it is with its
// service-account token, which Gatehouse has the cluster's TokenReview API
// check (or, in local mode, verifies itself with the cluster's signing
// keys), and gets an access token.
//
// The core is one domain model and one pipeline that both front ends map
// onto: Cluster (how to reach and trust an API server), Rules (which
// reviewed service accounts may log in) and Login (review a JWT and judge
// the answer). The Infisical API keeps one Config per identity, stored as
// the identity's kubernetes-auth AuthMethod; this package also serves that
// (Attach, Get, Update, Revoke, LoginIdentity). The Vault API maps a mount
// onto Cluster and a role onto Rules plus a token policy, and calls Login.
//
// Files: config.go (model and the PATCH TLS rules), glob.go and host.go
// (the list and host parsers), jwt.go (JWT shape), tokenreview.go (the API
// client and its error classification), login.go (the pipeline),
// localjwt.go (local signature and claim checks: Vault's pem_keys, and
// local mode), keyset.go (local mode's reads of the cluster's signing keys
// and issuer, and their cache), reviewcache.go (the optional review cache),
// selector.go and objects.go (Vault's namespace selector and the reads of
// namespaces and service accounts it and annotations need).
package kubeauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// probeToken is the token the attach/update check asks the API server to
// review: any answer that is a TokenReview shows the reviewer may review.
const probeToken = "gatehouse-probe-token-for-permission-validation"

// Service is Kubernetes Auth.
type Service struct {
	store   store.Store
	key     seal.Key
	tokens  *token.Service
	audit   *audit.Log
	now     func() time.Time
	api     *apiClient
	cache   *reviewCache
	keySets *keySets
	// gateways carries calls through gateways (gateway.go); nil = none.
	gateways Gateways
}

// NewService returns a Service. key seals reviewer JWTs at rest; timeout
// bounds each call to an API server (DefaultTimeout when <= 0); log gets
// the warnings of local mode's key reads (nil: none).
func NewService(st store.Store, key seal.Key, tokens *token.Service, a *audit.Log, now func() time.Time, timeout time.Duration, log *slog.Logger) *Service {
	api := newAPIClient(timeout)
	return &Service{store: st, key: key, tokens: tokens, audit: a, now: now, api: api, cache: newReviewCache(0),
		keySets: newKeySets(api, now, log)}
}

// CacheReviews turns on the optional cache of positive TokenReview
// answers for ttl (capped at MaxReviewCacheTTL; 0 turns it off). Call it
// before serving. See reviewCache for what it trades.
func (s *Service) CacheReviews(ttl time.Duration) { s.cache = newReviewCache(ttl) }

// Input is an attach or update request. On update nil fields are left
// as they are.
type Input struct {
	Cluster ClusterInput
	Rules   RulesInput
	Policy  authmethod.PolicyInput
}

// View is an identity's Kubernetes Auth as the API shows it: never the
// reviewer JWT, only whether one is set.
type View struct {
	ID             string
	IdentityID     string
	Config         Config // Config.ReviewerJWT is always ""
	ReviewerJWTSet bool
	TokenPolicy    store.TokenPolicy
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Attach adds Kubernetes Auth to an identity. With a reviewer JWT in api
// or local mode it first checks that the API server accepts the reviewer.
func (s *Service) Attach(ctx context.Context, p identity.Principal, identityID string, in Input) (View, error) {
	if err := p.RequireAdmin("attaching Kubernetes Auth"); err != nil {
		return View{}, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return View{}, err
	}
	if in.Cluster.Mode == nil {
		mode := ReviewAPI
		in.Cluster.Mode = &mode
	}
	if *in.Cluster.Mode != ReviewGateway && (in.Cluster.Host == nil || *in.Cluster.Host == "") {
		return View{}, errs.Validation(errs.FieldError{Path: fieldHost, Message: "Required: the host, host:port or URL of the Kubernetes API server"})
	}
	cfg, policy, err := in.apply(Config{}, store.TokenPolicy{}, true)
	if err != nil {
		return View{}, err
	}
	if _, err := s.store.GetIdentity(ctx, identityID); err != nil {
		return View{}, identity.NotFound(err, identityID)
	}
	if _, err := s.store.GetAuthMethodByIdentity(ctx, identityID, store.AuthMethodKubernetes); err == nil {
		return View{}, alreadyAttached()
	} else if !errors.Is(err, store.ErrNotFound) {
		return View{}, errs.Wrap(err, "reading auth methods")
	}
	if err := s.probeIfReviewing(ctx, cfg.Cluster); err != nil {
		return View{}, err
	}
	now := s.now()
	m := store.AuthMethod{ID: uuid.NewString(), IdentityID: identityID, Type: store.AuthMethodKubernetes,
		TokenPolicy: policy, CreatedAt: now, UpdatedAt: now}
	if m.Config, m.SealedSecret, err = s.encode(m.ID, cfg); err != nil {
		return View{}, err
	}
	switch err := s.store.CreateAuthMethod(ctx, m); {
	case errors.Is(err, store.ErrAlreadyExists):
		return View{}, alreadyAttached()
	case errors.Is(err, store.ErrNotFound):
		return View{}, identity.NotFound(err, identityID)
	case err != nil:
		return View{}, errs.Wrap(err, "storing Kubernetes Auth")
	}
	s.recordChange(ctx, p, audit.TypeAuthMethodCreate, m, cfg)
	return view(m, cfg), nil
}

// Get returns an identity's Kubernetes Auth.
func (s *Service) Get(ctx context.Context, p identity.Principal, identityID string) (View, error) {
	if err := p.RequireAdmin("reading Kubernetes Auth"); err != nil {
		return View{}, err
	}
	m, cfg, err := s.load(ctx, identityID)
	if err != nil {
		return View{}, err
	}
	return view(m, cfg), nil
}

// Update changes an identity's Kubernetes Auth. When the host, CA, TLS
// setting, mode or reviewer JWT change and a reviewer JWT is set in api or
// local mode, the API server is checked first; a failed check changes
// nothing.
func (s *Service) Update(ctx context.Context, p identity.Principal, identityID string, in Input) (View, error) {
	if err := p.RequireAdmin("updating Kubernetes Auth"); err != nil {
		return View{}, err
	}
	m, cur, err := s.load(ctx, identityID)
	if err != nil {
		return View{}, err
	}
	if cur.ReviewerJWT, err = s.openReviewer(m); err != nil {
		return View{}, err
	}
	next, policy, err := in.apply(cur, m.TokenPolicy, false)
	if err != nil {
		return View{}, err
	}
	if connectionChanged(cur.Cluster, next.Cluster) {
		if err := s.probeIfReviewing(ctx, next.Cluster); err != nil {
			return View{}, err
		}
	}
	raw, sealed, err := s.encode(m.ID, next)
	if err != nil {
		return View{}, err
	}
	now := s.now()
	updated, err := s.store.UpdateAuthMethod(ctx, m.ID, func(am *store.AuthMethod) error {
		// The check above ran outside the transaction: refuse to
		// overwrite a change made meanwhile.
		if !am.UpdatedAt.Equal(m.UpdatedAt) || !bytes.Equal(am.Config, m.Config) || !bytes.Equal(am.SealedSecret, m.SealedSecret) {
			return errs.New(errs.Conflict, "Kubernetes Auth of identity %s was changed by another request; read it again and retry", identityID)
		}
		am.Config, am.SealedSecret, am.TokenPolicy, am.UpdatedAt = raw, sealed, policy, now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return View{}, notAttached(identityID)
	}
	if err != nil {
		return View{}, errs.As(err)
	}
	s.recordChange(ctx, p, audit.TypeAuthMethodUpdate, updated, next)
	return view(updated, next), nil
}

// Revoke removes an identity's Kubernetes Auth and revokes every access
// token it issued, in one store transaction.
func (s *Service) Revoke(ctx context.Context, p identity.Principal, identityID string) (View, error) {
	if err := p.RequireAdmin("revoking Kubernetes Auth"); err != nil {
		return View{}, err
	}
	m, cfg, err := s.load(ctx, identityID)
	if err != nil {
		return View{}, err
	}
	if err := s.store.DeleteAuthMethod(ctx, m.ID, s.now()); errors.Is(err, store.ErrNotFound) {
		return View{}, notAttached(identityID)
	} else if err != nil {
		return View{}, errs.Wrap(err, "revoking Kubernetes Auth")
	}
	s.recordChange(ctx, p, audit.TypeAuthMethodDelete, m, cfg)
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseAuthMethodDelete, identityID,
		map[string]string{"authMethodId": m.ID, "authMethod": string(store.AuthMethodKubernetes)}))
	return view(m, cfg), nil
}

// Probe checks that the API server of c can be reached and trusted and
// that c.ReviewerJWT may do what logins will need: create TokenReviews
// (asking it to review a dummy token) or, in local mode, read the
// cluster's signing keys and discovery document (which are read, and not
// kept). Failures are BadRequest and say exactly what is wrong: host
// unreachable or unknown, TLS verification failed, reviewer JWT invalid or
// expired (401), without system:auth-delegator or, in local mode, without
// system:service-account-issuer-discovery (403), documents unreadable.
func (s *Service) Probe(ctx context.Context, c Cluster) error {
	var err error
	if c.ReviewMode == ReviewLocal {
		_, err = s.api.fetchIssuerKeys(ctx, c, keysRequest{bearer: c.ReviewerJWT, withIssuer: true})
	} else {
		_, err = s.api.review(ctx, c, reviewRequest{token: probeToken, bearer: c.ReviewerJWT})
	}
	if err == nil {
		return nil
	}
	e := errs.As(err)
	if e.Code == errs.Internal {
		return err
	}
	return &errs.Error{Code: errs.BadRequest, Err: err,
		Message: "the Kubernetes API server check failed, nothing was changed: " + e.Message}
}

func (s *Service) probeIfReviewing(ctx context.Context, c Cluster) error {
	if c.ReviewMode == ReviewGateway || c.ReviewerJWT == "" || (c.ReviewMode == ReviewLocal && len(c.PEMKeys) > 0) {
		return nil // nothing to check with until a login brings a JWT
	}
	return s.Probe(ctx, c)
}

func connectionChanged(a, b Cluster) bool {
	return a.Host != b.Host || a.CACert != b.CACert || a.VerifyTLS != b.VerifyTLS ||
		a.ReviewMode != b.ReviewMode || a.ReviewerJWT != b.ReviewerJWT ||
		a.GatewayID != b.GatewayID || a.GatewayPoolID != b.GatewayPoolID
}

// LoginInput is an Infisical Kubernetes Auth login.
type LoginInput struct {
	IdentityID string
	JWT        secret.Secret // the service-account token
	ClientIP   netip.Addr
}

// LoginResult is a successful login.
type LoginResult struct {
	Token   token.Issued
	Account ServiceAccount
}

// errNoLogin is the answer for an identity that does not exist or has no
// Kubernetes Auth: one message, so a caller cannot tell which. The cause
// (for the audit log only) says which.
func errNoLogin(cause error) error {
	return &errs.Error{Code: errs.Unauthenticated, Err: cause,
		Message: "Kubernetes login failed: the identity does not exist or has no Kubernetes Auth attached"}
}

// LoginIdentity logs an identity in with a service-account JWT: cheap
// rejects first (identityId shape, JWT shape and size, then an identity
// without Kubernetes Auth — one answer whether or not the identity
// exists), then Login, then an access token with the method's token policy
// recording the reviewed account. Every attempt is audited with its true
// reason.
func (s *Service) LoginIdentity(ctx context.Context, in LoginInput) (LoginResult, error) {
	ev := store.AuditEvent{Type: audit.TypeLogin, AuthMethod: string(store.AuthMethodKubernetes)}
	if in.ClientIP.IsValid() {
		ev.ClientIP = in.ClientIP.String()
	}
	res, err := s.loginIdentity(ctx, in, &ev)
	if err == nil {
		return res, nil // its event was stored with the token
	}
	ev.Reason = auditReason(err)
	s.audit.Record(ctx, ev)
	return res, err
}

func (s *Service) loginIdentity(ctx context.Context, in LoginInput, ev *store.AuditEvent) (LoginResult, error) {
	if err := identity.CheckID("identityId", in.IdentityID); err != nil {
		return LoginResult{}, err
	}
	ev.IdentityID = in.IdentityID
	jwt, err := ParseJWT(in.JWT.Reveal())
	if err != nil {
		return LoginResult{}, err
	}
	m, err := s.store.GetAuthMethodByIdentity(ctx, in.IdentityID, store.AuthMethodKubernetes)
	if errors.Is(err, store.ErrNotFound) {
		return LoginResult{}, errNoLogin(errors.New("no Kubernetes Auth is attached to this identity ID (or no such identity)"))
	}
	if err != nil {
		return LoginResult{}, errs.Wrap(err, "reading Kubernetes Auth")
	}
	cfg, err := s.decode(m)
	if err != nil {
		return LoginResult{}, err
	}
	sa, err := s.Login(ctx, cfg, jwt)
	if err != nil {
		return LoginResult{}, err
	}
	ev.Details = sa.Metadata() // audited even if issuing fails
	issued, err := s.tokens.Issue(ctx, token.IssueRequest{
		IdentityID: m.IdentityID, AuthMethodID: m.ID, AuthMethodType: store.AuthMethodKubernetes,
		Policy: m.TokenPolicy, Metadata: sa.Metadata(), Event: ev,
	})
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Token: issued, Account: sa}, nil
}

// auditReason is the true reason of a failed login: the message and its
// cause (which the client does not see). Neither ever holds a secret.
func auditReason(err error) string {
	e := errs.As(err)
	if e.Code == errs.Invalid && len(e.Fields) > 0 {
		return e.Fields[0].Path + " " + e.Fields[0].Message
	}
	return e.Error()
}

// load reads an identity's method and config (the reviewer JWT still
// sealed), or 404 for an unknown identity or one without Kubernetes Auth.
func (s *Service) load(ctx context.Context, identityID string) (store.AuthMethod, Config, error) {
	if err := identity.CheckID("identityId", identityID); err != nil {
		return store.AuthMethod{}, Config{}, err
	}
	m, err := s.store.GetAuthMethodByIdentity(ctx, identityID, store.AuthMethodKubernetes)
	if errors.Is(err, store.ErrNotFound) {
		if _, ierr := s.store.GetIdentity(ctx, identityID); ierr != nil {
			return store.AuthMethod{}, Config{}, identity.NotFound(ierr, identityID)
		}
		return store.AuthMethod{}, Config{}, notAttached(identityID)
	}
	if err != nil {
		return store.AuthMethod{}, Config{}, errs.Wrap(err, "reading Kubernetes Auth")
	}
	cfg, err := decodeConfig(m.Config)
	return m, cfg, err
}

// reviewerAAD binds a sealed reviewer JWT to its auth method, so a sealed
// value copied to another row does not open there.
func reviewerAAD(methodID string) []byte {
	return []byte("gatehouse/kubernetes-auth/token-reviewer-jwt/" + methodID)
}

// decode returns a method's config with its reviewer JWT unsealed.
func (s *Service) decode(m store.AuthMethod) (Config, error) {
	cfg, err := decodeConfig(m.Config)
	if err != nil {
		return Config{}, err
	}
	cfg.ReviewerJWT, err = s.openReviewer(m)
	return cfg, err
}

func (s *Service) openReviewer(m store.AuthMethod) (secret.Secret, error) {
	if m.SealedSecret == nil {
		return "", nil
	}
	jwt, err := s.key.Open(m.SealedSecret, reviewerAAD(m.ID))
	if err != nil {
		return "", errs.Wrap(err, "opening the token reviewer JWT of auth method %s", m.ID)
	}
	return secret.Secret(jwt), nil
}

// encode returns the config JSON and the sealed reviewer JWT (nil when
// none) of a method.
func (s *Service) encode(methodID string, cfg Config) (raw, sealed []byte, err error) {
	if raw, err = cfg.encode(); err != nil {
		return nil, nil, err
	}
	if cfg.ReviewerJWT == "" {
		return raw, nil, nil
	}
	if sealed, err = s.key.Seal([]byte(cfg.ReviewerJWT.Reveal()), reviewerAAD(methodID)); err != nil {
		return nil, nil, errs.Wrap(err, "sealing the token reviewer JWT")
	}
	return raw, sealed, nil
}

// apply validates in against the current config and policy (zero on
// attach) and returns the new ones. All schema failures are reported
// together (Invalid); otherwise the first rule across fields that fails
// (BadRequest).
func (in Input) apply(cfg Config, policy store.TokenPolicy, create bool) (Config, store.TokenPolicy, error) {
	var fields []errs.FieldError
	var rule error
	collect := func(err error) {
		if err == nil {
			return
		}
		if e := errs.As(err); e.Code == errs.Invalid {
			fields = append(fields, e.Fields...)
		} else if rule == nil {
			rule = err
		}
	}
	cluster, err := in.Cluster.apply(cfg.Cluster)
	collect(err)
	if create && err == nil && in.Cluster.VerifyTLS == nil && cluster.CACert == "" && cluster.ReviewMode != ReviewGateway {
		// Secure by default: without a CA, Infisical silently skips
		// verification; we make the caller say so.
		collect(errs.New(errs.BadRequest, "TLS verification is on by default and needs a CA: set caCert to the PEM of the CA that signed the API server's certificate, or set verifyTlsCertificate=false explicitly to skip verification"))
	}
	rules, err := in.Rules.apply(cfg.Rules)
	collect(err)
	if create {
		policy, err = in.Policy.Create()
	} else {
		policy, err = in.Policy.Update(policy)
	}
	collect(err)
	if len(fields) > 0 {
		return Config{}, store.TokenPolicy{}, errs.Validation(fields...)
	}
	if rule != nil {
		return Config{}, store.TokenPolicy{}, rule
	}
	return Config{Cluster: cluster, Rules: rules}, policy, nil
}

// view is what the API shows of a method: whether a reviewer JWT is
// sealed in it, never the JWT.
func view(m store.AuthMethod, cfg Config) View {
	cfg.ReviewerJWT = ""
	return View{ID: m.ID, IdentityID: m.IdentityID, Config: cfg, ReviewerJWTSet: m.SealedSecret != nil,
		TokenPolicy: m.TokenPolicy, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func (s *Service) recordChange(ctx context.Context, p identity.Principal, typ string, m store.AuthMethod, cfg Config) {
	s.audit.Record(ctx, store.AuditEvent{Type: typ, Success: true, ActorID: p.ActorID(), IdentityID: m.IdentityID,
		AuthMethod: string(store.AuthMethodKubernetes), Details: map[string]string{
			"authMethodId":         m.ID,
			"kubernetesHost":       cfg.Host,
			"tokenReviewMode":      string(cfg.ReviewMode),
			"verifyTlsCertificate": strconv.FormatBool(cfg.VerifyTLS),
			"tokenReviewerJwtSet":  strconv.FormatBool(m.SealedSecret != nil),
		}})
}

func notAttached(id string) error {
	return errs.New(errs.NotFound, "The identity %s does not have Kubernetes Auth attached", id)
}

func alreadyAttached() error {
	return errs.New(errs.BadRequest, "Failed to add Kubernetes Auth to already configured identity")
}
