package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Upstream is the API server a gateway serves: its URL, the CA file that
// alone verifies it, and the service-account token file the gateway uses
// as its bearer. Both files are read again when their last read is more
// than FileReread old, so rotated tokens and CAs are picked up.
type Upstream struct {
	URL       string // https://host[:port]
	CAFile    string
	TokenFile string
	Timeout   time.Duration

	mu    sync.Mutex
	caPEM []byte
	conns *upstreamConns // for caPEM

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

// maxUpstreamConns caps the gateway's connections to its API server: a
// call waits for a free one (within its timeout) rather than open more,
// so that a login burst is not a handshake storm against the API server
// (as the server's own TokenReview client does, internal/kubeauth).
const maxUpstreamConns = 64

// upstreamConns are the connections kept to the API server under one CA.
type upstreamConns struct {
	slots chan struct{} // one per connection in use
	pool  streamPool
	dial  func(context.Context) (net.Conn, error)
	host  string // Host header: the URL's host[:port]
	base  string // the URL's path, without a trailing slash
}

// current returns the connections for the CA file's current contents; a
// changed CA starts new ones (the idle ones under the old CA close).
func (u *Upstream) current() (*upstreamConns, error) {
	ca, err := u.caFile.read(u.CAFile, time.Now())
	if err != nil {
		return nil, fmt.Errorf("reading the API server's CA file: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conns != nil && bytes.Equal(ca, u.caPEM) {
		return u.conns, nil
	}
	addr, err := u.Addr()
	if err != nil {
		return nil, err
	}
	pu, _ := url.Parse(u.URL) // Addr parsed it
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, errors.New("the API server's CA file holds no PEM certificate")
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: u.timeout()},
		Config: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, ServerName: pu.Hostname(),
			NextProtos: []string{"http/1.1"}},
	}
	if u.conns != nil {
		u.conns.pool.closeIdle()
	}
	u.conns = &upstreamConns{
		slots: make(chan struct{}, maxUpstreamConns),
		dial:  func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
		host:  pu.Host,
		base:  strings.TrimRight(pu.EscapedPath(), "/"),
	}
	u.caPEM = ca
	return u.conns, nil
}

func (u *Upstream) timeout() time.Duration {
	if u.Timeout <= 0 {
		return DefaultTimeout
	}
	return u.Timeout
}

// upstreamAnswer is the API server's answer: status, Content-Type and
// body (at most maxAnswerBytes+1 bytes: more is too large).
type upstreamAnswer struct {
	code        int
	contentType string
	body        []byte
}

// call makes one request to the API server with the gateway's own token,
// within the gateway's timeout. Like the server's calls to the gateway
// (streampool.go), it is HTTP/1.1 on kept TLS connections, written and
// read in the calling goroutine: net/http's HTTP/2 client would start a
// goroutine and cross two more for every request, which on a gateway is
// most of what a review costs. Redirects are not followed.
func (u *Upstream) call(ctx context.Context, method, path string, body []byte) (upstreamAnswer, error) {
	uc, err := u.current()
	if err != nil {
		return upstreamAnswer{}, err
	}
	tok, err := u.tokenFile.read(u.TokenFile, time.Now())
	if err != nil {
		return upstreamAnswer{}, fmt.Errorf("reading the gateway's service-account token: %w", err)
	}
	bearer := bytes.TrimSpace(tok)
	if len(bearer) == 0 || bytes.ContainsFunc(bearer, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return upstreamAnswer{}, errors.New("the gateway's service-account token file does not hold a token")
	}
	ctx, cancel := context.WithTimeout(ctx, u.timeout())
	defer cancel()
	msg := make([]byte, 0, 256+len(bearer)+len(body))
	msg = appendRequest(msg, method, uc.base+path, uc.host, body,
		[]string{"Accept: application/json", "User-Agent: gatehouse-gateway", "Authorization: Bearer " + string(bearer)})
	select {
	case uc.slots <- struct{}{}:
	case <-ctx.Done():
		return upstreamAnswer{}, fmt.Errorf("%w: waiting for a free connection to the API server", ctx.Err())
	}
	resp, raw, err := uc.pool.call(ctx, uc.dial, msg, method)
	<-uc.slots
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return upstreamAnswer{}, fmt.Errorf("%w: %w", cerr, err)
		}
		return upstreamAnswer{}, err
	}
	return upstreamAnswer{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: raw}, nil
}
