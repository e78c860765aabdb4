package kubeauth

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// testService is a Service with only what Login and Probe need.
func testService(timeout time.Duration) *Service {
	return NewService(nil, seal.Key{}, nil, nil, time.Now, timeout, nil)
}

// clusterOf is a verified connection to c with a reviewer allowed to
// review.
func clusterOf(c *kubetest.Cluster) Cluster {
	return Cluster{Host: c.URL(), CACert: c.CAPEM(), VerifyTLS: true, ReviewMode: ReviewAPI,
		ReviewerJWT: secret.Secret(c.ReviewerToken("kube-system", "gatehouse-reviewer"))}
}

// refusedHost is an address nothing listens on.
func refusedHost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "https://" + addr
}

func checkErr(t *testing.T, err error, code errs.Code, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v %v %q", code, kind, msg)
	}
	e := errs.As(err)
	if e.Code != code || (kind != nil && !errors.Is(err, kind)) || !strings.Contains(e.Message, msg) {
		t.Fatalf("err = %v, code %v message %q\nwant code %v kind %v message containing %q", err, e.Code, e.Message, code, kind, msg)
	}
}

// TestTokenReviewFailures: every way of not getting a usable review is a
// clear domain error, classified as the contract names it.
func TestTokenReviewFailures(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	other := kubetest.New(t)
	selfSigned := httptest.NewUnstartedServer(http.NotFoundHandler())
	selfSigned.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	selfSigned.StartTLS()
	t.Cleanup(selfSigned.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	// httptest's certificate names example.com, 127.0.0.1 and ::1.
	huge := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"kind":"TokenReview","padding":"` + strings.Repeat("x", maxResponseBytes) + `"}`))
	}))
	huge.Config.ErrorLog = log.New(io.Discard, "", 0)
	huge.StartTLS()
	t.Cleanup(huge.Close)
	hugeCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: huge.Certificate().Raw}))
	jwt := JWT{Raw: secret.Secret(c.Token("apps", "web"))}

	cases := []struct {
		name   string
		modify func(*Cluster)
		fault  func()
		code   errs.Code
		errNm  error
		msg    string
	}{
		{"connection refused", func(cl *Cluster) { cl.Host = refusedHost(t) }, nil,
			errs.BadGateway, ErrConnectionRefused, "was refused"},
		{"host not found", func(cl *Cluster) { cl.Host = "https://gatehouse-no-such-host.invalid" }, nil,
			errs.BadGateway, ErrHostNotFound, `"gatehouse-no-such-host.invalid" was not found`},
		{"slow server", nil, func() { c.SetLatency(time.Hour) },
			errs.BadGateway, ErrConnectionTimeout, "did not answer within 300ms"},
		{"wrong CA", func(cl *Cluster) { cl.CACert = other.CAPEM() }, nil,
			errs.BadGateway, ErrCertificate, "signed by an authority that caCert does not hold"},
		{"self-signed server", func(cl *Cluster) { cl.Host = selfSigned.URL }, nil,
			errs.BadGateway, ErrCertificate, "TLS certificate verification"},
		{"not TLS", func(cl *Cluster) { cl.Host = "https://" + strings.TrimPrefix(plain.URL, "http://") }, nil,
			errs.BadGateway, ErrCertificate, "does not speak TLS"},
		{"certificate for another name", func(cl *Cluster) {
			cl.Host, cl.CACert = "https://localhost:"+strconv.Itoa(huge.Listener.Addr().(*net.TCPAddr).Port), hugeCA
		}, nil, errs.BadGateway, ErrCertificate, "not localhost"},
		{"answer too large", func(cl *Cluster) { cl.Host, cl.CACert = huge.URL, hugeCA }, nil,
			errs.BadGateway, ErrAPI, "answered more than 256 KiB"},
		{"500", nil, func() { c.FailNext(kubetest.FaultInternalError, 1) },
			errs.BadGateway, ErrAPI, "HTTP 500"},
		{"429", nil, func() { c.FailNext(kubetest.FaultTooManyRequests, 1) },
			errs.BadGateway, ErrAPI, "HTTP 429"},
		{"garbage", nil, func() { c.FailNext(kubetest.FaultGarbage, 1) },
			errs.BadGateway, ErrAPI, "not a TokenReview"},
		{"dropped connection", nil, func() { c.FailNext(kubetest.FaultDrop, 1) },
			errs.BadGateway, ErrAPI, "failed before an answer"},
		{"reviewer JWT invalid", func(cl *Cluster) { cl.ReviewerJWT = "not-a-token" }, nil,
			errs.Unauthenticated, ErrTokenReview, "token reviewer JWT is invalid or expired"},
		{"reviewer JWT of another cluster", func(cl *Cluster) { cl.ReviewerJWT = secret.Secret(other.ReviewerToken("kube-system", "r")) }, nil,
			errs.Unauthenticated, ErrTokenReview, "token reviewer JWT is invalid or expired"},
		{"reviewer without auth-delegator", func(cl *Cluster) { cl.ReviewerJWT = secret.Secret(c.Token("kube-system", "no-rbac")) }, nil,
			errs.Unauthenticated, ErrTokenReview, "lacks the system:auth-delegator ClusterRole binding: the API server answered HTTP 403 to the token reviewer JWT"},
		{"login JWT as bearer without auth-delegator", func(cl *Cluster) { cl.ReviewerJWT = "" }, nil,
			errs.Unauthenticated, ErrTokenReview, "403 to the login JWT (no token reviewer JWT is configured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: faults are injected into the shared cluster.
			t.Cleanup(c.ClearFaults)
			cl := clusterOf(c)
			if tc.modify != nil {
				tc.modify(&cl)
			}
			if tc.fault != nil {
				tc.fault()
			}
			timeout := 10 * time.Second // generous: a loaded machine must not turn a case into a timeout
			if tc.name == "slow server" {
				timeout = 300 * time.Millisecond // its server never answers
			}
			_, err := testService(timeout).Login(context.Background(), Config{Cluster: cl}, jwt)
			checkErr(t, err, tc.code, tc.errNm, tc.msg)
			if strings.Contains(errs.As(err).Error(), jwt.Raw.Reveal()) || (cl.ReviewerJWT != "" && strings.Contains(errs.As(err).Error(), cl.ReviewerJWT.Reveal())) {
				t.Error("the error holds a JWT")
			}
		})
	}
}

// TestTokenReviewTLSModes: verification pinned to the cluster's CA works,
// and so does verifyTlsCertificate=false (no CA, any certificate).
func TestTokenReviewTLSModes(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	jwt := JWT{Raw: secret.Secret(c.Token("apps", "web"))}
	for _, tc := range []struct {
		name   string
		modify func(*Cluster)
	}{
		{"verified with the cluster CA", func(*Cluster) {}},
		{"verified via localhost name", func(cl *Cluster) { cl.Host = strings.Replace(cl.Host, "127.0.0.1", "localhost", 1) }},
		{"verification off", func(cl *Cluster) { cl.CACert, cl.VerifyTLS = "", false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := clusterOf(c)
			tc.modify(&cl)
			sa, err := testService(0).Login(context.Background(), Config{Cluster: cl}, jwt)
			if err != nil || sa.Namespace != "apps" || sa.Name != "web" {
				t.Fatalf("Login = %+v, %v", sa, err)
			}
		})
	}
}

func TestAPIClientPool(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	ac := newAPIClient(time.Second)
	base := clusterOf(c)
	a, err := ac.client(base)
	if err != nil {
		t.Fatal(err)
	}
	// Same connection settings: the same pooled client, whatever else
	// differs (reviewer JWT, rules).
	same := base
	same.ReviewerJWT = "other"
	if b, _ := ac.client(same); b != a {
		t.Error("the same cluster settings got a new client")
	}
	// Changed settings: a new client.
	for _, change := range []func(*Cluster){
		func(cl *Cluster) { cl.Host += "/prefix" },
		func(cl *Cluster) { cl.CACert = kubetest.New(t).CAPEM() },
		func(cl *Cluster) { cl.CACert, cl.VerifyTLS = "", false },
	} {
		cl := base
		change(&cl)
		if b, _ := ac.client(cl); b == a {
			t.Error("changed cluster settings reused the old client")
		}
	}
	// Bounded.
	for i := range maxClients + 10 {
		cl := base
		cl.Host = fmt.Sprintf("https://host-%d.example", i)
		if _, err := ac.client(cl); err != nil {
			t.Fatal(err)
		}
	}
	if n := ac.cached(); n != maxClients {
		t.Errorf("%d clients cached, want the bound %d", n, maxClients)
	}
	// A verified config without a CA never reaches the network.
	if _, err := ac.client(Cluster{Host: base.Host, VerifyTLS: true}); err == nil {
		t.Error("a client verifying TLS without a CA was built (the system roots must not be used)")
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(2 * time.Second)
	good := clusterOf(c)
	if err := s.Probe(context.Background(), good); err != nil {
		t.Fatalf("probe of a good config: %v", err)
	}
	if call, _ := c.LastTokenReview(); call.Bearer != good.ReviewerJWT.Reveal() || call.Token != probeToken || call.StatusCode != 201 {
		t.Errorf("probe call: status %d, token %q, bearer is the reviewer: %v", call.StatusCode, call.Token, call.Bearer == good.ReviewerJWT.Reveal())
	}
	cases := []struct {
		name   string
		modify func(*Cluster)
		errNm  error
		msg    string
	}{
		{"host unreachable", func(cl *Cluster) { cl.Host = refusedHost(t) }, ErrConnectionRefused, "was refused"},
		{"name not found", func(cl *Cluster) { cl.Host = "https://gatehouse-probe.invalid" }, ErrHostNotFound, "was not found"},
		{"TLS verification", func(cl *Cluster) { cl.CACert = kubetest.New(t).CAPEM() }, ErrCertificate, "TLS certificate verification"},
		{"reviewer invalid", func(cl *Cluster) {
			cl.ReviewerJWT = secret.Secret(c.Token("kube-system", "r", kubetest.ExpiresIn(-time.Hour)))
		}, ErrTokenReview, "token reviewer JWT is invalid or expired"},
		{"reviewer not delegated", func(cl *Cluster) { cl.ReviewerJWT = secret.Secret(c.Token("kube-system", "plain")) }, ErrTokenReview, "lacks the system:auth-delegator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := clusterOf(c)
			tc.modify(&cl)
			checkErr(t, s.Probe(context.Background(), cl), errs.BadRequest, tc.errNm, tc.msg)
		})
	}
}
