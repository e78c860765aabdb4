package kubeauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// localLeeway is the clock skew allowed on exp, nbf and iat, as
// kube-apiserver and Vault allow.
const localLeeway = 60 * time.Second

// localAlgorithms are the signature algorithms service-account keys use.
func localAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512,
	}
}

// ParsePEMKeys parses PEM public keys (PKIX "PUBLIC KEY", PKCS #1 "RSA
// PUBLIC KEY" or a "CERTIFICATE", whose key is used); only RSA and ECDSA
// keys are accepted. Each entry may hold several PEM blocks.
func ParsePEMKeys(entries []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for i, e := range entries {
		rest := []byte(e)
		found := 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			k, err := parsePublicKey(block)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", i+1, err)
			}
			keys = append(keys, k)
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("key %d: data does not contain any valid RSA or ECDSA public keys", i+1)
		}
	}
	return keys, nil
}

func parsePublicKey(block *pem.Block) (crypto.PublicKey, error) {
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return key, nil
	}
	return nil, errors.New("only RSA and ECDSA public keys are supported")
}

// keyCache keeps parsed pem_keys, so a login does not parse PEM and DER
// again. It is keyed by the keys' text, so a changed config is a new entry;
// it is bounded and simply emptied when full (configs rarely change).
type keyCache struct {
	mu   sync.Mutex
	keys map[string][]verificationKey
}

const maxCachedKeySets = 256

var parsedKeys = &keyCache{keys: map[string][]verificationKey{}}

func (kc *keyCache) get(entries []string) ([]verificationKey, error) {
	id := strings.Join(entries, "\x00")
	kc.mu.Lock()
	keys, ok := kc.keys[id]
	kc.mu.Unlock()
	if ok {
		return keys, nil
	}
	parsed, err := ParsePEMKeys(entries)
	if err != nil {
		return nil, err
	}
	keys = make([]verificationKey, len(parsed))
	for i, k := range parsed {
		keys[i] = verificationKey{key: k}
	}
	kc.mu.Lock()
	if len(kc.keys) >= maxCachedKeySets {
		clear(kc.keys)
	}
	kc.keys[id] = keys
	kc.mu.Unlock()
	return keys, nil
}

// claimedAccount is the service account a locally verified JWT names.
type claimedAccount struct {
	Namespace, Name, UID string
}

func (c claimedAccount) matches(sa ServiceAccount) bool {
	return c.Namespace == sa.Namespace && c.Name == sa.Name && (c.UID == "" || c.UID == sa.UID)
}

// serviceAccountClaims are the private claims of projected and legacy
// service-account tokens; the projected ones win when both are present.
type serviceAccountClaims struct {
	Kubernetes struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
		Pod *struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
	} `json:"kubernetes.io"`
	LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace"`
	LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name"`
	LegacyUID       string `json:"kubernetes.io/serviceaccount/service-account.uid"`
}

// signedJWT is a login JWT parsed for a local signature check.
type signedJWT struct {
	tok      *josejwt.JSONWebToken
	kid, alg string
}

func parseSigned(jwt JWT) (signedJWT, error) {
	tok, err := josejwt.ParseSigned(jwt.Raw.Reveal(), localAlgorithms())
	if err == nil && len(tok.Headers) != 1 { // compact JWS: one signature
		err = errors.New("not exactly one signature")
	}
	if err != nil {
		return signedJWT{}, errs.Because(errs.Unauthenticated, ErrMalformedJWT, "the jwt cannot be verified: %s", lastCause(err))
	}
	h := tok.Headers[0]
	return signedJWT{tok: tok, kid: h.KeyID, alg: h.Algorithm}, nil
}

// verifiedClaims are the claims of a JWT whose signature verified.
type verifiedClaims struct {
	public  josejwt.Claims
	private serviceAccountClaims
}

// verify checks the signature against keys, the first that verifies
// winning; source names the keys in the failure.
func (sj signedJWT) verify(keys []verificationKey, source string) (verifiedClaims, error) {
	for _, k := range keys {
		if k.alg != "" && k.alg != sj.alg {
			continue
		}
		var vc verifiedClaims
		if sj.tok.Claims(k.key, &vc.public, &vc.private) == nil {
			return vc, nil
		}
	}
	return verifiedClaims{}, denied("the jwt's signature does not verify with any of %s", source)
}

// validate checks exp, nbf and iat (localLeeway), iss when issuer is set
// and aud when audiences are given (one of them).
func (vc verifiedClaims) validate(issuer string, audiences []string, now time.Time) error {
	exp := josejwt.Expected{Issuer: issuer, Time: now}
	if len(audiences) > 0 {
		exp.AnyAudience = josejwt.Audience(audiences)
	}
	switch err := vc.public.ValidateWithLeeway(exp, localLeeway); {
	case err == nil:
		return nil
	case errors.Is(err, josejwt.ErrExpired):
		return denied("the jwt has expired (exp)")
	case errors.Is(err, josejwt.ErrNotValidYet), errors.Is(err, josejwt.ErrIssuedInTheFuture):
		return denied("the jwt is not valid yet (nbf/iat in the future)")
	case errors.Is(err, josejwt.ErrInvalidIssuer):
		return deniedBy(ErrIssuerMismatch, "the jwt's issuer (iss) %q is not the issuer %q", clip(vc.public.Issuer, 200), issuer)
	case errors.Is(err, josejwt.ErrInvalidAudience):
		return deniedBy(&NotAllowedError{ErrAudienceMismatch, strings.Join(audiences, ",")}, "the jwt is not valid for the audience %q (its aud is %q)", audiences, []string(vc.public.Audience))
	default:
		return denied("the jwt's claims are invalid: %v", err)
	}
}

// pemKeysSource names pem_keys in messages.
const pemKeysSource = "the configured public keys (pem_keys)"

// verifyLocally checks jwt against c.PEMKeys: a signature by one of them,
// exp/nbf/iat with leeway, iss when c.Issuer is set and aud when audiences
// are given. It returns the account the (now verified) claims name.
func verifyLocally(jwt JWT, c Cluster, audiences []string, now time.Time) (claimedAccount, error) {
	keys, err := parsedKeys.get(c.PEMKeys)
	if err != nil {
		return claimedAccount{}, errs.Wrap(err, "stored pem_keys are unreadable")
	}
	sj, err := parseSigned(jwt)
	if err != nil {
		return claimedAccount{}, err
	}
	vc, err := sj.verify(keys, pemKeysSource)
	if err != nil {
		return claimedAccount{}, err
	}
	if err := vc.validate(c.Issuer, audiences, now); err != nil {
		return claimedAccount{}, err
	}
	p := vc.private
	ca := claimedAccount{Namespace: p.LegacyNamespace, Name: p.LegacyName, UID: p.LegacyUID}
	if k := p.Kubernetes; k.Namespace != "" || k.ServiceAccount.Name != "" {
		ca = claimedAccount{Namespace: k.Namespace, Name: k.ServiceAccount.Name, UID: k.ServiceAccount.UID}
	}
	if ca.Namespace == "" || ca.Name == "" {
		return claimedAccount{}, denied("the jwt names no service account (kubernetes.io claims)")
	}
	return ca, nil
}

// errNoExpiry refuses a JWT without exp in local mode.
const errNoExpiry = "local verification needs an expiring (projected) service-account token; legacy Secret tokens never expire and can only be checked with TokenReview"

// jwksSource names a cluster's key set in messages.
const jwksSource = "the cluster's service-account signing keys (GET " + jwksPath + ")"

// loginLocally is Login in local mode: the JWT's signature is verified
// with the cluster's signing keys and the account is judged on its
// verified claims; no TokenReview is made. In order: the signature (the
// keys of its kid), exp (required: legacy tokens are refused), exp, nbf
// and iat with leeway, iss (always), aud, the projected kubernetes.io
// claims and sub, then the namespace and name rules.
func (s *Service) loginLocally(ctx context.Context, cfg Config, jwt JWT) (ServiceAccount, error) {
	sj, err := parseSigned(jwt)
	if err != nil {
		return ServiceAccount{}, err
	}
	keys, issuer, source, err := s.localKeys(ctx, cfg.Cluster, jwt, sj)
	if err != nil {
		return ServiceAccount{}, err
	}
	if issuer == "" { // never: configured, or a discovered one is required
		return ServiceAccount{}, errs.New(errs.Internal, "local verification without an issuer")
	}
	vc, err := sj.verify(keys, source)
	if err != nil {
		return ServiceAccount{}, err
	}
	if vc.public.Expiry == nil {
		return ServiceAccount{}, denied(errNoExpiry)
	}
	want := localAudiences(cfg.Rules, issuer)
	if err := vc.validate(issuer, want, s.now()); err != nil {
		return ServiceAccount{}, err
	}
	matched := []string(vc.public.Audience)
	if want != nil {
		matched = intersect(want, matched)
	} else if len(matched) == 0 {
		return ServiceAccount{}, denied("the jwt has no audience (aud)")
	}
	sa, err := vc.projectedAccount()
	if err != nil {
		return ServiceAccount{}, err
	}
	if err := s.allow(ctx, cfg.Cluster, cfg.Rules, sa.Namespace, sa.Name); err != nil {
		return ServiceAccount{}, err
	}
	sa.Audiences = slices.Clone(matched)
	return sa, nil
}

// localKeys are the keys sj may be signed with in local mode, the issuer
// it must name, and how messages name the keys: pem_keys with the
// configured issuer, else the cluster's key set with the configured issuer
// or, when none, the one its discovery document names.
func (s *Service) localKeys(ctx context.Context, c Cluster, jwt JWT, sj signedJWT) (keys []verificationKey, issuer, source string, err error) {
	if len(c.PEMKeys) > 0 {
		if c.Issuer == "" {
			// Refused when configured; checked again so that no local
			// login ever skips iss.
			return nil, "", "", errs.New(errs.BadRequest, "local verification with pem_keys needs an issuer: set issuer to the cluster's service-account issuer")
		}
		if keys, err = parsedKeys.get(c.PEMKeys); err != nil {
			return nil, "", "", errs.Wrap(err, "stored pem_keys are unreadable")
		}
		return keys, c.Issuer, pemKeysSource, nil
	}
	req := keysRequest{bearer: c.ReviewerJWT, withIssuer: c.Issuer == ""}
	if req.bearer == "" {
		// Only when the keys are read, not at every login.
		req.bearer, req.bearerIsLoginJWT = jwt.Raw, true
		req.verifies = func(keys []verificationKey) bool {
			vc, err := sj.verify(keys, jwksSource)
			return err == nil && vc.public.Expiry != nil && s.now().Before(vc.public.Expiry.Time())
		}
	}
	set, err := s.keySets.get(ctx, c, req, sj.kid)
	if err != nil {
		return nil, "", "", err
	}
	issuer = c.Issuer
	if issuer == "" {
		issuer = set.issuer
	}
	return set.keys, issuer, jwksSource, nil
}

// localAudiences are the audiences a JWT must hold one of in local mode:
// the rules' audiences; none (any aud) with AudiencesFromJWT, as a review
// for the JWT's own aud would accept; else the issuer, kube-apiserver's
// default --api-audiences, which a review without audiences checks.
func localAudiences(r Rules, issuer string) []string {
	switch {
	case len(r.Audiences) > 0:
		return r.Audiences
	case r.AudiencesFromJWT:
		return nil
	}
	return []string{issuer}
}

// intersect is the members of want that are in have, in want's order (as
// kube-apiserver answers status.audiences).
func intersect(want, have []string) []string {
	var out []string
	for _, a := range want {
		if slices.Contains(have, a) {
			out = append(out, a)
		}
	}
	return out
}

// projectedAccount is the service account (and pod) a verified projected
// token names: the kubernetes.io claims, which sub must agree with.
func (vc verifiedClaims) projectedAccount() (ServiceAccount, error) {
	k := vc.private.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" || k.ServiceAccount.UID == "" {
		return ServiceAccount{}, denied("the jwt names no service account (kubernetes.io namespace, serviceaccount name and uid)")
	}
	if ns, name, ok := splitServiceAccount(vc.public.Subject); !ok || ns != k.Namespace || name != k.ServiceAccount.Name {
		return ServiceAccount{}, denied("the jwt's subject (sub) %q is not its service account system:serviceaccount:%s:%s",
			clip(vc.public.Subject, 200), k.Namespace, k.ServiceAccount.Name)
	}
	sa := ServiceAccount{Namespace: k.Namespace, Name: k.ServiceAccount.Name, UID: k.ServiceAccount.UID}
	if k.Pod != nil {
		sa.PodName, sa.PodUID = k.Pod.Name, k.Pod.UID
	}
	return sa, nil
}
