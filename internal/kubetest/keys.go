package kubetest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is a service account signing key with everything derived from
// it.
type signingKey struct {
	key       *rsa.PrivateKey
	kid       string
	publicPEM string
	jwks      []byte
}

func newSigningKey(key *rsa.PrivateKey) (signingKey, error) {
	kid, err := keyID(&key.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	// The JWKS kube-apiserver serves: one RSA key with use, kid and alg.
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       &key.PublicKey,
		KeyID:     kid,
		Algorithm: string(jose.RS256),
		Use:       "sig",
	}}})
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{
		key:       key,
		kid:       kid,
		publicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		jwks:      jwks,
	}, nil
}

// keyID derives a kid as kube-apiserver does (keyIDFromPublicKey): the
// unpadded base64url SHA-256 of the PKIX DER of the public key.
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("serialize public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// signer signs with key under kid, RS256, with no typ header: the header
// kube-apiserver writes is exactly {"alg":"RS256","kid":"..."}. An empty kid
// leaves the header out.
func signer(key *rsa.PrivateKey, kid string) (jose.Signer, error) {
	var k any = key
	if kid != "" {
		k = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, nil)
}

// keyPool keeps RSA keys for the life of the test binary so that clusters do
// not each pay for key generation. A key is leased to one live cluster per
// top-level test at a time, so two clusters that a test runs together never
// share a key, while clusters of different tests may.
type keyPool struct {
	mu     sync.Mutex
	keys   map[int][]*rsa.PrivateKey  // by size
	leases map[string]map[string]bool // owner -> "bits/index" in use
}

var pool = &keyPool{keys: map[int][]*rsa.PrivateKey{}, leases: map[string]map[string]bool{}}

// leaseKey lends a key to owner; owner "" always gets a fresh key.
func leaseKey(owner string, bits int) (*rsa.PrivateKey, func(), error) {
	if owner == "" {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		return key, func() {}, err
	}
	return pool.lease(owner, bits)
}

func (p *keyPool) lease(owner string, bits int) (*rsa.PrivateKey, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inUse := p.leases[owner]
	if inUse == nil {
		inUse = map[string]bool{}
		p.leases[owner] = inUse
	}
	i := 0
	for inUse[fmt.Sprintf("%d/%d", bits, i)] {
		i++
	}
	for len(p.keys[bits]) <= i {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, nil, err
		}
		p.keys[bits] = append(p.keys[bits], key)
	}
	slot := fmt.Sprintf("%d/%d", bits, i)
	inUse[slot] = true
	release := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.leases[owner], slot)
		if len(p.leases[owner]) == 0 {
			delete(p.leases, owner)
		}
	}
	return p.keys[bits][i], release, nil
}
