package kubeauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Paths of the service account issuer discovery documents
// (ServiceAccountIssuerDiscovery, GA since Kubernetes 1.21).
const (
	jwksPath      = "/openid/v1/jwks"
	discoveryPath = "/.well-known/openid-configuration"
)

// ErrIssuerDiscovery: the API server refused the bearer of a read of its
// signing keys (local mode).
var ErrIssuerDiscovery = errors.New("kubernetes: issuer discovery refused")

// How the signing keys read from a cluster are kept (local mode).
const (
	// KeySetRefreshAfter: a key set older than this is read again at the
	// next login.
	KeySetRefreshAfter = 10 * time.Minute
	// KeySetMinRefetch: the keys of one cluster are read at most this often
	// when a set is held, whatever logins ask (a JWT whose kid the set lacks,
	// a refresh that failed), so junk kids cannot hammer the API server.
	KeySetMinRefetch = 10 * time.Second
	// KeySetMaxStale: when reading fails, the last set read is used for
	// this long after it was read; then logins fail.
	KeySetMaxStale = time.Hour
	// MaxKeySetKeys bounds the usable keys of one set.
	MaxKeySetKeys = 100
	// maxKeySets bounds the clusters whose keys are kept; the least
	// recently used are dropped.
	maxKeySets = 128
)

// verificationKey is a public key a login JWT may be signed with: from
// pem_keys (no kid, no alg) or from a cluster's key set.
type verificationKey struct {
	kid string
	alg string // the only algorithm the key may verify; "" = any its type allows
	key crypto.PublicKey
}

// issuerKeys is what a cluster's discovery endpoints say: its signing keys
// and, when asked for, its issuer.
type issuerKeys struct {
	keys   []verificationKey
	issuer string
}

// candidates are the keys a JWT with header kid may be signed with: those
// with that kid, or every key when the JWT names none.
func candidates(keys []verificationKey, kid string) []verificationKey {
	if kid == "" {
		return keys
	}
	var out []verificationKey
	for _, k := range keys {
		if k.kid == kid {
			out = append(out, k)
		}
	}
	return out
}

// parseJWKS reads a JSON Web Key Set as /openid/v1/jwks serves it and keeps
// the public RSA and ECDSA keys meant for signatures (use "sig" or none).
// Keys of other types, private keys and keys go-jose cannot read are left
// out; a set with no usable key, or more than MaxKeySetKeys, is an error.
func parseJWKS(raw []byte) ([]verificationKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New(`it is not a JSON object with a "keys" list`)
	}
	var keys []verificationKey
	var skipped []string
	for i, rawKey := range set.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(rawKey, &k); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %s", i+1, strings.TrimPrefix(err.Error(), "go-jose/go-jose: ")))
			continue
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			skipped = append(skipped, fmt.Sprintf("key %d: not an RSA or ECDSA public key", i+1))
			continue
		}
		if !k.Valid() || (k.Use != "" && k.Use != "sig") {
			skipped = append(skipped, fmt.Sprintf("key %d: not a valid signature key (use %q)", i+1, clip(k.Use, 20)))
			continue
		}
		keys = append(keys, verificationKey{kid: k.KeyID, alg: k.Algorithm, key: k.Key})
	}
	switch {
	case len(keys) > MaxKeySetKeys:
		return nil, fmt.Errorf("it holds %d keys, more than the %d allowed", len(keys), MaxKeySetKeys)
	case len(keys) == 0 && len(skipped) > 0:
		return nil, fmt.Errorf("it holds no usable RSA or ECDSA signature key (%s)", clip(strings.Join(skipped, "; "), 300))
	case len(keys) == 0:
		return nil, errors.New("it holds no keys")
	}
	return keys, nil
}

// parseDiscovery reads the issuer of an OpenID discovery document.
func parseDiscovery(raw []byte) (string, error) {
	var doc struct {
		Issuer *string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", errors.New(`it is not a JSON object with an "issuer"`)
	}
	switch {
	case doc.Issuer == nil || strings.TrimSpace(*doc.Issuer) == "":
		return "", errors.New("it names no issuer")
	case len(*doc.Issuer) > MaxIssuerLen:
		return "", fmt.Errorf("its issuer is longer than %d characters", MaxIssuerLen)
	}
	return *doc.Issuer, nil
}

// MaxIssuerLen bounds an issuer, configured or discovered.
const MaxIssuerLen = 1024

// keysRequest is a read of a cluster's signing keys.
type keysRequest struct {
	bearer           secret.Secret
	bearerIsLoginJWT bool
	withIssuer       bool // also read the issuer from the discovery document
	// verifies reports whether the login JWT verifies with keys (and has
	// not expired). With the login JWT as bearer, only such a JWT may
	// refresh a held set, so that junk JWTs cannot make refreshes fail.
	verifies func(keys []verificationKey) bool
}

// trusted reports whether a read with req says something about the
// cluster when it fails: its bearer is the reviewer JWT, or a login JWT
// that the held keys verify.
func (req keysRequest) trusted(held []verificationKey, kid string) bool {
	if !req.bearerIsLoginJWT {
		return true
	}
	keys := candidates(held, kid)
	return len(keys) > 0 && req.verifies != nil && req.verifies(keys)
}

// fetchIssuerKeys reads c's signing keys from /openid/v1/jwks and, when
// asked, its issuer from /.well-known/openid-configuration. 401 and 403
// are Unauthenticated (the bearer is not accepted, or not allowed to read
// them); transport failures, other statuses and documents that cannot be
// read are BadGateway, each naming the path and the cause.
func (ac *apiClient) fetchIssuerKeys(ctx context.Context, c Cluster, req keysRequest) (issuerKeys, error) {
	var out issuerKeys
	raw, err := ac.getDocument(ctx, c, req, jwksPath, "application/jwk-set+json, application/json")
	if err != nil {
		return issuerKeys{}, err
	}
	if out.keys, err = parseJWKS(raw.body); err != nil {
		return issuerKeys{}, unreadableDocument(c, jwksPath, raw, "JSON Web Key Set", err)
	}
	if !req.withIssuer {
		return out, nil
	}
	if raw, err = ac.getDocument(ctx, c, req, discoveryPath, "application/json"); err != nil {
		return issuerKeys{}, err
	}
	if out.issuer, err = parseDiscovery(raw.body); err != nil {
		return issuerKeys{}, unreadableDocument(c, discoveryPath, raw, "OpenID configuration", err)
	}
	return out, nil
}

// getDocument GETs a discovery document and returns a 2xx answer.
func (ac *apiClient) getDocument(ctx context.Context, c Cluster, kr keysRequest, path, accept string) (apiAnswer, error) {
	req := apiRequest{method: http.MethodGet, path: path, accept: accept, bearer: kr.bearer,
		bearerIsLoginJWT: kr.bearerIsLoginJWT, what: "GET " + path}
	ans, err := ac.call(ctx, c, req)
	if err != nil {
		return apiAnswer{}, err
	}
	switch {
	case ans.code == http.StatusUnauthorized:
		return apiAnswer{}, bearerRejected(req, ErrIssuerDiscovery)
	case ans.code == http.StatusForbidden:
		return apiAnswer{}, errs.Because(errs.Unauthenticated, forbidden(ErrIssuerDiscovery),
			"%s is not allowed to read the cluster's service-account issuer keys (kube-apiserver answered 403 to %s%s); grant system:service-account-issuer-discovery to its service account",
			req.bearerName(), req.what, apiMessage(ans.body))
	case ans.code < 200 || ans.code > 299:
		return apiAnswer{}, statusError(c, req, ans)
	}
	return ans, nil
}

// unreadableDocument is a 2xx answer to GET path that is not a usable doc.
func unreadableDocument(c Cluster, path string, ans apiAnswer, doc string, cause error) error {
	return notTheAnswer(c, apiRequest{what: "GET " + path}, ans, "a usable "+doc+": "+cause.Error())
}

// keySets keeps, per cluster connection and reviewer JWT, the signing keys
// (and discovered issuer) read from the API server, so that a login in
// local mode costs the API server nothing:
//
//   - the first login of a cluster reads them; concurrent logins share one
//     read (singleflight), which a caller that gives up does not cancel;
//   - a set that lacks the kid of a login JWT (a key rotation) is read
//     again at once, at most once per KeySetMinRefetch per cluster;
//   - a set older than KeySetRefreshAfter is read again at the next login,
//     at most once per KeySetMinRefetch; when that fails, the set held is
//     used (with a warning in the log) until it is KeySetMaxStale old, then
//     logins fail with the read's error.
//
// The cache key hashes the connection (as the client pool does) with the
// reviewer JWT, never a raw secret. Without a reviewer JWT, the login JWT
// of the login that causes a read is its bearer (it is not part of the
// key); only a login JWT that the held keys verify may refresh them, and
// a read that fails with an unverified one (a new kid, or no set yet)
// fails that login only: junk JWTs cannot make the held keys go stale.
type keySets struct {
	api   *apiClient
	now   func() time.Time
	log   *slog.Logger
	group singleflight.Group

	mu   sync.Mutex
	sets map[[32]byte]*keySetEntry
}

type keySetEntry struct {
	set       issuerKeys
	fetchedAt time.Time // when set was read; zero: never
	triedAt   time.Time // the last read, whatever its bearer and outcome
	// trustedAt is the last read that succeeded or was trusted (see
	// keysRequest.trusted); lastErr is its error.
	trustedAt time.Time
	lastErr   error
	usedAt    time.Time
}

func newKeySets(api *apiClient, now func() time.Time, log *slog.Logger) *keySets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &keySets{api: api, now: now, log: log, sets: map[[32]byte]*keySetEntry{}}
}

func keySetKey(c Cluster, withIssuer bool) [32]byte {
	h := sha256.New()
	ck := clientKey(c)
	h.Write(ck[:])
	fmt.Fprintf(h, "|%d:%s|%t", len(c.ReviewerJWT), c.ReviewerJWT.Reveal(), withIssuer)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// snapshot is a copy of the entry for key (zero when none), marked used.
func (ks *keySets) snapshot(key [32]byte, now time.Time) keySetEntry {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	e, ok := ks.sets[key]
	if !ok {
		return keySetEntry{}
	}
	e.usedAt = now
	return *e
}

// needsRead reports whether the set must be read for a JWT with kid.
func (e keySetEntry) needsRead(req keysRequest, kid string, now time.Time) bool {
	switch {
	case e.fetchedAt.IsZero():
		return true // nothing to use: read at every login, as TokenReview mode calls at every login
	case kid != "" && len(candidates(e.set.keys, kid)) == 0:
		return now.Sub(e.triedAt) >= KeySetMinRefetch
	}
	return now.Sub(e.fetchedAt) >= KeySetRefreshAfter && now.Sub(e.trustedAt) >= KeySetMinRefetch && req.trusted(e.set.keys, kid)
}

// get returns the keys a JWT with header kid may be signed with (every key
// when kid is ""), and the discovered issuer when req.withIssuer.
func (ks *keySets) get(ctx context.Context, c Cluster, req keysRequest, kid string) (issuerKeys, error) {
	key := keySetKey(c, req.withIssuer)
	e := ks.snapshot(key, ks.now())
	if e.needsRead(req, kid, ks.now()) {
		var err error
		if e, err = ks.read(ctx, key, c, req, kid); err != nil {
			return issuerKeys{}, err
		}
	}
	if age := ks.now().Sub(e.fetchedAt); age >= KeySetMaxStale && e.lastErr != nil {
		last := errs.As(e.lastErr)
		return issuerKeys{}, &errs.Error{Code: last.Code, Err: e.lastErr, Message: fmt.Sprintf(
			"the cluster's signing keys were last read %s ago, longer than the %s they may be used while reading them fails, and reading them fails: %s",
			age.Round(time.Second), KeySetMaxStale, last.Message)}
	}
	keys := candidates(e.set.keys, kid)
	if len(keys) == 0 {
		return issuerKeys{}, denied("the jwt's key id (kid) %q is not one of the cluster's service-account signing keys (GET %s)", clip(kid, 100), jwksPath)
	}
	return issuerKeys{keys: keys, issuer: e.set.issuer}, nil
}

// readResult is the outcome of a shared read.
type readResult struct {
	entry keySetEntry
	err   error // of this read, when it left no set to use
}

// read reads the keys for key once for every caller that asks meanwhile,
// and returns the entry as it then is. It fails only when there is no set
// at all; a failed read of a cluster whose set is held is recorded in the
// entry (and logged when trusted), and the held set returned.
func (ks *keySets) read(ctx context.Context, key [32]byte, c Cluster, req keysRequest, kid string) (keySetEntry, error) {
	ch := ks.group.DoChan(hex.EncodeToString(key[:]), func() (any, error) {
		// Decided again inside the flight: a caller that looked before
		// another's read ended must not read again at once.
		e := ks.snapshot(key, ks.now())
		if !e.needsRead(req, kid, ks.now()) {
			return readResult{entry: e}, nil
		}
		trusted := req.trusted(e.set.keys, kid)
		// Detached from the caller, so that one caller giving up does
		// not fail the others; the client's timeout still bounds it.
		set, err := ks.api.fetchIssuerKeys(context.WithoutCancel(ctx), c, req)
		e = ks.store(key, c, set, err, trusted)
		if !e.fetchedAt.IsZero() {
			err = nil
		}
		return readResult{entry: e, err: err}, nil
	})
	select {
	case <-ctx.Done():
		return keySetEntry{}, context.Cause(ctx)
	case r := <-ch:
		res := r.Val.(readResult)
		if res.entry.fetchedAt.IsZero() {
			if res.err == nil {
				res.err = res.entry.lastErr
			}
			return keySetEntry{}, res.err
		}
		return res.entry, nil
	}
}

// store records the outcome of a read and returns the entry.
func (ks *keySets) store(key [32]byte, c Cluster, set issuerKeys, err error, trusted bool) keySetEntry {
	now := ks.now()
	ks.mu.Lock()
	defer ks.mu.Unlock()
	e, ok := ks.sets[key]
	if !ok {
		ks.evictLocked()
		e = &keySetEntry{}
		ks.sets[key] = e
	}
	e.triedAt, e.usedAt = now, now
	switch {
	case err == nil:
		e.set, e.fetchedAt, e.trustedAt, e.lastErr = set, now, now, nil
	case trusted:
		e.trustedAt, e.lastErr = now, err
		if !e.fetchedAt.IsZero() {
			ks.log.Warn("reading a Kubernetes cluster's signing keys failed; the last keys read are used meanwhile",
				"kubernetes_host", c.Host, "keys_age", now.Sub(e.fetchedAt).Round(time.Second).String(),
				"used_until", e.fetchedAt.Add(KeySetMaxStale), "err", errs.As(err).Message)
		}
	}
	return *e
}

// evictLocked drops the least recently used entry when the cache is full.
func (ks *keySets) evictLocked() {
	if len(ks.sets) < maxKeySets {
		return
	}
	var oldest [32]byte
	var at time.Time
	for k, e := range ks.sets {
		if at.IsZero() || e.usedAt.Before(at) {
			oldest, at = k, e.usedAt
		}
	}
	delete(ks.sets, oldest)
}

// cached reports how many clusters' keys are kept (for tests).
func (ks *keySets) cached() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return len(ks.sets)
}
