package kubeauth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Problem names what a connection check found wrong: a stable word a
// client can branch on; the result's Message says it in full with the fix.
type Problem string

// The problems a check reports.
const (
	ProblemHostNotFound        Problem = "host-not-found"        // DNS: check kubernetesHost
	ProblemUnreachable         Problem = "unreachable"           // connection refused or failed
	ProblemTimeout             Problem = "timeout"               // no answer within --kube-timeout
	ProblemTLS                 Problem = "tls-untrusted"         // certificate not verified by caCert, or not TLS
	ProblemUnsafeAddress       Problem = "unsafe-address"        // unverified TLS to a metadata address
	ProblemReviewerRejected    Problem = "reviewer-rejected"     // 401: reviewer JWT invalid or expired
	ProblemReviewerForbidden   Problem = "reviewer-forbidden"    // 403: no system:auth-delegator (local: issuer discovery)
	ProblemGatewayUnknown      Problem = "gateway-unknown"       // gatewayId / gatewayPoolId names nothing
	ProblemGatewayNotConnected Problem = "gateway-not-connected" // no gateway (of the pool) connected
	ProblemGateway             Problem = "gateway-failed"        // lost, timed out, relay refused, upstream failed
	ProblemGatewaysDisabled    Problem = "gateways-disabled"     // this server runs without gateways
	ProblemAPIServer           Problem = "api-server"            // 5xx, 429, not an API server's answer
)

// CheckResult is the outcome of a connection check. A failed check is a
// result (OK false), not an error: the configuration exists and the
// caller asked what is wrong with it.
type CheckResult struct {
	OK   bool
	Mode ReviewMode
	// Host is the API server as configured ("" in gateway mode).
	Host string
	// Gateway and Pool are the gateway or pool the calls went through.
	Gateway, Pool string
	// Checked says what was tried.
	Checked string
	// Problem is "" when OK.
	Problem Problem
	// Message says what worked (OK) or what failed and how to fix it.
	Message string
	// Warning is set when OK says less than a login needs (no reviewer
	// JWT: whether logins may review is only known at login).
	Warning   string
	CheckedAt time.Time
}

// Check tests an identity's stored Kubernetes Auth configuration against
// its cluster, as Probe does on attach, and says what worked or what to
// fix. It changes nothing; it is audited (auth-method.check, no secret).
// Errors are only for the request itself: not an admin, unknown
// identity, no Kubernetes Auth attached, an unreadable store.
func (s *Service) Check(ctx context.Context, p identity.Principal, identityID string) (CheckResult, error) {
	if err := p.RequireAdmin("testing the connection of Kubernetes Auth"); err != nil {
		return CheckResult{}, err
	}
	m, cfg, err := s.load(ctx, identityID)
	if err != nil {
		return CheckResult{}, err
	}
	if cfg.ReviewerJWT, err = s.openReviewer(m); err != nil {
		return CheckResult{}, err
	}
	res, err := s.check(ctx, cfg.Cluster)
	if err != nil {
		return CheckResult{}, err
	}
	ev := store.AuditEvent{Type: audit.TypeAuthMethodCheck, Success: res.OK, ActorID: p.ActorID(), IdentityID: identityID,
		AuthMethod: string(store.AuthMethodKubernetes), Details: map[string]string{
			"authMethodId":    m.ID,
			"kubernetesHost":  cfg.Host,
			"tokenReviewMode": string(cfg.ReviewMode),
			"problem":         string(res.Problem),
		}}
	if !res.OK {
		ev.Reason = res.Message
	}
	s.audit.Record(ctx, ev)
	return res, nil
}

// check runs the calls a login will need against c.
func (s *Service) check(ctx context.Context, c Cluster) (CheckResult, error) {
	res := CheckResult{Mode: c.ReviewMode, Host: c.Host, Gateway: c.GatewayID, Pool: c.GatewayPoolID, CheckedAt: s.now()}
	var err error
	switch {
	case c.ReviewMode == ReviewGateway:
		res.Host = ""
		res.Checked = "the gateway posted a TokenReview of a test token to its cluster's API server with its own service-account token"
		_, err = s.gatewayReview(ctx, c, reviewRequest{token: probeToken})
	case c.ReviewMode == ReviewLocal && len(c.PEMKeys) > 0:
		res.Checked = "nothing to reach: local mode with fixed public keys"
	case c.ReviewMode == ReviewLocal:
		res.Checked = "read the cluster's service-account issuer discovery document and signing keys"
		_, err = s.api.fetchIssuerKeys(ctx, c, keysRequest{bearer: c.ReviewerJWT, withIssuer: true})
	case c.ReviewerJWT == "":
		res.Checked = "reached the API server over TLS with a test bearer (no token reviewer JWT is set)"
		_, err = s.api.review(ctx, c, reviewRequest{token: probeToken, bearer: probeToken})
		if errors.Is(err, ErrTokenReview) {
			// 401 or 403 to the test bearer: the API server answered,
			// over a verified connection when verification is on.
			err = nil
		}
		if err == nil {
			res.Warning = "no token reviewer JWT is set: each login's own JWT is the bearer of its TokenReview, so every workload's service account needs the system:auth-delegator ClusterRole; that is only known at login"
		}
	default:
		res.Checked = "posted a TokenReview of a test token with the token reviewer JWT"
		_, err = s.api.review(ctx, c, reviewRequest{token: probeToken, bearer: c.ReviewerJWT})
	}
	if err == nil {
		res.OK = true
		res.Message = okMessage(c)
		return res, nil
	}
	if ctx.Err() != nil {
		return CheckResult{}, err // the caller went away
	}
	res.Problem = problemOf(err)
	if res.Problem == "" {
		return CheckResult{}, err // not the cluster's doing (an Internal error)
	}
	res.Message = errs.As(err).Message
	return res, nil
}

func okMessage(c Cluster) string {
	switch {
	case c.ReviewMode == ReviewGateway:
		return "the gateway is connected and its service account may create TokenReviews"
	case c.ReviewMode == ReviewLocal && len(c.PEMKeys) > 0:
		return "local mode verifies logins with the configured public keys"
	case c.ReviewMode == ReviewLocal:
		return "the API server was reached and trusted, and the cluster's signing keys were read"
	case c.ReviewerJWT == "":
		return "the API server was reached and trusted"
	}
	return "the API server was reached and trusted, and the token reviewer JWT may create TokenReviews (system:auth-delegator)"
}

// problemOf classifies a check's failure; "" for one that is not the
// cluster's, the gateway's or the configuration's.
func problemOf(err error) Problem {
	e := errs.As(err)
	switch {
	case errors.Is(err, ErrMetadataAddress):
		return ProblemUnsafeAddress
	case errors.Is(err, ErrBearerForbidden):
		return ProblemReviewerForbidden
	case errors.Is(err, ErrTokenReview), errors.Is(err, ErrIssuerDiscovery), errors.Is(err, gateway.ErrReviewerRejected):
		return ProblemReviewerRejected
	case errors.Is(err, ErrHostNotFound):
		return ProblemHostNotFound
	case errors.Is(err, ErrConnectionRefused):
		return ProblemUnreachable
	case errors.Is(err, ErrConnectionTimeout):
		return ProblemTimeout
	case errors.Is(err, ErrCertificate):
		return ProblemTLS
	case errors.Is(err, gateway.ErrNotFound):
		return ProblemGatewayUnknown
	case errors.Is(err, gateway.ErrNotConnected):
		return ProblemGatewayNotConnected
	case errors.Is(err, gateway.ErrConnectionLost), errors.Is(err, gateway.ErrTimeout),
		errors.Is(err, gateway.ErrRelayRefused), errors.Is(err, gateway.ErrUpstream):
		return ProblemGateway
	case e.Code == errs.NotImplemented:
		return ProblemGatewaysDisabled
	case errors.Is(err, ErrAPI):
		return ProblemAPIServer
	case e.Code == errs.Internal:
		return ""
	}
	return ProblemUnreachable
}
