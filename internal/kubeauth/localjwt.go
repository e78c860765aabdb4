package kubeauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
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
	keys map[string][]crypto.PublicKey
}

const maxCachedKeySets = 256

var parsedKeys = &keyCache{keys: map[string][]crypto.PublicKey{}}

func (kc *keyCache) get(entries []string) ([]crypto.PublicKey, error) {
	id := strings.Join(entries, "\x00")
	kc.mu.Lock()
	keys, ok := kc.keys[id]
	kc.mu.Unlock()
	if ok {
		return keys, nil
	}
	keys, err := ParsePEMKeys(entries)
	if err != nil {
		return nil, err
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
	} `json:"kubernetes.io"`
	LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace"`
	LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name"`
	LegacyUID       string `json:"kubernetes.io/serviceaccount/service-account.uid"`
}

// verifyLocally checks jwt against c.PEMKeys: a signature by one of them,
// exp/nbf/iat with leeway, iss when c.Issuer is set and aud when audiences
// are given. It returns the account the (now verified) claims name.
func verifyLocally(jwt JWT, c Cluster, audiences []string, now time.Time) (claimedAccount, error) {
	keys, err := parsedKeys.get(c.PEMKeys)
	if err != nil {
		return claimedAccount{}, errs.Wrap(err, "stored pem_keys are unreadable")
	}
	tok, err := josejwt.ParseSigned(jwt.Raw.Reveal(), localAlgorithms())
	if err != nil {
		return claimedAccount{}, errs.Named(errs.Unauthenticated, ErrNameMalformedJWT, "the jwt cannot be verified: %s", lastCause(err))
	}
	var public josejwt.Claims
	var private serviceAccountClaims
	verified := false
	for _, k := range keys {
		if tok.Claims(k, &public, &private) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return claimedAccount{}, denied("the jwt's signature does not verify with any of the configured public keys (pem_keys)")
	}
	exp := josejwt.Expected{Issuer: c.Issuer, Time: now}
	if len(audiences) > 0 {
		exp.AnyAudience = josejwt.Audience(audiences)
	}
	switch err := public.ValidateWithLeeway(exp, localLeeway); {
	case err == nil:
	case errors.Is(err, josejwt.ErrExpired):
		return claimedAccount{}, denied("the jwt has expired (exp)")
	case errors.Is(err, josejwt.ErrNotValidYet), errors.Is(err, josejwt.ErrIssuedInTheFuture):
		return claimedAccount{}, denied("the jwt is not valid yet (nbf/iat in the future)")
	case errors.Is(err, josejwt.ErrInvalidIssuer):
		return claimedAccount{}, denied("the jwt's issuer (iss) %q is not the configured issuer", clip(public.Issuer, 200))
	case errors.Is(err, josejwt.ErrInvalidAudience):
		return claimedAccount{}, deniedBy(&NotAllowedError{ErrAudienceMismatch, strings.Join(audiences, ",")}, "the jwt is not valid for the audience %q (its aud is %q)", audiences, []string(public.Audience))
	default:
		return claimedAccount{}, denied("the jwt's claims are invalid: %v", err)
	}
	ca := claimedAccount{Namespace: private.LegacyNamespace, Name: private.LegacyName, UID: private.LegacyUID}
	if k := private.Kubernetes; k.Namespace != "" || k.ServiceAccount.Name != "" {
		ca = claimedAccount{Namespace: k.Namespace, Name: k.ServiceAccount.Name, UID: k.ServiceAccount.UID}
	}
	if ca.Namespace == "" || ca.Name == "" {
		return claimedAccount{}, denied("the jwt names no service account (kubernetes.io claims)")
	}
	return ca, nil
}
