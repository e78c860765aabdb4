package gateway

import (
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
	"os"
	"strconv"
	"strings"
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
	ans, err := h.Upstream.call(r.Context(), method, path, body)
	if err != nil {
		h.log().Warn("API server call failed", "kind", kind, "err", err)
		h.Metrics.call(kind, "error")
		writeMessage(w, http.StatusBadGateway, "upstream", upstreamProblem(err))
		return
	}
	if len(ans.body) > maxAnswerBytes {
		h.Metrics.call(kind, "error")
		writeMessage(w, http.StatusBadGateway, "upstream", fmt.Sprintf("the API server's answer is larger than %d KiB", maxAnswerBytes>>10))
		return
	}
	h.Metrics.call(kind, strconv.Itoa(ans.code))
	if ans.code == http.StatusUnauthorized || ans.code == http.StatusForbidden {
		h.log().Warn("the API server refused the gateway's own token", "kind", kind, "status", ans.code,
			"hint", "bind the gateway's service account to system:auth-delegator")
	}
	if ans.contentType != "" {
		w.Header().Set("Content-Type", ans.contentType)
	}
	w.WriteHeader(ans.code)
	_, _ = w.Write(ans.body)
}

// upstreamProblem words a failure to reach the API server without
// echoing what an arbitrary peer said.
func upstreamProblem(err error) string {
	var ne net.Error
	var ce x509.UnknownAuthorityError
	var he x509.HostnameError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ce), errors.As(err, &he), errors.As(err, &ve):
		return "TLS verification of the API server failed: check the gateway's --kube-ca-file"
	case errors.Is(err, os.ErrNotExist):
		return "a file the gateway needs is missing (service-account token or CA): " + err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
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
