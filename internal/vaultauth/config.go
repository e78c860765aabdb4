package vaultauth

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MaxPEMKeys bounds pem_keys.
const MaxPEMKeys = 100

// Config is a mount's configuration (Vault's auth/<mount>/config). The
// reviewer JWT is sealed apart and never returned.
type Config struct {
	Host                 string   `json:"kubernetesHost"`
	CACert               string   `json:"kubernetesCaCert"`
	PEMKeys              []string `json:"pemKeys"`
	Issuer               string   `json:"issuer"`
	DisableISSValidation bool     `json:"disableIssValidation"`
	DisableLocalCAJWT    bool     `json:"disableLocalCaJwt"`
	// UseAnnotationsAsAliasMetadata copies the logged-in service
	// account's vault.hashicorp.com/alias-metadata-* annotations into the
	// token's metadata (Vault's use_annotations_as_alias_metadata).
	UseAnnotationsAsAliasMetadata bool `json:"useAnnotationsAsAliasMetadata,omitempty"`
	// TokenReviewMode (a Gatehouse extension, token_review_mode) is
	// kubeauth.ReviewAPI, Vault's behaviour and the default, or
	// kubeauth.ReviewLocal: no TokenReview, the JWT verified with pem_keys
	// or else the cluster's published key set, iss always checked.
	TokenReviewMode kubeauth.ReviewMode `json:"tokenReviewMode,omitempty"`
	// GatewayID or GatewayPoolID (Gatehouse extensions, gateway_id and
	// gateway_pool_id): the cluster is reached through a gateway. In
	// "gateway" mode the gateway reviews with its own service account and
	// kubernetes_host may be empty; in "api" and "local" modes it relays
	// TCP to kubernetes_host.
	GatewayID     string `json:"gatewayId,omitempty"`
	GatewayPoolID string `json:"gatewayPoolId,omitempty"`
}

// ReviewMode is the mount's review mode, ReviewAPI unless set.
func (c Config) ReviewMode() kubeauth.ReviewMode {
	if c.TokenReviewMode == "" {
		return kubeauth.ReviewAPI
	}
	return c.TokenReviewMode
}

// ConfigInput is a config write. A write replaces the whole config:
// omitted fields return to their defaults.
type ConfigInput struct {
	Host                 string
	CACert               string
	ReviewerJWT          secret.Secret
	PEMKeys              []string
	Issuer               string
	DisableISSValidation *bool // nil: true
	DisableLocalCAJWT    bool
	TokenReviewMode      string // "" = "api"
	// UseAnnotationsAsAliasMetadata: see Config.
	UseAnnotationsAsAliasMetadata bool
	GatewayID                     string
	GatewayPoolID                 string
}

// ConfigView is a mount's config as the API shows it.
type ConfigView struct {
	Config
	ReviewerJWTSet bool
}

// WarnPlainHTTP is the warning of a config whose kubernetes_host is an
// http:// URL.
const WarnPlainHTTP = "kubernetes_host is an http:// URL: the token reviewer JWT and every login's JWT are sent to it in clear text; use plain HTTP only to an API server proxy on the same host (kubectl proxy)"

// WriteConfig validates in and replaces the mount's config with it. It
// returns the write's warnings (Vault's response warnings).
func (s *Service) WriteConfig(ctx context.Context, p identity.Principal, mountPath string, in ConfigInput) ([]string, error) {
	if err := p.RequireAdmin("configuring an auth method"); err != nil {
		return nil, err
	}
	m, err := s.mount(ctx, mountPath)
	if err != nil {
		return nil, err
	}
	cfg, warnings, err := in.validate()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, errs.Wrap(err, "encoding config")
	}
	var sealed []byte
	if in.ReviewerJWT != "" {
		if sealed, err = s.key.Seal([]byte(in.ReviewerJWT.Reveal()), reviewerAAD(m)); err != nil {
			return nil, errs.Wrap(err, "sealing the token reviewer JWT")
		}
	}
	m, err = s.store.UpdateMount(ctx, m.Path, func(m *store.Mount) error {
		doc, err := keepTune(m.Config, raw)
		m.Config, m.SealedSecret, m.UpdatedAt = doc, sealed, s.now()
		return err
	})
	if err != nil {
		return nil, errs.Wrap(err, "storing config")
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeMountConfigure, Success: true, ActorID: p.ActorID(),
		AuthMethod: string(store.AuthMethodVaultKubernetes), Details: map[string]string{
			"path": m.Path, "kubernetesHost": cfg.Host, "tokenReviewerJwtSet": strconv.FormatBool(sealed != nil),
			"pemKeys": strconv.Itoa(len(cfg.PEMKeys)), "tokenReviewMode": string(cfg.ReviewMode()),
		}})
	return warnings, nil
}

// ReadConfig returns a mount's config; NotFound before the first write.
func (s *Service) ReadConfig(ctx context.Context, p identity.Principal, mountPath string) (ConfigView, error) {
	if err := p.RequireMember("reading an auth method's config"); err != nil {
		return ConfigView{}, err
	}
	m, err := s.mount(ctx, mountPath)
	if err != nil {
		return ConfigView{}, err
	}
	cfg, ok, err := decodeConfig(m)
	if err != nil || !ok {
		return ConfigView{}, err
	}
	return ConfigView{Config: cfg, ReviewerJWTSet: m.SealedSecret != nil}, nil
}

func (in ConfigInput) validate() (Config, []string, error) {
	cfg, err := in.check()
	if err != nil {
		return Config{}, nil, err
	}
	var warnings []string
	if strings.HasPrefix(cfg.Host, "http://") {
		warnings = append(warnings, WarnPlainHTTP)
	}
	return cfg, warnings, nil
}

func (in ConfigInput) check() (Config, error) {
	cfg := Config{
		CACert:               in.CACert,
		Issuer:               strings.TrimSpace(in.Issuer),
		DisableISSValidation: in.DisableISSValidation == nil || *in.DisableISSValidation,
		DisableLocalCAJWT:    in.DisableLocalCAJWT,
		PEMKeys:              []string{},
	}
	cfg.UseAnnotationsAsAliasMetadata = in.UseAnnotationsAsAliasMetadata
	gatewayMode := kubeauth.ReviewMode(in.TokenReviewMode) == kubeauth.ReviewGateway
	if err := checkGateways(in, gatewayMode); err != nil {
		return Config{}, err
	}
	cfg.GatewayID, cfg.GatewayPoolID = in.GatewayID, in.GatewayPoolID
	switch {
	case strings.TrimSpace(in.Host) == "" && !gatewayMode:
		return Config{}, errs.New(errs.BadRequest, "no host provided: kubernetes_host is required (the API server's URL, host or host:port)")
	case strings.TrimSpace(in.Host) != "":
		// Vault's rules: http:// too (kubectl proxy), unlike the Infisical API.
		host, _, err := kubeauth.NormalizeHostAllowingHTTP(in.Host)
		if err != nil {
			return Config{}, errs.New(errs.BadRequest, "kubernetes_host %s", err)
		}
		cfg.Host = host
	}
	if strings.TrimSpace(cfg.CACert) == "" {
		cfg.CACert = ""
	} else if err := kubeauth.CheckCABundle(cfg.CACert); err != nil {
		return Config{}, errs.New(errs.BadRequest, "kubernetes_ca_cert %s", err)
	}
	if len(in.PEMKeys) > MaxPEMKeys {
		return Config{}, errs.New(errs.BadRequest, "pem_keys: at most %d keys", MaxPEMKeys)
	}
	for _, k := range in.PEMKeys {
		if k = strings.TrimSpace(k); k != "" {
			cfg.PEMKeys = append(cfg.PEMKeys, k)
		}
	}
	if _, err := kubeauth.ParsePEMKeys(cfg.PEMKeys); err != nil {
		return Config{}, errs.New(errs.BadRequest, "pem_keys: %s", err)
	}
	if len(cfg.Issuer) > kubeauth.MaxIssuerLen {
		return Config{}, errs.New(errs.BadRequest, "issuer must be at most %d characters", kubeauth.MaxIssuerLen)
	}
	switch mode := kubeauth.ReviewMode(in.TokenReviewMode); mode {
	case "", kubeauth.ReviewAPI:
		cfg.TokenReviewMode = kubeauth.ReviewAPI
	case kubeauth.ReviewGateway:
		cfg.TokenReviewMode = mode
	case kubeauth.ReviewLocal:
		cfg.TokenReviewMode = mode
		if len(cfg.PEMKeys) > 0 && cfg.Issuer == "" {
			return Config{}, errs.New(errs.BadRequest, "issuer is required with pem_keys when token_review_mode is \"local\": every local login checks the JWT's iss against it (disable_iss_validation does not apply in local mode)")
		}
	default:
		return Config{}, errs.New(errs.BadRequest, "token_review_mode must be \"api\" (TokenReview, the default), \"local\" (verify the JWT with the cluster's signing keys) or \"gateway\" (a gateway reviews), not %q", clip(in.TokenReviewMode, 50))
	}
	if in.ReviewerJWT != "" {
		if _, err := kubeauth.ParseJWT(in.ReviewerJWT.Reveal()); err != nil {
			return Config{}, errs.New(errs.BadRequest, "token_reviewer_jwt is not a JWT: %s", errs.As(err).Message)
		}
	}
	return cfg, nil
}

func decodeConfig(m store.Mount) (Config, bool, error) {
	if m.Config == nil {
		return Config{}, false, nil
	}
	var cfg Config
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		return Config{}, false, errs.Wrap(err, "stored config of mount %s is unreadable", m.Path)
	}
	if cfg.PEMKeys == nil {
		cfg.PEMKeys = []string{}
	}
	// A tuned mount has a document before its config; a configured one has
	// a host, or a gateway that reviews without one.
	return cfg, cfg.Host != "" || cfg.ReviewMode() == kubeauth.ReviewGateway, nil
}

// reviewerAAD binds a sealed reviewer JWT to its mount.
func reviewerAAD(m store.Mount) []byte {
	return []byte("gatehouse/vault-kubernetes/token-reviewer-jwt/" + m.Accessor)
}

// cluster is the kubeauth.Cluster a login on m uses: the configured CA
// and reviewer JWT, or in a pod (unless disable_local_ca_jwt) the pod's
// own when they are empty. TLS is always verified: with the CA when one
// is set, else with the system roots, as Vault does.
func (s *Service) cluster(m store.Mount, cfg Config) (kubeauth.Cluster, error) {
	c := kubeauth.Cluster{Host: cfg.Host, CACert: cfg.CACert, VerifyTLS: true, SystemRoots: true, ReviewMode: cfg.ReviewMode(), PEMKeys: cfg.PEMKeys,
		GatewayID: cfg.GatewayID, GatewayPoolID: cfg.GatewayPoolID}
	// In api mode iss is checked only when validation is on and an issuer
	// is set: with no issuer Vault checks nothing (it records its old
	// default, "kubernetes/serviceaccount", but never compares it), and
	// checking that default would refuse every projected token. In local
	// mode iss is always checked: against the issuer set, else the one the
	// cluster's discovery document names.
	if !cfg.DisableISSValidation || c.ReviewMode == kubeauth.ReviewLocal {
		c.Issuer = cfg.Issuer
	}
	if m.SealedSecret != nil {
		jwt, err := s.key.Open(m.SealedSecret, reviewerAAD(m))
		if err != nil {
			return kubeauth.Cluster{}, errs.Wrap(err, "opening the token reviewer JWT of mount %s", m.Path)
		}
		c.ReviewerJWT = secret.Secret(jwt)
	}
	if !cfg.DisableLocalCAJWT {
		if c.CACert == "" {
			c.CACert = s.pod.caCert()
		}
		if c.ReviewerJWT == "" {
			c.ReviewerJWT = s.pod.token()
		}
	}
	return c, nil
}

// checkGateways validates gateway_id and gateway_pool_id: UUIDs, at most
// one, and one of them in gateway mode.
func checkGateways(in ConfigInput, gatewayMode bool) error {
	for _, g := range []struct{ field, v string }{{"gateway_id", in.GatewayID}, {"gateway_pool_id", in.GatewayPoolID}} {
		if g.v != "" {
			if err := identity.CheckID(g.field, g.v); err != nil {
				return errs.New(errs.BadRequest, "%s must be a UUID", g.field)
			}
		}
	}
	switch {
	case in.GatewayID != "" && in.GatewayPoolID != "":
		return errs.New(errs.BadRequest, "set exactly one of gateway_id and gateway_pool_id, not both")
	case gatewayMode && in.GatewayID == "" && in.GatewayPoolID == "":
		return errs.New(errs.BadRequest, "token_review_mode \"gateway\" needs gateway_id or gateway_pool_id")
	}
	return nil
}
