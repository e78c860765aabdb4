package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// In-pod defaults of a gateway.
const (
	PodTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	PodCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

const tokenReviewPath = "/apis/authentication.k8s.io/v1/tokenreviews"

// maxRequestBytes caps a TokenReview body the gateway forwards.
const maxRequestBytes = 64 << 10

// Upstream is the API server a gateway serves: its URL, the CA file that
// alone verifies it, and the service-account token file the gateway uses
// as its bearer. Both files are read again when their last read is more
// than FileReread old, so rotated tokens and CAs are picked up.
type Upstream struct {
	URL       string // https://host[:port]
	CAFile    string
	TokenFile string
	Timeout   time.Duration

	mu     sync.Mutex
	caPEM  []byte
	client *http.Client

	caFile, tokenFile cachedFile
}

// FileReread is how long a gateway uses its CA and token files' contents
// before reading them again: a rotation is picked up within a second
// (kubelet refreshes a projected token long before it expires), and a
// review under load costs no file reads.
const FileReread = time.Second

// cachedFile is a file's contents, read again once FileReread old (or
// after a failed read).
type cachedFile struct {
	mu   sync.Mutex
	at   time.Time
	data []byte
}

func (c *cachedFile) read(path string, now time.Time) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data != nil && now.Sub(c.at) < FileReread && !now.Before(c.at) {
		return c.data, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		c.data = nil
		return nil, err
	}
	c.data, c.at = b, now
	return b, nil
}

// Addr is the API server's host:port (443 by default), the one relay
// target a gateway always allows.
func (u *Upstream) Addr() (string, error) {
	pu, err := url.Parse(u.URL)
	if err != nil || pu.Scheme != "https" || pu.Host == "" {
		return "", fmt.Errorf("the API server URL %q must be https://host[:port]", u.URL)
	}
	if pu.Port() == "" {
		return net.JoinHostPort(pu.Hostname(), "443"), nil
	}
	return pu.Host, nil
}

// httpClient is the client for the current CA file's contents.
func (u *Upstream) httpClient() (*http.Client, error) {
	ca, err := u.caFile.read(u.CAFile, time.Now())
	if err != nil {
		return nil, fmt.Errorf("reading the API server's CA file: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.client != nil && bytes.Equal(ca, u.caPEM) {
		return u.client, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("the API server's CA file holds no PEM certificate")
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if u.client != nil {
		u.client.CloseIdleConnections()
	}
	u.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout: timeout,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	u.caPEM = ca
	return u.client, nil
}

// call makes one request to the API server with the gateway's own token.
func (u *Upstream) call(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	hc, err := u.httpClient()
	if err != nil {
		return nil, err
	}
	tok, err := u.tokenFile.read(u.TokenFile, time.Now())
	if err != nil {
		return nil, fmt.Errorf("reading the gateway's service-account token: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(u.URL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return hc.Do(req)
}

// Handler is what a gateway serves on its session.
type Handler struct {
	Upstream *Upstream
	// Allow lists the host:port relay targets besides the API server's.
	Allow   []string
	Logger  *slog.Logger
	Metrics *Metrics // nil: none
	// DialTimeout bounds a relay's connection (DefaultTimeout when 0).
	DialTimeout time.Duration
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		h.relay(w, r)
	case r.Method == http.MethodPost && r.URL.Path == ReviewPath:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		if err != nil {
			writeMessage(w, http.StatusRequestEntityTooLarge, "", "the TokenReview is too large")
			return
		}
		h.forward(w, r, "review", http.MethodPost, tokenReviewPath, body)
	case r.Method == http.MethodGet && (r.URL.Path == DiscoveryPath || r.URL.Path == JWKSPath):
		h.forward(w, r, "discovery", http.MethodGet, r.URL.Path, nil)
	default:
		writeMessage(w, http.StatusNotFound, "", "a gateway serves only TokenReviews, the issuer discovery documents and relays to its API server")
	}
}

// forward makes the call with the gateway's own token and answers what
// the API server answered.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, kind, method, path string, body []byte) {
	resp, err := h.Upstream.call(r.Context(), method, path, body)
	if err != nil {
		h.log().Warn("API server call failed", "kind", kind, "err", err)
		h.Metrics.call(kind, "error")
		writeMessage(w, http.StatusBadGateway, "upstream", upstreamProblem(err))
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		h.Metrics.call(kind, "error")
		writeMessage(w, http.StatusBadGateway, "upstream", "reading the API server's answer failed")
		return
	}
	h.Metrics.call(kind, fmt.Sprint(resp.StatusCode))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		h.log().Warn("the API server refused the gateway's own token", "kind", kind, "status", resp.StatusCode,
			"hint", "bind the gateway's service account to system:auth-delegator")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(raw)
}

// upstreamProblem words a failure to reach the API server without
// echoing what an arbitrary peer said.
func upstreamProblem(err error) string {
	var ue *url.Error
	var ce x509.UnknownAuthorityError
	var he x509.HostnameError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ce), errors.As(err, &he), errors.As(err, &ve):
		return "TLS verification of the API server failed: check the gateway's --kube-ca-file"
	case errors.Is(err, os.ErrNotExist):
		return "a file the gateway needs is missing (service-account token or CA): " + err.Error()
	case errors.As(err, &ue) && ue.Timeout():
		return "the API server did not answer in time"
	}
	return "the API server could not be reached: check the gateway's --kube-host"
}

// allowed reports whether addr may be relayed to.
func (h *Handler) allowed(addr string) bool {
	if api, err := h.Upstream.Addr(); err == nil && strings.EqualFold(api, addr) {
		return true
	}
	for _, a := range h.Allow {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

func (h *Handler) relay(w http.ResponseWriter, r *http.Request) {
	addr := r.Host
	if !h.allowed(addr) {
		h.log().Warn("relay refused", "target", addr)
		h.Metrics.call("relay", "refused")
		writeMessage(w, http.StatusForbidden, "", "the gateway relays only to its API server and its --allow-relay hosts, not to "+addr)
		return
	}
	timeout := h.DialTimeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	up, err := (&net.Dialer{Timeout: timeout}).DialContext(r.Context(), "tcp", addr)
	if err != nil {
		h.Metrics.call("relay", "error")
		writeMessage(w, http.StatusBadGateway, "", "the gateway could not connect to "+addr)
		return
	}
	down, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	h.Metrics.call("relay", "200")
	_ = down.SetDeadline(time.Time{})
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		down.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, brw.Reader); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(down, up); closeWrite(down); done <- struct{}{} }()
	<-done
	<-done
	up.Close()
	down.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

func writeMessage(w http.ResponseWriter, code int, upstream, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if upstream != "" {
		w.Header().Set(HeaderUpstreamError, upstream)
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
