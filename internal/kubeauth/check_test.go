package kubeauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// TestCheckResults: a connection check answers a result naming what
// worked, or the problem and its fix; it is never an error for what the
// cluster or the configuration got wrong.
func TestCheckResults(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(2 * time.Second)
	cases := []struct {
		name    string
		modify  func(*Cluster)
		problem Problem
		msg     string // in Message
		warning bool
	}{
		{"reachable and authorized", func(*Cluster) {}, "", "may create TokenReviews", false},
		{"reviewer without auth-delegator", func(cl *Cluster) { cl.ReviewerJWT = secret.Secret(c.Token("kube-system", "plain")) },
			ProblemReviewerForbidden, "bind that service account to system:auth-delegator", false},
		{"reviewer expired", func(cl *Cluster) {
			cl.ReviewerJWT = secret.Secret(c.Token("kube-system", "r", kubetest.ExpiresIn(-time.Hour)))
		}, ProblemReviewerRejected, "token reviewer JWT is invalid or expired", false},
		{"bad CA", func(cl *Cluster) { cl.CACert = kubetest.New(t).CAPEM() }, ProblemTLS, "set caCert to the CA", false},
		{"bad CA without reviewer", func(cl *Cluster) { cl.CACert, cl.ReviewerJWT = kubetest.New(t).CAPEM(), "" }, ProblemTLS, "TLS certificate verification", false},
		{"unreachable", func(cl *Cluster) { cl.Host = refusedHost(t) }, ProblemUnreachable, "was refused", false},
		{"host not found", func(cl *Cluster) { cl.Host = "https://gatehouse-check.invalid" }, ProblemHostNotFound, "was not found", false},
		{"no reviewer", func(cl *Cluster) { cl.ReviewerJWT = "" }, "", "reached and trusted", true},
		{"gateway mode without gateways", func(cl *Cluster) { cl.ReviewMode, cl.Host, cl.GatewayID = ReviewGateway, "", "g1" },
			ProblemGatewaysDisabled, "gateways are not enabled", false},
		{"relay without gateways", func(cl *Cluster) { cl.GatewayID = "g1" }, ProblemGatewaysDisabled, "gateways are not enabled", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := clusterOf(c)
			tc.modify(&cl)
			res, err := s.check(context.Background(), cl)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if res.OK != (tc.problem == "") || res.Problem != tc.problem || !strings.Contains(res.Message, tc.msg) ||
				(res.Warning != "") != tc.warning || res.Checked == "" || res.Mode != cl.ReviewMode {
				t.Errorf("result = %+v\nwant problem %q, message containing %q, warning %v", res, tc.problem, tc.msg, tc.warning)
			}
			if jwt := cl.ReviewerJWT.Reveal(); jwt != "" && strings.Contains(res.Message+res.Warning+res.Checked, jwt) {
				t.Error("the result holds the reviewer JWT")
			}
		})
	}
}

// TestCheckAPIServerFaults: an API server that fails, or answers slower
// than the timeout, is a named problem.
func TestCheckAPIServerFaults(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	for _, tc := range []struct {
		name    string
		fault   func()
		timeout time.Duration
		problem Problem
		msg     string
	}{
		{"500", func() { c.FailNext(kubetest.FaultInternalError, 1) }, 2 * time.Second, ProblemAPIServer, "HTTP 500"},
		{"not an API server", func() { c.FailNext(kubetest.FaultGarbage, 1) }, 2 * time.Second, ProblemAPIServer, "not a TokenReview"},
		{"slow", func() { c.SetLatency(5 * time.Second) }, 100 * time.Millisecond, ProblemTimeout, "did not answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault()
			t.Cleanup(c.ClearFaults)
			res, err := testService(tc.timeout).check(context.Background(), clusterOf(c))
			if err != nil || res.OK || res.Problem != tc.problem || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("result = %+v, %v; want %q containing %q", res, err, tc.problem, tc.msg)
			}
		})
	}
}

// TestCheckLocal: local mode reads the signing keys; a reviewer without
// issuer discovery is reviewer-forbidden.
func TestCheckLocal(t *testing.T) {
	t.Parallel()
	f := newLocalFixture(t, 2*time.Second)
	res, err := f.s.check(context.Background(), f.cluster())
	if err != nil || !res.OK || !strings.Contains(res.Message, "signing keys were read") || f.reads("/openid/v1/jwks") != 1 {
		t.Fatalf("local check = %+v, %v; %d key reads", res, err, f.reads("/openid/v1/jwks"))
	}
	unbound := kubetest.New(t, kubetest.WithoutIssuerDiscoveryBinding())
	cl := f.cluster()
	cl.Host, cl.CACert, cl.ReviewerJWT = unbound.URL(), unbound.CAPEM(), secret.Secret(unbound.ReviewerToken("kube-system", "r"))
	res, err = f.s.check(context.Background(), cl)
	if err != nil || res.OK || res.Problem != ProblemReviewerForbidden || !strings.Contains(res.Message, "system:service-account-issuer-discovery") {
		t.Errorf("local check without discovery = %+v, %v", res, err)
	}
}

// TestCheckInternalIsError: what is not the cluster's doing stays an
// error (a verified connection without a CA cannot be built).
func TestCheckInternalIsError(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	cl := clusterOf(c)
	cl.CACert = ""
	if _, err := testService(time.Second).check(context.Background(), cl); errs.CodeOf(err) != errs.Internal {
		t.Errorf("err = %v, want Internal", err)
	}
}
