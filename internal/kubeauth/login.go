package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// Keys of status.user.extra that kube-apiserver sets for pod-bound tokens.
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
)

// Token metadata keys of a Kubernetes login (the names Vault uses).
const (
	MetaNamespace = "service_account_namespace"
	MetaName      = "service_account_name"
	MetaUID       = "service_account_uid"
	MetaPodName   = "pod_name"
	MetaPodUID    = "pod_uid"
)

// Causes of a refused login that a front end may word in its own API's
// terms (errors.Is works on the errors Login returns).
var (
	ErrNamespaceNotAllowed = errors.New("namespace not authorized")
	ErrNameNotAllowed      = errors.New("service account name not authorized")
	ErrAudienceMismatch    = errors.New("audience not authorized")
	// ErrIssuerMismatch: the JWT's iss is not the configured issuer.
	ErrIssuerMismatch = errors.New("invalid issuer (iss) claim")
)

// NotAllowedError is a reviewed account (or token) that the rules refuse:
// Kind is one of the Err*NotAllowed/ErrAudienceMismatch causes, Value what
// was refused (a namespace, a name, audiences).
type NotAllowedError struct {
	Kind  error
	Value string
}

func (e *NotAllowedError) Error() string { return e.Kind.Error() + ": " + e.Value }
func (e *NotAllowedError) Unwrap() error { return e.Kind }

// ServiceAccount is who a login token belongs to, as the API server
// reviewed it.
type ServiceAccount struct {
	Namespace string
	Name      string
	UID       string
	// PodName and PodUID are set for pod-bound (projected) tokens.
	PodName string
	PodUID  string
	// Audiences are status.audiences: those of the requested audiences the
	// token is valid for.
	Audiences []string
}

// Metadata is what a token issued to the account records about it.
func (sa ServiceAccount) Metadata() map[string]string {
	md := map[string]string{MetaNamespace: sa.Namespace, MetaName: sa.Name, MetaUID: sa.UID}
	if sa.PodName != "" {
		md[MetaPodName] = sa.PodName
	}
	if sa.PodUID != "" {
		md[MetaPodUID] = sa.PodUID
	}
	return md
}

// Login is the login pipeline both front ends share. It asks the cluster
// who jwt belongs to and judges the answer against the rules; it issues
// nothing. In local mode the JWT is verified with the cluster's signing
// keys instead and no TokenReview is made (loginLocally). Otherwise, in
// order:
//
//  1. in gateway mode the gateway makes the TokenReview (step 3) with its
//     own service-account token; with gatewayId or gatewayPoolId in api
//     mode it only relays TCP (gateway.go);
//  2. with PEMKeys, the JWT's signature, times (60 s leeway), issuer and
//     audience are checked locally — an extra check, not a replacement;
//  3. TokenReview: spec.token = jwt, spec.audiences = the rules' audiences
//     (or the JWT's aud with AudiencesFromJWT), bearer = the reviewer JWT
//     or, when none is configured, jwt itself;
//  4. with an Issuer (and no PEMKeys, which checked it already), the
//     JWT's unverified iss must be it once the review has authenticated
//     the token, as Vault checks it;
//  5. the review is judged: status.error and status.authenticated, the
//     audiences, the username (system:serviceaccount:<ns>:<name>), then the
//     namespace and name against the rules. Only the reviewed identity is
//     judged, never the JWT's unverified claims; with PEMKeys the
//     (verified) claims must also name the reviewed account.
//
// Errors are domain errors whose Message says what went wrong:
// Unauthenticated for a token or reviewer that is not accepted,
// BadGateway when the API server cannot be reached or answers nonsense.
func (s *Service) Login(ctx context.Context, cfg Config, jwt JWT) (ServiceAccount, error) {
	if cfg.ReviewMode == ReviewLocal {
		return s.loginLocally(ctx, cfg, jwt)
	}
	var claimed *claimedAccount
	audiences := cfg.Audiences
	if len(audiences) == 0 && cfg.AudiencesFromJWT {
		audiences = jwt.Audiences
	}
	if len(cfg.PEMKeys) > 0 {
		c, err := verifyLocally(jwt, cfg.Cluster, audiences, s.now())
		if err != nil {
			return ServiceAccount{}, err
		}
		claimed = &c
	}
	req := reviewRequest{token: jwt.Raw, audiences: audiences, bearer: cfg.ReviewerJWT}
	if req.bearer == "" && cfg.ReviewMode != ReviewGateway {
		req.bearer, req.reviewerIsLoginJWT = jwt.Raw, true
	}
	status, err := s.reviewed(ctx, cfg.Cluster, req, jwt.Expiry)
	if err != nil {
		return ServiceAccount{}, err
	}
	if claimed == nil && cfg.Issuer != "" && status.Authenticated && status.Error == "" && jwt.Issuer != cfg.Issuer {
		// As Vault does (its claims are never verified without pem_keys):
		// iss read unverified, but only of a token the API server has
		// just authenticated.
		return ServiceAccount{}, issuerMismatch(jwt.Issuer, cfg.Issuer)
	}
	sa, err := judge(status, audiences)
	if err != nil {
		return ServiceAccount{}, err
	}
	if err := s.allow(ctx, cfg.Cluster, cfg.Rules, sa.Namespace, sa.Name); err != nil {
		return ServiceAccount{}, err
	}
	if claimed != nil && !claimed.matches(sa) {
		return ServiceAccount{}, denied("the JWT's claims name service account %s/%s (uid %s) but the API server reviewed it as %s/%s (uid %s)",
			claimed.Namespace, claimed.Name, claimed.UID, sa.Namespace, sa.Name, sa.UID)
	}
	return sa, nil
}

// reviewed asks the API server for a review, or answers from the review
// cache when it is on and holds one.
func (s *Service) reviewed(ctx context.Context, c Cluster, req reviewRequest, jwtExpiry time.Time) (authv1.TokenReviewStatus, error) {
	review := s.api.review
	if c.ReviewMode == ReviewGateway {
		review = s.gatewayReview // the gateway's own token is the bearer
	}
	if !s.cache.on() {
		return review(ctx, c, req)
	}
	key := reviewKey(c, req)
	if st, ok := s.cache.get(key, s.now()); ok {
		return st, nil
	}
	st, err := review(ctx, c, req)
	if err == nil {
		s.cache.put(key, st, jwtExpiry, s.now())
	}
	return st, err
}

// judge decides on a TokenReview's answer, as the Kubernetes API docs ask:
// an error or an unauthenticated status fails; when audiences were sent,
// status.audiences must hold one of them; the user must be a service
// account. Whether the rules allow its namespace and name is allow's.
func judge(st authv1.TokenReviewStatus, sent []string) (ServiceAccount, error) {
	switch {
	case st.Error != "":
		return ServiceAccount{}, errs.Because(errs.Unauthenticated, ErrTokenReview,
			"the Kubernetes API server did not authenticate the token: %s", clip(st.Error, 500))
	case !st.Authenticated:
		return ServiceAccount{}, errs.Because(errs.Unauthenticated, ErrTokenReview, "Kubernetes token not authenticated")
	}
	if len(sent) > 0 && !slices.ContainsFunc(st.Audiences, func(a string) bool { return slices.Contains(sent, a) }) {
		return ServiceAccount{}, deniedBy(&NotAllowedError{ErrAudienceMismatch, strings.Join(sent, ",")}, "Access denied: the token is not valid for the audience %q (the API server answered audiences %q)", strings.Join(sent, ","), st.Audiences)
	}
	ns, name, ok := splitServiceAccount(st.User.Username)
	if !ok {
		return ServiceAccount{}, errs.Because(errs.Unauthenticated, ErrUsername,
			"the token belongs to %q, not to a service account (system:serviceaccount:<namespace>:<name>); only service account tokens can log in", clip(st.User.Username, 200))
	}
	return ServiceAccount{
		Namespace: ns,
		Name:      name,
		UID:       st.User.UID,
		PodName:   firstExtra(st.User.Extra, extraPodName),
		PodUID:    firstExtra(st.User.Extra, extraPodUID),
		Audiences: slices.Clone(st.Audiences),
	}, nil
}

// allow judges a service account's namespace and name, reviewed or
// locally verified, against the rules: the patterns alone, or with a
// namespace selector, the name first, then the namespace by the patterns
// or else by its labels, read from c's API server (only then, and only
// for an account the API server or the keys have vouched for).
func (s *Service) allow(ctx context.Context, c Cluster, r Rules, ns, name string) error {
	if r.NamespaceSelector == nil {
		return r.allow(ns, name)
	}
	if !r.Names.Allows(name) {
		return nameNotAllowed(name)
	}
	if len(r.Namespaces) > 0 && r.Namespaces.Allows(ns) {
		return nil
	}
	lbls, err := s.api.namespaceLabels(ctx, c, ns)
	if err != nil {
		e := errs.As(err)
		return &errs.Error{Code: e.Code, Err: err,
			Message: fmt.Sprintf("namespace not authorized: %q is not an allowed namespace, and its labels could not be read to match the namespace selector: %s", ns, e.Message)}
	}
	if !r.NamespaceSelector.Matches(labels.Set(lbls)) {
		return deniedBy(&NotAllowedError{ErrNamespaceNotAllowed, ns}, "Access denied: K8s namespace %q is not allowed, and its labels do not match the namespace selector %q", ns, r.NamespaceSelector.String())
	}
	return nil
}

// allow judges a namespace and name by the patterns alone.
func (r Rules) allow(ns, name string) error {
	if !r.Namespaces.Allows(ns) {
		return deniedBy(&NotAllowedError{ErrNamespaceNotAllowed, ns}, "Access denied: K8s namespace %q is not allowed by allowedNamespaces", ns)
	}
	if !r.Names.Allows(name) {
		return nameNotAllowed(name)
	}
	return nil
}

func nameNotAllowed(name string) error {
	return deniedBy(&NotAllowedError{ErrNameNotAllowed, name}, "Access denied: K8s service account name %q is not allowed by allowedNames", name)
}

// issuerMismatch refuses a JWT whose iss is not the configured issuer.
func issuerMismatch(got, want string) error {
	return deniedBy(ErrIssuerMismatch, "invalid issuer (iss) claim: the jwt's iss %q is not the configured issuer %q", clip(got, 200), clip(want, 200))
}

func denied(format string, args ...any) error {
	return errs.New(errs.Unauthenticated, format, args...)
}

func deniedBy(cause error, format string, args ...any) error {
	e := errs.New(errs.Unauthenticated, format, args...)
	e.Err = cause
	return e
}

// splitServiceAccount splits system:serviceaccount:<ns>:<name>.
func splitServiceAccount(username string) (ns, name string, ok bool) {
	parts := strings.Split(username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[2], parts[3], true
}

func firstExtra(extra map[string]authv1.ExtraValue, key string) string {
	if v := extra[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
