package kubeauth

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// ReviewMode says who reviews login tokens.
type ReviewMode string

const (
	// ReviewAPI: Gatehouse calls the cluster's TokenReview API itself.
	ReviewAPI ReviewMode = "api"
	// ReviewGateway: a gateway inside the cluster reviews tokens with its
	// own service account. Stored, not served yet.
	ReviewGateway ReviewMode = "gateway"
	// ReviewLocal (a Gatehouse extension): no TokenReview; Gatehouse
	// verifies the JWT itself with the cluster's signing keys (PEMKeys, or
	// the key set the API server publishes) and judges its claims. A
	// service account or pod deleted meanwhile is not noticed until the
	// JWT expires.
	ReviewLocal ReviewMode = "local"
)

// MaxCACertBytes bounds a CA bundle.
const MaxCACertBytes = 64 << 10

// MaxAudienceLen bounds an audience.
const MaxAudienceLen = 1024

// Cluster is how to reach and trust one Kubernetes API server. The
// Infisical API keeps one per identity; the Vault API one per mount.
type Cluster struct {
	// Host is the API server's base URL as NormalizeHost returns it; "" is
	// allowed only in gateway mode.
	Host string `json:"kubernetesHost"`
	// HostGiven is the host as the Infisical API was sent it (trimmed),
	// which it returns (HostAsGiven); Host is what logins use.
	HostGiven string `json:"kubernetesHostGiven,omitempty"`
	// CACert is a PEM bundle that alone is trusted for the API server's
	// certificate, kept as it was sent. It is set exactly when VerifyTLS
	// is true.
	CACert    string `json:"caCert"`
	VerifyTLS bool   `json:"verifyTlsCertificate"`
	// SystemRoots: with VerifyTLS and no CACert, verify against the
	// system trust store (Vault's config) rather than refuse. Never set by
	// the Infisical API, whose contract needs a CA to verify.
	SystemRoots bool `json:"-"`
	// ReviewMode is ReviewAPI, ReviewGateway or ReviewLocal.
	ReviewMode    ReviewMode `json:"tokenReviewMode"`
	GatewayID     string     `json:"gatewayId,omitempty"`
	GatewayPoolID string     `json:"gatewayPoolId,omitempty"`
	// PEMKeys, when set, are public keys (PEM: PKIX keys or certificates)
	// that must have signed a login JWT, checked before the TokenReview
	// (Vault's pem_keys); Issuer, when set, must be its iss. They add
	// checks; the TokenReview is always made. In local mode they are the
	// keys (else the cluster's key set is read) and Issuer, required with
	// them, is always checked (else the discovered issuer is).
	PEMKeys []string `json:"pemKeys,omitempty"`
	Issuer  string   `json:"issuer,omitempty"`
	// ReviewerJWT is the TokenReview bearer; "" means each login's own
	// JWT is the bearer. It is a secret: never stored in the JSON config
	// (it is sealed apart) and never returned.
	ReviewerJWT secret.Secret `json:"-"`
}

// Rules say which reviewed service accounts may log in.
type Rules struct {
	Namespaces Patterns `json:"allowedNamespaces"` // empty = any
	Names      Patterns `json:"allowedNames"`      // empty = any
	// NamespacesGiven and NamesGiven are the lists as the Infisical API
	// was sent them, which it returns (NamespacesAsGiven, NamesAsGiven);
	// the parsed lists above are what logins use.
	NamespacesGiven string `json:"allowedNamespacesGiven,omitempty"`
	NamesGiven      string `json:"allowedNamesGiven,omitempty"`
	// Audiences are sent as the review's spec.audiences and the answer
	// must hold one of them. Empty: the API server's own audiences, or
	// with AudiencesFromJWT the login JWT's aud (Vault's fallback).
	Audiences        []string `json:"allowedAudiences"`
	AudiencesFromJWT bool     `json:"audiencesFromJwt,omitempty"`
	// NamespaceSelector (Vault's bound_service_account_namespace_selector;
	// ParseNamespaceSelector), when set, also allows a namespace the
	// patterns do not: one whose labels, read from the API server with
	// the reviewer JWT, it selects. With it, empty Namespaces allow no
	// namespace by name. Never stored with the Infisical API's config.
	NamespaceSelector labels.Selector `json:"-"`
}

// Config is a Kubernetes Auth configuration as stored in
// store.AuthMethod.Config: the cluster and the rules. The reviewer JWT is
// kept sealed in store.AuthMethod.SealedSecret.
type Config struct {
	Cluster
	Rules
}

func decodeConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, errs.Wrap(err, "stored Kubernetes Auth config is unreadable")
	}
	return c, nil
}

func (c Config) encode() (json.RawMessage, error) {
	c.Namespaces, c.Names = nonNil(c.Namespaces), nonNil(c.Names)
	if c.Audiences == nil {
		c.Audiences = []string{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, errs.Wrap(err, "encoding Kubernetes Auth config")
	}
	return b, nil
}

func nonNil(p Patterns) Patterns {
	if p == nil {
		return Patterns{}
	}
	return p
}

// Audience is the single audience of the Infisical API's allowedAudience.
func (r Rules) Audience() string {
	if len(r.Audiences) == 0 {
		return ""
	}
	return r.Audiences[0]
}

// Field names in the Infisical API.
const (
	fieldHost          = "kubernetesHost"
	fieldCACert        = "caCert"
	fieldVerifyTLS     = "verifyTlsCertificate"
	fieldMode          = "tokenReviewMode"
	fieldGatewayID     = "gatewayId"
	fieldGatewayPoolID = "gatewayPoolId"
	fieldNamespaces    = "allowedNamespaces"
	fieldNames         = "allowedNames"
	fieldAudience      = "allowedAudience"
	fieldReviewerJWT   = "tokenReviewerJwt"
)

// ClusterInput is the connection part of an attach (every field given)
// or update (nil = unchanged) request.
type ClusterInput struct {
	// Host: on update, "" clears it (PATCH kubernetesHost: null), which
	// only gateway mode allows.
	Host *string
	// CACert: "" clears it.
	CACert    *string
	VerifyTLS *bool
	Mode      *ReviewMode
	// GatewayID, GatewayPoolID: "" clears them.
	GatewayID     *string
	GatewayPoolID *string
	// ReviewerJWT: "" deletes it (PATCH tokenReviewerJwt: null); to leave
	// it unchanged pass nil.
	ReviewerJWT *secret.Secret
}

// RulesInput is the allow-list part of a request (nil = unchanged; on
// attach, nil = allow any).
type RulesInput struct {
	Namespaces *string // comma-separated
	Names      *string // comma-separated
	Audience   *string
}

// apply validates in and applies it to c (the zero Cluster on attach),
// enforcing the TLS rules of the contract:
//   - a non-empty CA always means verifyTlsCertificate=true: a CA given
//     without the flag turns verification on;
//   - verifyTlsCertificate=true needs a CA, given now or already stored
//     (the system roots are never used);
//   - verifyTlsCertificate=false means HTTPS without verifying the server
//     certificate, and then no CA may remain stored: a state with a CA and
//     verification off is rejected, never stored;
//   - with the flag omitted and no new CA, the stored flag is kept (on
//     attach: on exactly when a CA is given).
//
// Schema failures are Invalid; rules across fields are BadRequest.
func (in ClusterInput) apply(c Cluster) (Cluster, error) {
	var fields []errs.FieldError
	bad := func(field, msg string) { fields = append(fields, errs.FieldError{Path: field, Message: msg}) }
	if in.Host != nil {
		if *in.Host == "" {
			c.Host, c.HostGiven = "", ""
		} else if h, err := NormalizeHost(*in.Host); err != nil {
			bad(fieldHost, err.Error())
		} else {
			c.Host, c.HostGiven = h, strings.TrimSpace(*in.Host)
		}
	}
	caGiven := false
	if in.CACert != nil {
		ca := strings.TrimSpace(*in.CACert)
		if err := CheckCABundle(ca); err != nil {
			bad(fieldCACert, err.Error())
		}
		c.CACert, caGiven = ca, ca != ""
		if ca != "" {
			c.CACert = *in.CACert // as sent: it is returned, and parses the same
		}
	}
	if in.Mode != nil {
		if *in.Mode != ReviewAPI && *in.Mode != ReviewGateway && *in.Mode != ReviewLocal {
			bad(fieldMode, `must be "api", "gateway" or "local"`)
		}
		c.ReviewMode = *in.Mode
	}
	for _, g := range []struct {
		field string
		in    *string
		dst   *string
	}{{fieldGatewayID, in.GatewayID, &c.GatewayID}, {fieldGatewayPoolID, in.GatewayPoolID, &c.GatewayPoolID}} {
		if g.in == nil {
			continue
		}
		if *g.in != "" {
			if _, err := uuid.Parse(*g.in); err != nil || len(*g.in) != 36 {
				bad(g.field, "must be a UUID")
			}
		}
		*g.dst = *g.in
	}
	if in.ReviewerJWT != nil {
		jwt := secret.Secret(strings.TrimSpace(in.ReviewerJWT.Reveal()))
		if len(jwt) > MaxJWTBytes {
			bad(fieldReviewerJWT, fmt.Sprintf("must be at most %d bytes", MaxJWTBytes))
		}
		c.ReviewerJWT = jwt
	}
	if len(fields) > 0 {
		return Cluster{}, errs.Validation(fields...)
	}
	switch {
	case in.VerifyTLS != nil:
		c.VerifyTLS = *in.VerifyTLS
	case caGiven:
		c.VerifyTLS = true
	}
	return c, c.check()
}

// check enforces the rules across fields of a resulting state.
func (c Cluster) check() error {
	switch {
	case c.VerifyTLS && c.CACert == "":
		return errs.New(errs.BadRequest, "A CA certificate is required when TLS certificate verification is enabled (verifyTlsCertificate=true): set caCert to the PEM of the CA that signed the API server's certificate, or set verifyTlsCertificate=false to skip verification")
	case !c.VerifyTLS && c.CACert != "":
		return errs.New(errs.BadRequest, "TLS certificate verification cannot be disabled while a CA certificate is set: send caCert \"\" with verifyTlsCertificate=false, or keep verification on")
	case c.ReviewMode == ReviewAPI && c.Host == "":
		return errs.New(errs.BadRequest, "kubernetesHost is required when tokenReviewMode is \"api\"")
	case c.ReviewMode == ReviewLocal && c.Host == "":
		return errs.New(errs.BadRequest, "kubernetesHost is required when tokenReviewMode is \"local\": the cluster's signing keys and issuer are read from its API server")
	case c.GatewayID != "" && c.GatewayPoolID != "":
		return errs.New(errs.BadRequest, "set exactly one of gatewayId and gatewayPoolId, not both")
	case c.ReviewMode == ReviewGateway && c.GatewayID == "" && c.GatewayPoolID == "":
		return errs.New(errs.BadRequest, "tokenReviewMode \"gateway\" needs exactly one of gatewayId and gatewayPoolId")
	}
	return nil
}

// apply validates in and applies it to r.
func (in RulesInput) apply(r Rules) (Rules, error) {
	var fields []errs.FieldError
	for _, l := range []struct {
		field string
		in    *string
		dst   *Patterns
		given *string
	}{{fieldNamespaces, in.Namespaces, &r.Namespaces, &r.NamespacesGiven}, {fieldNames, in.Names, &r.Names, &r.NamesGiven}} {
		if l.in == nil {
			continue
		}
		p, err := ParseList(l.field, *l.in)
		if err != nil {
			fields = append(fields, errs.As(err).Fields...)
			continue
		}
		*l.dst, *l.given = p, *l.in
	}
	if in.Audience != nil {
		aud := strings.TrimSpace(*in.Audience)
		switch {
		case len(aud) > MaxAudienceLen:
			fields = append(fields, errs.FieldError{Path: fieldAudience, Message: fmt.Sprintf("must be at most %d characters", MaxAudienceLen)})
		case aud == "":
			r.Audiences = nil
		default:
			r.Audiences = []string{aud}
		}
	}
	if len(fields) > 0 {
		return Rules{}, errs.Validation(fields...)
	}
	return r, nil
}

// CheckCABundle accepts "" or PEM holding only certificates, at least one,
// each parseable.
func CheckCABundle(ca string) error {
	if ca == "" {
		return nil
	}
	if len(ca) > MaxCACertBytes {
		return fmt.Errorf("must be at most %d bytes", MaxCACertBytes)
	}
	_, err := parseCABundle(ca)
	return err
}

func parseCABundle(ca string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(ca)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("must hold only PEM CERTIFICATE blocks, found %q", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("must be PEM-encoded certificates (-----BEGIN CERTIFICATE-----)")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("has data after the last PEM certificate")
	}
	return pool, nil
}
