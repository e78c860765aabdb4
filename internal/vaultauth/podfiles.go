package vaultauth

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// DefaultPodDir is where Kubernetes mounts a pod's service-account files.
const DefaultPodDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// podTokenMaxAge is how long a read token file is trusted: projected
// tokens rotate, so it is re-read at least this often.
const podTokenMaxAge = time.Minute

// podFiles reads, when Gatehouse itself runs in a pod, its own CA bundle
// (ca.crt) and service-account token (token). Outside a pod the files are
// missing and both are simply "not set".
type podFiles struct {
	dir string // "" = never read
	now func() time.Time

	mu       sync.Mutex
	ca       string
	caRead   bool
	tok      secret.Secret
	tokRead  time.Time
	tokValid bool
}

func newPodFiles(dir string, now func() time.Time) *podFiles {
	return &podFiles{dir: dir, now: now}
}

// caCert is the pod's CA bundle, or "" when absent or not a valid bundle.
// It is read once: the cluster CA does not rotate under a running pod.
func (p *podFiles) caCert() string {
	if p.dir == "" {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.caRead {
		p.caRead = true
		if b, err := os.ReadFile(filepath.Join(p.dir, "ca.crt")); err == nil && len(b) <= kubeauth.MaxCACertBytes {
			if ca := string(b); kubeauth.CheckCABundle(ca) == nil {
				p.ca = ca
			}
		}
	}
	return p.ca
}

// token is the pod's service-account token, re-read when older than
// podTokenMaxAge; "" when absent.
func (p *podFiles) token() secret.Secret {
	if p.dir == "" {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.tokValid && now.Sub(p.tokRead) < podTokenMaxAge {
		return p.tok
	}
	p.tok, p.tokRead, p.tokValid = "", now, true
	if b, err := os.ReadFile(filepath.Join(p.dir, "token")); err == nil && len(b) <= kubeauth.MaxJWTBytes {
		p.tok = secret.Secret(strings.TrimSpace(string(b)))
	}
	return p.tok
}
