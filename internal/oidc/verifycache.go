package oidc

import (
	"crypto/sha256"
	"sync"
)

// verifyCacheSize bounds the verified-JWT cache (a few MB at most).
const verifyCacheSize = 10000

// verifyCache remembers the claims of JWTs whose signature verified, by the
// SHA-256 of the whole compact JWT: a resource server introspecting the
// same JWT again costs a hash, not an ES256 verification. The signature is
// part of the key, so a hit can only be the very same token; a key is
// unpublished only after every JWT it signed has expired, so a cached
// signature stays good for as long as the token can be active. The times
// are checked again at every hit. When full it starts over.
type verifyCache struct {
	mu sync.Mutex
	m  map[[32]byte]Claims
}

func (c *verifyCache) get(raw string) (Claims, bool) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[k]
	return cl, ok
}

func (c *verifyCache) put(raw string, cl Claims) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= verifyCacheSize {
		c.m = make(map[[32]byte]Claims)
	}
	c.m[k] = cl
}
