// Package oidc makes Gatehouse an OpenID Connect issuer for workloads: it
// keeps the signing keys (generated here, sealed with the server key in the
// store, rotated on a schedule that every replica sharing the store
// follows), publishes them as a JWKS, mints JWTs, and holds the domain side
// of token exchange (RFC 8693) and introspection (RFC 7662). The wire forms
// live in internal/httpapi/oauth.
//
// Key life cycle, with Lead = Config.PublishLead and Refresh =
// Config.Refresh:
//
//   - A key is published (in the JWKS of every replica) from the moment it
//     is stored; every replica reloads the key set at least every Refresh.
//   - It signs from ActiveAt = CreatedAt + Lead, so verifiers that cache
//     the JWKS for up to Lead - Refresh already know it when the first JWT
//     it signed reaches them. (The very first key of an empty store is
//     active at once: nobody can have cached anything.)
//   - A successor is created when the newest key is Rotation old; of
//     several replicas doing so at once exactly one succeeds
//     (store.AddSigningKeyIfDue). The signer at any instant is a pure
//     function of the stored set and the clock, so all replicas switch
//     together.
//   - A superseded key stays published until every JWT it signed has
//     expired: successor's ActiveAt + Refresh + MaxTTL + leeway.
//   - A replica whose key set is older than Lead (its store unreachable)
//     stops signing rather than sign with a key others may have retired.
package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Defaults.
const (
	DefaultRotation    = 30 * 24 * time.Hour
	DefaultPublishLead = time.Hour
	DefaultRefresh     = time.Minute
	DefaultMaxTTL      = time.Hour
	// Leeway is added to every retirement for clock skew between replicas.
	Leeway = time.Minute
	// JWKSMaxAge is the Cache-Control max-age of the JWKS and discovery
	// documents; well below PublishLead.
	JWKSMaxAge = 5 * time.Minute
)

// Config is the issuer's configuration.
type Config struct {
	// Issuer is the issuer URL ("iss"), e.g. https://gatehouse.example.com.
	Issuer string
	// Algorithm of new keys: ES256 (default) or RS256.
	Algorithm string
	// Rotation is how long a key signs before its successor takes over.
	Rotation time.Duration
	// PublishLead is how long a key is published before it signs.
	PublishLead time.Duration
	// Refresh is how often a replica reloads the key set and rotates.
	Refresh time.Duration
	// MaxTTL caps the lifetime of every JWT minted.
	MaxTTL time.Duration
}

func (c *Config) defaults() error {
	if c.Algorithm == "" {
		c.Algorithm = ES256
	}
	if c.Algorithm != ES256 && c.Algorithm != RS256 {
		return fmt.Errorf("oidc: signing algorithm %q: want ES256 or RS256", c.Algorithm)
	}
	if c.Rotation <= 0 {
		c.Rotation = DefaultRotation
	}
	if c.PublishLead <= 0 {
		c.PublishLead = DefaultPublishLead
	}
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.Refresh > c.PublishLead {
		return fmt.Errorf("oidc: refresh interval %v is longer than the publish lead %v", c.Refresh, c.PublishLead)
	}
	if c.Rotation < 2*c.PublishLead {
		return fmt.Errorf("oidc: signing key rotation %v must be at least twice the publish lead %v", c.Rotation, c.PublishLead)
	}
	return nil
}

// Keys is the issuer's key set as this replica knows it.
type Keys struct {
	store  store.Store
	seal   seal.Key
	cfg    Config
	now    func() time.Time
	logger *slog.Logger

	mu     sync.RWMutex
	set    *keySet
	parsed map[string]*loadedKey // by id, so a reload does not unseal again
}

// loadedKey is a stored key, unsealed.
type loadedKey struct {
	store.SigningKey
	signer jose.Signer
	es256  *es256Signer // ES256 keys: the fast path of Sign
	public jose.JSONWebKey
}

// keySet is an immutable snapshot.
type keySet struct {
	keys     []*loadedKey // ordered by ActiveAt
	jwks     []byte
	etag     string
	loadedAt time.Time
}

// NewKeys loads the key set, creating the first key when there is none.
func NewKeys(ctx context.Context, st store.Store, sealKey seal.Key, cfg Config, now func() time.Time, logger *slog.Logger) (*Keys, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keys{store: st, seal: sealKey, cfg: cfg, now: now, logger: logger, parsed: map[string]*loadedKey{}}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Config returns the configuration in effect (defaults filled in).
func (k *Keys) Config() Config { return k.cfg }

// Refresh rotates when a key is due, deletes retired keys and reloads the
// set. Every replica calls it every Config.Refresh.
func (k *Keys) Refresh(ctx context.Context) error {
	now := k.now()
	stored, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("oidc: reading signing keys: %w", err)
	}
	if due, err := k.rotate(ctx, stored, now); err != nil {
		return err
	} else if due {
		// Read again whoever won: another replica may have added the key
		// this one found due.
		if stored, err = k.store.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("oidc: reading signing keys: %w", err)
		}
	}
	var keep []store.SigningKey
	for _, sk := range stored {
		if end, ok := retireAt(stored, sk, k.cfg); ok && !now.Before(end) {
			if err := k.store.DeleteSigningKey(ctx, sk.ID); err != nil {
				return fmt.Errorf("oidc: deleting retired signing key: %w", err)
			}
			k.logger.Info("signing key retired", "kid", sk.ID, "alg", sk.Algorithm)
			continue
		}
		keep = append(keep, sk)
	}
	return k.load(keep, now)
}

// rotate adds a key when the newest of the configured algorithm is due,
// and reports whether one was due (added by this replica or, racing, by
// another).
func (k *Keys) rotate(ctx context.Context, stored []store.SigningKey, now time.Time) (bool, error) {
	var newest *store.SigningKey
	for i := range stored {
		if stored[i].Algorithm == k.cfg.Algorithm && (newest == nil || stored[i].CreatedAt.After(newest.CreatedAt)) {
			newest = &stored[i]
		}
	}
	notAfter := now.Add(-k.cfg.Rotation)
	if newest == nil {
		notAfter = time.Time{} // only if still none of this algorithm
	} else if newest.CreatedAt.After(notAfter) {
		return false, nil
	}
	sk, err := k.generate(k.cfg.Algorithm, now)
	if err != nil {
		return false, err
	}
	if len(stored) == 0 {
		sk.ActiveAt = now // nothing published yet, nothing cached anywhere
	}
	added, err := k.store.AddSigningKeyIfDue(ctx, sk, notAfter)
	if err != nil {
		return false, fmt.Errorf("oidc: storing a new signing key: %w", err)
	}
	if added {
		k.logger.Info("signing key created", "kid", sk.ID, "alg", sk.Algorithm, "active_at", sk.ActiveAt)
	}
	return true, nil
}

// retireAt is when sk may be unpublished: once a successor has been
// signing for long enough that nothing sk signed can still be valid.
// ok is false while sk has no successor.
func retireAt(all []store.SigningKey, sk store.SigningKey, cfg Config) (time.Time, bool) {
	var next time.Time
	for _, o := range all {
		// Only a key of the configured algorithm takes over from
		// another (Keys.signer prefers that algorithm).
		if o.ID == sk.ID || o.Algorithm != cfg.Algorithm || !o.ActiveAt.After(sk.ActiveAt) {
			continue
		}
		if next.IsZero() || o.ActiveAt.Before(next) {
			next = o.ActiveAt
		}
	}
	if next.IsZero() {
		return time.Time{}, false
	}
	return next.Add(cfg.Refresh + cfg.MaxTTL + Leeway), true
}

// load unseals what is new and publishes the snapshot.
func (k *Keys) load(stored []store.SigningKey, now time.Time) error {
	k.mu.RLock()
	parsed := k.parsed
	k.mu.RUnlock()
	next := map[string]*loadedKey{}
	set := &keySet{loadedAt: now}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range stored {
		lk := parsed[sk.ID]
		if lk == nil {
			var err error
			if lk, err = k.open(sk); err != nil {
				return err
			}
		}
		next[sk.ID] = lk
		set.keys = append(set.keys, lk)
		jwks.Keys = append(jwks.Keys, lk.public)
	}
	sort.SliceStable(set.keys, func(i, j int) bool { return set.keys[i].ActiveAt.Before(set.keys[j].ActiveAt) })
	b, err := json.Marshal(jwks)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	set.jwks, set.etag = b, `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`
	k.mu.Lock()
	k.set, k.parsed = set, next
	k.mu.Unlock()
	return nil
}

// JWKS returns the published key set as JSON and its entity tag.
func (k *Keys) JWKS() (body []byte, etag string) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.set.jwks, k.set.etag
}

// ErrNoSigningKey: this replica cannot sign now (its key set is stale).
var ErrNoSigningKey = errors.New("oidc: no usable signing key")

// signer returns the key that signs at now.
func (k *Keys) signer(now time.Time) (*loadedKey, error) {
	k.mu.RLock()
	set := k.set
	k.mu.RUnlock()
	if now.Sub(set.loadedAt) > k.cfg.PublishLead {
		return nil, &errs.Error{Code: errs.Unavailable, Message: "the signing keys could not be refreshed from the store", Err: ErrNoSigningKey}
	}
	var best, any *loadedKey
	for _, lk := range set.keys {
		if lk.ActiveAt.After(now) {
			continue
		}
		any = lk
		if lk.Algorithm == k.cfg.Algorithm {
			best = lk
		}
	}
	if best == nil {
		best = any
	}
	if best == nil {
		return nil, &errs.Error{Code: errs.Unavailable, Message: "no signing key is active yet", Err: ErrNoSigningKey}
	}
	return best, nil
}

// Sign signs payload (a JSON claims object) as a compact JWS with the key
// active at now, and returns it with the key's id.
func (k *Keys) Sign(payload []byte, now time.Time) (string, string, error) {
	lk, err := k.signer(now)
	if err != nil {
		return "", "", err
	}
	if lk.es256 != nil {
		s, err := lk.es256.sign(payload)
		return s, lk.ID, err
	}
	jws, err := lk.signer.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("oidc: signing: %w", err)
	}
	s, err := jws.CompactSerialize()
	return s, lk.ID, err
}

// Verify checks a compact JWS against the published keys and returns its
// payload. It checks nothing inside the payload.
func (k *Keys) Verify(compact string) ([]byte, error) {
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: not a compact JWS")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.RLock()
	lk := k.parsed[kid]
	k.mu.RUnlock()
	if lk == nil {
		return nil, errors.New("oidc: unknown signing key")
	}
	if jws.Signatures[0].Header.Algorithm != lk.Algorithm {
		return nil, errors.New("oidc: algorithm does not match the key")
	}
	return jws.Verify(lk.public.Key)
}

// additionalData binds a sealed private key to its row.
func additionalData(id string) []byte { return []byte("gatehouse signing key " + id) }

// generate makes a new key of alg, published from now, signing from now +
// PublishLead.
func (k *Keys) generate(alg string, now time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return store.SigningKey{}, fmt.Errorf("oidc: unknown algorithm %q", alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("oidc: generating a key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return store.SigningKey{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(idb[:])
	sealed, err := k.seal.Seal(der, additionalData(id))
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{ID: id, Algorithm: alg, SealedPrivate: sealed, CreatedAt: now, ActiveAt: now.Add(k.cfg.PublishLead)}, nil
}

// open unseals and parses a stored key.
func (k *Keys) open(sk store.SigningKey) (*loadedKey, error) {
	der, err := k.seal.Open(sk.SealedPrivate, additionalData(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", sk.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", sk.ID, err)
	}
	var pub crypto.PublicKey
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		pub = &p.PublicKey
	case *rsa.PrivateKey:
		pub = &p.PublicKey
	default:
		return nil, fmt.Errorf("oidc: signing key %s: unsupported key type %T", sk.ID, priv)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", sk.ID, err)
	}
	lk := &loadedKey{SigningKey: sk, signer: signer,
		public: jose.JSONWebKey{Key: pub, KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}}
	if ec, ok := priv.(*ecdsa.PrivateKey); ok && sk.Algorithm == ES256 {
		if lk.es256, err = newES256Signer(ec, sk.ID); err != nil {
			return nil, fmt.Errorf("oidc: signing key %s: %w", sk.ID, err)
		}
	}
	return lk, nil
}

// Run refreshes the key set every Config.Refresh until stop is closed.
func (k *Keys) Run(stop <-chan struct{}) {
	t := time.NewTicker(k.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := k.Refresh(ctx); err != nil {
				k.logger.Warn("refreshing the signing keys failed", "err", err)
			}
			cancel()
		}
	}
}
