package kubeauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// Reads of core objects that Vault's Kubernetes auth method makes at
// login: a namespace's labels (bound_service_account_namespace_selector)
// and a service account's annotations (use_annotations_as_alias_metadata).
// Both need RBAC beyond system:auth-delegator: get on namespaces, get on
// serviceaccounts. Errors name what to fix, as the TokenReview's do.

// ErrObjectRead: a read of a namespace or service account was refused or
// found nothing.
var ErrObjectRead = errors.New("kubernetes: object read refused")

// objectRead is one GET of a core object.
type objectRead struct {
	path     string // e.g. /api/v1/namespaces/apps
	what     string // the object in messages: namespace "apps"
	resource string // the RBAC resource a 403 asks to grant get on
	kind     string // the kind the answer must be
	bearer   secret.Secret
	// bearerIsLoginJWT: no reviewer JWT is configured, so bearer is the
	// login JWT itself.
	bearerIsLoginJWT bool
}

// getObject makes read into v. A 401 or 403 is Unauthenticated naming
// the missing right; a 404 is Unauthenticated (the object is gone); other
// failures are BadGateway.
func (ac *apiClient) getObject(ctx context.Context, c Cluster, read objectRead, v any) error {
	req := apiRequest{method: http.MethodGet, path: read.path, accept: "application/json", bearer: read.bearer,
		bearerIsLoginJWT: read.bearerIsLoginJWT, what: "GET " + read.path}
	ans, err := ac.call(ctx, c, req)
	if err != nil {
		return err
	}
	switch {
	case ans.code == http.StatusUnauthorized:
		return bearerRejected(req, ErrObjectRead)
	case ans.code == http.StatusForbidden:
		return errs.Because(errs.Unauthenticated, ErrObjectRead,
			"%s may not read %s: the API server answered HTTP 403 to %s%s; grant it get on %s", bearerSubject(req), read.what, req.what, apiMessage(ans.body), read.resource)
	case ans.code == http.StatusNotFound:
		return errs.Because(errs.Unauthenticated, ErrObjectRead, "%s does not exist (HTTP 404 to %s)", read.what, req.what)
	case ans.code < 200 || ans.code > 299:
		return statusError(c, req, ans)
	}
	var meta struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(ans.body, &meta) != nil || meta.Kind != read.kind || json.Unmarshal(ans.body, v) != nil {
		return notTheAnswer(c, req, ans, "a "+read.kind)
	}
	return nil
}

// bearerSubject names who made a read in messages.
func bearerSubject(req apiRequest) string {
	if req.bearerIsLoginJWT {
		return "the login JWT's service account (no token reviewer JWT is configured)"
	}
	return "the token reviewer"
}

// namespaceLabels reads a namespace's labels with the reviewer JWT, which
// it needs, as Vault does.
func (ac *apiClient) namespaceLabels(ctx context.Context, c Cluster, namespace string) (map[string]string, error) {
	if c.ReviewerJWT == "" {
		return nil, errs.Because(errs.Unauthenticated, ErrObjectRead,
			"namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors")
	}
	var ns corev1.Namespace
	read := objectRead{path: "/api/v1/namespaces/" + url.PathEscape(namespace), what: "namespace " + quoteName(namespace),
		resource: "namespaces", kind: "Namespace", bearer: c.ReviewerJWT}
	if err := ac.getObject(ctx, c, read, &ns); err != nil {
		return nil, err
	}
	return ns.Labels, nil
}

// ServiceAccountAnnotations reads a service account's annotations from
// the cluster's API server, with the reviewer JWT or, when none is
// configured, jwt itself (as Vault does).
func (s *Service) ServiceAccountAnnotations(ctx context.Context, c Cluster, jwt JWT, namespace, name string) (map[string]string, error) {
	read := objectRead{path: "/api/v1/namespaces/" + url.PathEscape(namespace) + "/serviceaccounts/" + url.PathEscape(name),
		what: "service account " + quoteName(namespace+"/"+name), resource: "serviceaccounts", kind: "ServiceAccount", bearer: c.ReviewerJWT}
	if read.bearer == "" {
		read.bearer, read.bearerIsLoginJWT = jwt.Raw, true
	}
	var sa corev1.ServiceAccount
	if err := s.api.getObject(ctx, c, read, &sa); err != nil {
		return nil, err
	}
	if sa.Annotations == nil {
		return map[string]string{}, nil
	}
	return sa.Annotations, nil
}

func quoteName(s string) string { return `"` + clip(s, 200) + `"` }
