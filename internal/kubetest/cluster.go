// Package kubetest runs a test Kubernetes API server: it issues service
// account tokens the way TokenRequest does and answers TokenReview the way
// kube-apiserver (v1.37) does, so Gatehouse can be tested against something
// that fails like a real cluster fails. It also serves GET of a namespace
// (with its labels) and of a service account (with its annotations), under
// RBAC (coreobjects.go).
//
// What is modelled faithfully, and from which upstream code, is written next
// to each piece (authn.go: pkg/serviceaccount/jwt.go, claims.go, legacy.go
// and the authenticator chain; authz.go: RBAC's forbidden messages;
// server.go: the TokenReview REST handler and the generic API server's error
// bodies). Where the real server does something this one does not, the
// comment says so. The most surprising faithful behaviours:
//
//   - exp and nbf are checked with go-jose's 60 s leeway, so a token is
//     still accepted up to a minute after its exp;
//   - a request with no bearer is anonymous (system:anonymous), which is
//     then forbidden (403), not unauthorized; a bearer that fails is 401;
//   - the review of a bad token is a 201 with status.error such as
//     "[invalid bearer token, service account token has expired]";
//   - the issuer-discovery endpoints are only readable by service accounts
//     unless WithPublicIssuerDiscovery is given.
package kubetest

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// DefaultIssuer is the issuer kube-apiserver is usually started with
// (--service-account-issuer), and so its default API audience.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// LegacyIssuer is the issuer of Secret-based service account tokens.
const LegacyIssuer = "kubernetes/serviceaccount"

const defaultKeyBits = 2048

// Option configures a Cluster.
type Option func(*config)

type config struct {
	issuer          string
	apiAudiences    []string
	now             func() time.Time
	keyBits         int
	key             *rsa.PrivateKey
	anonymous       bool
	publicDiscovery bool
	noDiscoveryRBAC bool
	cacheTTL        time.Duration
	http1Only       bool
}

// WithIssuer sets the service account issuer (--service-account-issuer).
func WithIssuer(issuer string) Option { return func(c *config) { c.issuer = issuer } }

// WithAPIAudiences sets the API server's own audiences (--api-audiences).
// They default to the issuer. Tokens are minted for them unless a token asks
// for others, and a review with no spec.audiences is checked against them.
func WithAPIAudiences(audiences ...string) Option {
	return func(c *config) { c.apiAudiences = append([]string(nil), audiences...) }
}

// WithClock sets the clock used to mint tokens and to judge exp, nbf and
// iat, so tests can move time without sleeping. TLS certificates and
// injected latency use real time.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRSAKeyBits sets the size of the service account signing key (2048 by
// default).
func WithRSAKeyBits(bits int) Option { return func(c *config) { c.keyBits = bits } }

// WithSigningKey makes the cluster sign and verify with key instead of a
// key of its own. Two clusters given the same key accept each other's
// tokens as far as the signature goes.
func WithSigningKey(key *rsa.PrivateKey) Option { return func(c *config) { c.key = key } }

// WithAnonymousAuth turns anonymous requests on or off (--anonymous-auth,
// true by default as in kube-apiserver). When on, a request without a bearer
// token is system:anonymous and usually gets 403; when off it gets 401.
func WithAnonymousAuth(enabled bool) Option { return func(c *config) { c.anonymous = enabled } }

// WithPublicIssuerDiscovery lets unauthenticated clients read
// /.well-known/openid-configuration and /openid/v1/jwks, as clusters that
// bind system:service-account-issuer-discovery to system:unauthenticated do.
// By default only service accounts may read them.
func WithPublicIssuerDiscovery() Option { return func(c *config) { c.publicDiscovery = true } }

// WithoutIssuerDiscoveryBinding removes the system:service-account-issuer-discovery
// ClusterRoleBinding, as an administrator who deletes it (and turns off its
// auto-update) does: service accounts then get 403 from the discovery
// endpoints, and only system:masters (and everyone, with
// WithPublicIssuerDiscovery) may read them.
func WithoutIssuerDiscoveryBinding() Option { return func(c *config) { c.noDiscoveryRBAC = true } }

// WithTokenCacheTTL caches successful token authentications for ttl,
// measured on the cluster clock. kube-apiserver does this for 10 s, so a
// deleted service account's token keeps working for up to 10 s after its
// last success. The default here is no cache, so deletions act at once.
func WithTokenCacheTTL(ttl time.Duration) Option { return func(c *config) { c.cacheTTL = ttl } }

// WithHTTP1Only makes the server speak HTTP/1.1 only (no h2 in ALPN), as an
// API server reached through an HTTP/1.1 proxy or load balancer does: each
// request in flight then needs a connection of its own.
func WithHTTP1Only() Option { return func(c *config) { c.http1Only = true } }

// Cluster is a running test Kubernetes API server. Its methods are safe
// for concurrent use.
type Cluster struct {
	srv             *httptest.Server
	caPEM           string
	caPool          *x509.CertPool
	caFile          string
	tmpDir          string
	issuer          string
	apiAudiences    []string
	now             func() time.Time
	keys            keyRing // has its own lock
	anonymous       bool
	publicDiscovery bool
	noDiscoveryRBAC bool
	cacheTTL        time.Duration
	http1Only       bool
	node            nodeRef
	adminToken      string

	mu           sync.Mutex // guards state, staticTokens and cache
	state        objects
	staticTokens map[string]userInfo
	cache        map[string]cachedAuth

	faults          faults   // TokenReview faults; has its own lock
	discoveryFaults faults   // issuer-discovery faults; has its own lock
	rec             recorder // has its own lock

	done       chan struct{} // closed by Close
	closeOnce  sync.Once
	clientOnce sync.Once
	client     *http.Client
}

// New starts a cluster for a test and stops it when the test ends. Clusters
// alive at the same time in one top-level test have distinct signing keys;
// keys are reused across tests to keep RSA key generation off the clock.
func New(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := start(rootTestName(t.Name()), opts)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts a cluster outside a test (for the load benchmark and the
// demo command). It always generates a fresh signing key. Call Close.
func Start(opts ...Option) (*Cluster, error) {
	return start("", opts)
}

func start(keyOwner string, opts []Option) (*Cluster, error) {
	cfg := config{issuer: DefaultIssuer, keyBits: defaultKeyBits, anonymous: true, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.issuer == "" {
		return nil, errors.New("empty issuer")
	}
	if len(cfg.apiAudiences) == 0 {
		cfg.apiAudiences = []string{cfg.issuer}
	}
	c := &Cluster{
		issuer:          cfg.issuer,
		apiAudiences:    cfg.apiAudiences,
		now:             cfg.now,
		anonymous:       cfg.anonymous,
		publicDiscovery: cfg.publicDiscovery,
		noDiscoveryRBAC: cfg.noDiscoveryRBAC,
		cacheTTL:        cfg.cacheTTL,
		http1Only:       cfg.http1Only,
		node:            nodeRef{Name: "kubetest-node", UID: uuid.NewString()},
		state:           newObjects(cfg.now()),
		staticTokens:    map[string]userInfo{},
		cache:           map[string]cachedAuth{},
		done:            make(chan struct{}),
		keys:            keyRing{owner: keyOwner, bits: cfg.keyBits},
	}
	if err := c.initKey(cfg); err != nil {
		return nil, err
	}
	if err := c.initServer(); err != nil {
		c.keys.release()
		return nil, err
	}
	c.adminToken = c.addStaticToken(userInfo{Name: "kubetest-admin", Groups: []string{groupMasters}})
	return c, nil
}

func (c *Cluster) initKey(cfg config) error {
	key := cfg.key
	if key == nil {
		var release func()
		var err error
		if key, release, err = leaseKey(c.keys.owner, cfg.keyBits); err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		c.keys.releases = append(c.keys.releases, release)
	}
	s, err := newSigningKey(key)
	if err == nil {
		err = c.keys.set(s, false)
	}
	if err != nil {
		c.keys.release()
		return err
	}
	return nil
}

func (c *Cluster) initServer() error {
	tc, err := newClusterTLS()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.caPEM = tc.caPEM
	c.caPool = x509.NewCertPool()
	c.caPool.AppendCertsFromPEM([]byte(tc.caPEM))
	c.tmpDir, err = os.MkdirTemp("", "kubetest-")
	if err != nil {
		return err
	}
	c.caFile = filepath.Join(c.tmpDir, "ca.crt")
	if err := os.WriteFile(c.caFile, []byte(tc.caPEM), 0o600); err != nil {
		os.RemoveAll(c.tmpDir)
		return err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(c.serveHTTP))
	srv.EnableHTTP2 = !c.http1Only // kube-apiserver speaks h2 as well as http/1.1
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{tc.leaf}, MinVersion: tls.VersionTLS12}
	// Handshake failures (a client that does not trust the CA) are expected
	// in tests; keep them out of the test log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			c.countConnection()
		}
	}
	srv.StartTLS()
	c.srv = srv
	return nil
}

// Close stops the server, ending requests held by injected latency, and
// removes the CA file. It is safe to call more than once.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.clientOnce.Do(func() {}) // orders the read of c.client after Client
		if c.client != nil {
			c.client.CloseIdleConnections()
		}
		c.srv.CloseClientConnections()
		c.srv.Close()
		c.keys.release()
		os.RemoveAll(c.tmpDir)
	})
}

// URL is the server's base URL, https://127.0.0.1:port.
func (c *Cluster) URL() string { return c.srv.URL }

// Host is the server's address, 127.0.0.1:port.
func (c *Cluster) Host() string { return strings.TrimPrefix(c.srv.URL, "https://") }

// CAPEM is the PEM of the CA that signed the server's certificate.
func (c *Cluster) CAPEM() string { return c.caPEM }

// CAFile is the path of a file holding CAPEM, removed by Close.
func (c *Cluster) CAFile() string { return c.caFile }

// Issuer is the service account issuer.
func (c *Cluster) Issuer() string { return c.issuer }

// APIAudiences are the API server's own audiences.
func (c *Cluster) APIAudiences() []string { return append([]string(nil), c.apiAudiences...) }

// Now is the cluster clock.
func (c *Cluster) Now() time.Time { return c.now() }

// SigningKey is the private key the cluster signs tokens with, for sharing
// with another cluster (WithSigningKey) or signing foreign tokens.
func (c *Cluster) SigningKey() *rsa.PrivateKey { return c.keys.current().key }

// KeyID is the kid of the signing key, as kube-apiserver derives it.
func (c *Cluster) KeyID() string { return c.keys.current().kid }

// SigningKeyPEM is the public signing key as a PKIX "PUBLIC KEY" PEM, as
// Vault's pem_keys and --service-account-key-file take it.
func (c *Cluster) SigningKeyPEM() string { return c.keys.current().publicPEM }

// JWKS is the key set served at /openid/v1/jwks: the public keys of every
// key the cluster verifies with, the signing key's first.
func (c *Cluster) JWKS() []byte { return c.keys.jwkSet() }

// RotateSigningKey makes the cluster sign new tokens with a new key and
// returns its kid. As when an operator points
// --service-account-signing-key-file at a new key and adds its public key to
// --service-account-key-file, the previous keys stay trusted: tokens they
// signed still pass TokenReview, and /openid/v1/jwks lists every key, the
// new one first, until DropOldSigningKeys.
func (c *Cluster) RotateSigningKey() string {
	kid, err := c.keys.rotate()
	if err != nil {
		panic(fmt.Sprintf("kubetest: rotate signing key: %v", err))
	}
	return kid
}

// DropOldSigningKeys ends a rotation as the operator does once every token
// the old keys signed has expired: only the signing key is trusted and
// listed; tokens signed with an older key then fail review ("invalid
// signature, no keys found").
func (c *Cluster) DropOldSigningKeys() {
	if err := c.keys.dropOld(); err != nil {
		panic(fmt.Sprintf("kubetest: drop old signing keys: %v", err))
	}
}

// Client is an HTTP client that trusts only the cluster's CA.
func (c *Cluster) Client() *http.Client {
	c.clientOnce.Do(func() {
		c.client = &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12},
				ForceAttemptHTTP2: true,
			},
		}
	})
	return c.client
}

// rootTestName is the top-level test's name: subtests share their parent's
// keys, so they must be counted with it.
func rootTestName(name string) string {
	root, _, _ := strings.Cut(name, "/")
	return root
}
