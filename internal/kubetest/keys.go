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
	return signingKey{
		key:       key,
		kid:       kid,
		publicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// jwk is the key as /openid/v1/jwks lists it: RSA, with use, kid and alg.
func (k signingKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// keyRing is the cluster's service account keys: the one it signs with
// (--service-account-signing-key-file) and the public keys it verifies
// with (--service-account-key-file, which list the signing key and, during
// a rotation, the keys it replaced). Its own lock keeps it off Cluster.mu,
// which is held while signing legacy tokens.
type keyRing struct {
	mu       sync.RWMutex
	signing  signingKey
	verify   []signingKey // signing first, then older keys, newest first
	jwks     []byte       // verify as a JWK set
	owner    string       // the key pool lease owner
	bits     int
	releases []func()
}

// set makes k the signing key; the keys verified until now stay verified
// when keepOld is set. Callers hold r.mu.
func (r *keyRing) set(k signingKey, keepOld bool) error {
	verify := []signingKey{k}
	if keepOld {
		verify = append(verify, r.verify...)
	}
	set := jose.JSONWebKeySet{}
	for _, v := range verify {
		set.Keys = append(set.Keys, v.jwk())
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return err
	}
	r.signing, r.verify, r.jwks = k, verify, jwks
	return nil
}

// current is the signing key.
func (r *keyRing) current() signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.signing
}

// publicKeys are the verification keys for kid; all of them when kid is "",
// none when no key has that kid (kube-apiserver then answers "invalid
// signature, no keys found").
func (r *keyRing) publicKeys(kid string) []*rsa.PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var keys []*rsa.PublicKey
	for _, k := range r.verify {
		if kid == "" || kid == k.kid {
			keys = append(keys, &k.key.PublicKey)
		}
	}
	return keys
}

func (r *keyRing) jwkSet() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]byte(nil), r.jwks...)
}

// rotate signs with a new key from now on, keeping the old public keys
// verified and listed, and returns the new kid.
func (r *keyRing) rotate() (string, error) {
	key, release, err := leaseKey(r.owner, r.bits)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	k, err := newSigningKey(key)
	if err != nil {
		release()
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releases = append(r.releases, release)
	if err := r.set(k, true); err != nil {
		return "", err
	}
	return k.kid, nil
}

// dropOld keeps only the signing key.
func (r *keyRing) dropOld() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set(r.signing, false)
}

// release gives every leased key back to the pool.
func (r *keyRing) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.releases {
		f()
	}
	r.releases = nil
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
