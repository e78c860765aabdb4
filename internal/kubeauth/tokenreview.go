package kubeauth

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Which failure a login or check met: the cause (errors.Is) of the domain
// error returned; each front end words them its own way. "Token
// rejected" and "API server down" stay distinct even where an API
// answers both alike.
var (
	// ErrTokenReview: the API server did not accept the JWT, or refused
	// the bearer of the review (401, 403).
	ErrTokenReview       = errors.New("kubernetes: token review refused")
	ErrConnectionRefused = errors.New("kubernetes: connection refused")
	ErrHostNotFound      = errors.New("kubernetes: host not found")
	ErrConnectionTimeout = errors.New("kubernetes: no answer in time")
	ErrCertificate       = errors.New("kubernetes: TLS certificate or protocol")
	// ErrAPI: the API server failed (5xx, 429), answered something else,
	// or the connection broke.
	ErrAPI = errors.New("kubernetes: API server failed")
	// ErrUsername: the reviewed username is not a service account's.
	ErrUsername = errors.New("kubernetes: not a service account")
	// ErrMalformedJWT: the login JWT is not a JWT (or not one that can be
	// verified).
	ErrMalformedJWT = errors.New("kubernetes: malformed JWT")
	// ErrBearerForbidden: the API server knew the bearer but answered 403
	// (no system:auth-delegator, or in local mode no
	// system:service-account-issuer-discovery). It comes beside
	// ErrTokenReview, ErrIssuerDiscovery or gateway.ErrReviewerRejected.
	ErrBearerForbidden = errors.New("kubernetes: bearer not allowed (HTTP 403)")
)

// DefaultTimeout bounds one call to an API server (--kube-timeout).
const DefaultTimeout = 10 * time.Second

// maxResponseBytes caps what is read of an API server's answer; a
// TokenReview or a key set is a few KiB.
const maxResponseBytes = 256 << 10

// maxClients bounds the cache of per-cluster HTTP clients.
const maxClients = 128

// maxConnsPerAPIServer caps the connections to one API server, and the
// idle pool keeps that many, so the pool never closes a connection the next
// burst of logins will need. Over HTTP/2 one connection carries the reviews
// in flight; over HTTP/1.1 (an old API server, or a proxy in front of it)
// each review in flight needs a connection of its own, and a pool smaller
// than the concurrency closes the surplus after each burst and pays a TCP
// and TLS handshake per review in the next. Reviews beyond the cap wait for
// a free connection inside the same per-call timeout rather than opening
// more: a login burst should not become a handshake storm against the API
// server, which limits requests in flight itself (--max-requests-inflight,
// 400 by default, shared with the whole cluster).
const maxConnsPerAPIServer = 64

const tokenReviewPath = "/apis/authentication.k8s.io/v1/tokenreviews"

// apiClient calls API servers: TokenReview, and in local mode the issuer
// discovery documents. It keeps one pooled http.Client per distinct (host,
// CA, verify) so connections are reused across logins; a changed
// configuration has another key and gets a fresh client, and the least
// recently used clients beyond maxClients are dropped.
type apiClient struct {
	timeout  time.Duration
	gateways Gateways // relays (gateway.go); nil = none
	mu       sync.Mutex
	clients  map[[32]byte]*list.Element // of *clientEntry
	lru      *list.List                 // front = most recently used
}

type clientEntry struct {
	key    [32]byte
	client *http.Client
}

func newAPIClient(timeout time.Duration) *apiClient {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &apiClient{timeout: timeout, clients: map[[32]byte]*list.Element{}, lru: list.New()}
}

func clientKey(c Cluster) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s|%d:%s|%t|%t|%s|%s", len(c.Host), c.Host, len(c.CACert), c.CACert, c.VerifyTLS, c.SystemRoots, c.GatewayID, c.GatewayPoolID)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// client returns the pooled client for c, building it on first use.
func (ac *apiClient) client(c Cluster) (*http.Client, error) {
	key := clientKey(c)
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if el, ok := ac.clients[key]; ok {
		ac.lru.MoveToFront(el)
		return el.Value.(*clientEntry).client, nil
	}
	hc, err := ac.newHTTPClient(c)
	if err != nil {
		return nil, err
	}
	ac.clients[key] = ac.lru.PushFront(&clientEntry{key: key, client: hc})
	for ac.lru.Len() > maxClients {
		old := ac.lru.Remove(ac.lru.Back()).(*clientEntry)
		delete(ac.clients, old.key)
		old.client.CloseIdleConnections() // requests in flight finish normally
	}
	return hc, nil
}

// cached reports how many clients are pooled (for tests).
func (ac *apiClient) cached() int {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.lru.Len()
}

func (ac *apiClient) newHTTPClient(c Cluster) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: ac.timeout, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	switch {
	case !c.VerifyTLS:
		// The operator chose HTTPS without verification
		// (verifyTlsCertificate=false): nothing proves the peer is an API
		// server, so never connect to a link-local or metadata address,
		// checked on the resolved address of each connection (dialguard.go).
		// No proxy either: it would dial the host itself, unchecked.
		tlsConfig.InsecureSkipVerify = true
		dialer.Control = refuseMetadata
		proxy = nil
	case c.CACert != "":
		pool, err := parseCABundle(c.CACert)
		if err != nil {
			return nil, errs.Wrap(err, "stored caCert is unreadable")
		}
		tlsConfig.RootCAs = pool // the CA alone, never the system roots
	case c.SystemRoots:
		// Vault's config: without a CA, the system trust store.
	default:
		return nil, errs.New(errs.Internal, "TLS verification is on but no CA certificate is stored")
	}
	dial := dialer.DialContext
	if c.throughGateway() {
		// A TCP relay through the gateway, TLS end to end (gateway.go);
		// the gateway checks the target against its allow list.
		dial, proxy = ac.relayDial(c), nil
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           dial,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   ac.timeout,
			ResponseHeaderTimeout: ac.timeout,
			ForceAttemptHTTP2:     true,
			MaxConnsPerHost:       maxConnsPerAPIServer,
			MaxIdleConnsPerHost:   maxConnsPerAPIServer, // keep every connection the cap allows
			MaxIdleConns:          maxConnsPerAPIServer, // one client per API server, so per host is all
			IdleConnTimeout:       90 * time.Second,
		},
		// The API server never redirects these calls; following a redirect
		// would send the bearer token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// apiRequest is one call to an API server.
type apiRequest struct {
	method, path string
	body         []byte // JSON; nil for none
	accept       string
	bearer       secret.Secret
	// bearerIsLoginJWT: no reviewer JWT is configured, so bearer is the
	// login JWT itself. Failure messages name the bearer that was used.
	bearerIsLoginJWT bool
	// what names the call in messages: "the TokenReview", "GET /openid/v1/jwks".
	what string
}

// bearerName names the bearer of req in messages.
func (req apiRequest) bearerName() string {
	if req.bearerIsLoginJWT {
		return "the login JWT (no token reviewer JWT is configured, so a login's own JWT is the bearer of " + req.what + ")"
	}
	return "the token reviewer JWT"
}

// apiAnswer is an API server's answer: status, Content-Type and body.
type apiAnswer struct {
	code        int
	contentType string
	body        []byte
}

// call makes req against c's API server within the client's timeout and
// returns the answer, whatever its status. Transport failures and answers
// over maxResponseBytes are BadGateway errors naming what to fix.
func (ac *apiClient) call(ctx context.Context, c Cluster, req apiRequest) (apiAnswer, error) {
	hc, err := ac.client(c)
	if err != nil {
		return apiAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, ac.timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.method, c.Host+req.path, body)
	if err != nil {
		return apiAnswer{}, errs.Wrap(err, "building the request for %s", req.what)
	}
	if req.body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	httpReq.Header.Set("Accept", req.accept)
	httpReq.Header.Set("Authorization", "Bearer "+req.bearer.Reveal())
	resp, err := hc.Do(httpReq)
	if err != nil && c.GatewayPoolID != "" && ctx.Err() == nil && !errors.As(err, new(*errs.Error)) {
		// A relay through a pool member whose session dropped mid-request:
		// once more, through another member (gateway.go).
		retry := httpReq.Clone(ctx)
		if httpReq.GetBody != nil {
			retry.Body, _ = httpReq.GetBody()
		}
		resp, err = hc.Do(retry)
	}
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
			return apiAnswer{}, ctxErr // the caller went away
		}
		return apiAnswer{}, ac.transportError(c, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return apiAnswer{}, ac.transportError(c, err)
	}
	if len(raw) > maxResponseBytes {
		return apiAnswer{}, errs.Because(errs.BadGateway, ErrAPI,
			"the Kubernetes API server at %s answered more than %d KiB to %s; check that kubernetesHost is the API server", c.Host, maxResponseBytes>>10, req.what)
	}
	return apiAnswer{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: raw}, nil
}

// reviewRequest is one TokenReview call.
type reviewRequest struct {
	token     secret.Secret
	audiences []string
	bearer    secret.Secret
	// reviewerIsLoginJWT: no reviewer JWT is configured, so bearer is the
	// login JWT itself. Failure messages name the bearer that was used.
	reviewerIsLoginJWT bool
}

// review posts a TokenReview and returns the answered status. Every
// failure is a domain error naming what to fix: 401 and 403 from the API
// server are Unauthenticated (the bearer is not accepted or not allowed to
// review); transport failures, 5xx and answers that are not a TokenReview
// are BadGateway.
func (ac *apiClient) review(ctx context.Context, c Cluster, req reviewRequest) (authv1.TokenReviewStatus, error) {
	body, err := json.Marshal(authv1.TokenReview{
		TypeMeta: metav1.TypeMeta{Kind: "TokenReview", APIVersion: "authentication.k8s.io/v1"},
		Spec:     authv1.TokenReviewSpec{Token: req.token.Reveal(), Audiences: req.audiences},
	})
	if err != nil {
		return authv1.TokenReviewStatus{}, errs.Wrap(err, "encoding TokenReview")
	}
	call := apiRequest{method: http.MethodPost, path: tokenReviewPath, body: body, accept: "application/json",
		bearer: req.bearer, bearerIsLoginJWT: req.reviewerIsLoginJWT, what: "the TokenReview"}
	ans, err := ac.call(ctx, c, call)
	if err != nil {
		return authv1.TokenReviewStatus{}, err
	}
	switch {
	case ans.code == http.StatusUnauthorized:
		return authv1.TokenReviewStatus{}, bearerRejected(call, ErrTokenReview)
	case ans.code == http.StatusForbidden:
		return authv1.TokenReviewStatus{}, errs.Because(errs.Unauthenticated, forbidden(ErrTokenReview),
			"the token reviewer lacks the system:auth-delegator ClusterRole binding: the API server answered HTTP 403 to %s%s; bind that service account to system:auth-delegator",
			call.bearerName(), apiMessage(ans.body))
	case ans.code < 200 || ans.code > 299:
		return authv1.TokenReviewStatus{}, statusError(c, call, ans)
	}
	var tr authv1.TokenReview
	if err := json.Unmarshal(ans.body, &tr); err != nil || (tr.Kind != "" && tr.Kind != "TokenReview") {
		return authv1.TokenReviewStatus{}, notTheAnswer(c, call, ans, "a TokenReview")
	}
	return tr.Status, nil
}

// forbidden is kind with ErrBearerForbidden beside it.
func forbidden(kind error) error { return fmt.Errorf("%w: %w", kind, ErrBearerForbidden) }

// bearerRejected is the API server's 401 to req's bearer, of kind kind.
func bearerRejected(req apiRequest, kind error) error {
	if req.bearerIsLoginJWT {
		return errs.Because(errs.Unauthenticated, kind,
			"the Kubernetes API server rejected %s (HTTP 401): it is invalid or expired", req.bearerName())
	}
	return errs.Because(errs.Unauthenticated, kind,
		"token reviewer JWT is invalid or expired (the Kubernetes API server answered %s with HTTP 401); set a current tokenReviewerJwt", req.what)
}

// statusError turns an HTTP error status of the API server, other than
// the 401 and 403 each caller words, into a domain error.
func statusError(c Cluster, req apiRequest, ans apiAnswer) error {
	detail := apiMessage(ans.body)
	switch code := ans.code; {
	case code >= 500:
		return errs.Because(errs.BadGateway, ErrAPI,
			"the Kubernetes API server at %s failed %s with HTTP %d%s; check the API server's health and retry", c.Host, req.what, code, detail)
	case code == http.StatusTooManyRequests:
		return errs.Because(errs.BadGateway, ErrAPI,
			"the Kubernetes API server at %s is shedding load (HTTP 429)%s; retry later", c.Host, detail)
	}
	return errs.Because(errs.BadGateway, ErrAPI,
		"the Kubernetes API server at %s answered %s with HTTP %d%s; check that kubernetesHost is the API server's URL", c.Host, req.what, ans.code, detail)
}

// notTheAnswer is a 2xx answer to req that is not the expected object.
func notTheAnswer(c Cluster, req apiRequest, ans apiAnswer, want string) error {
	return errs.Because(errs.BadGateway, ErrAPI,
		"the Kubernetes API server at %s answered %s (HTTP %d) with something that is not %s (%s); check that kubernetesHost is the API server and not a proxy or load balancer page",
		c.Host, req.what, ans.code, want, describeBody(ans.contentType, ans.body))
}

// apiMessage is ": <message>" of a metav1.Status body, or "".
func apiMessage(raw []byte) string {
	var st metav1.Status
	if json.Unmarshal(raw, &st) != nil || st.Message == "" {
		return ""
	}
	return ": " + clip(st.Message, 300)
}

func describeBody(contentType string, raw []byte) string {
	if contentType == "" {
		contentType = "no Content-Type"
	}
	return fmt.Sprintf("%s, %d bytes", contentType, len(raw))
}

// transportError classifies a failure to get an answer at all.
func (ac *apiClient) transportError(c Cluster, err error) error {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	var domainErr *errs.Error
	e := &errs.Error{Code: errs.BadGateway}
	var kind error
	switch {
	case errors.As(err, &domainErr):
		return domainErr // a gateway's refusal, named already
	case errors.Is(err, ErrMetadataAddress):
		kind = ErrAPI
		e.Message = fmt.Sprintf("the Kubernetes API server at %s resolves to a link-local or cloud metadata address: Gatehouse does not connect there without TLS verification, since the JWT it sends could reach a metadata service; set caCert (verifyTlsCertificate=true) or use the API server's own address", c.Host)
	case errors.As(err, &dnsErr):
		kind = ErrHostNotFound
		e.Message = fmt.Sprintf("the Kubernetes API server host %q was not found (DNS lookup failed); check kubernetesHost", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = ErrConnectionRefused
		e.Message = fmt.Sprintf("the connection to the Kubernetes API server at %s was refused; check kubernetesHost (host and port) and that the API server is running", c.Host)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &verifyErr):
		kind = ErrCertificate
		e.Message = fmt.Sprintf("TLS certificate verification of the Kubernetes API server at %s failed (%s); set caCert to the CA that signed the API server's certificate, or verifyTlsCertificate=false to skip verification", c.Host, certProblem(err))
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http turns a RecordHeaderError that looks like HTTP into
		// that untyped error.
		kind = ErrCertificate
		e.Message = fmt.Sprintf("the server at %s does not speak TLS; kubernetesHost must be the API server's HTTPS address", c.Host)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		kind = ErrConnectionTimeout
		e.Message = fmt.Sprintf("the Kubernetes API server at %s did not answer within %s; check kubernetesHost, the network path and firewalls", c.Host, ac.timeout)
	default:
		kind = ErrAPI
		e.Message = fmt.Sprintf("the connection to the Kubernetes API server at %s failed before an answer (%s); check kubernetesHost and the API server's health", c.Host, connProblem(err))
	}
	e.Err = fmt.Errorf("%w: %w", kind, err)
	return e
}

// connProblem words a connection failure in a few fixed classes, never the
// socket error's own text: the host is chosen by an administrator, and
// what an arbitrary port answers must not be echoed back (the raw error
// stays in the chain for the logs).
func connProblem(err error) string {
	var alert tls.AlertError
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the host"
	case errors.As(err, &alert):
		return "TLS handshake failed"
	}
	return "connection failed"
}

// certProblem words an x509 failure briefly.
func certProblem(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownCA):
		return "certificate signed by an authority that caCert does not hold"
	case errors.As(err, &hostErr):
		return hostErr.Error()
	case errors.As(err, &invalidCert):
		return invalidCert.Error()
	}
	return "the certificate could not be verified"
}

// lastCause is the innermost error's text, without the URL wrapping.
func lastCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
