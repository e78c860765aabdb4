package kubeauth

import (
	"context"
	"encoding/json"
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

// ErrNameObjectRead names a failed read of a namespace or service account.
const ErrNameObjectRead = "KubernetesObjectReadError"

// getObject reads GET path into v with bearer. A 401 or 403 is
// Unauthenticated naming the missing right; a 404 is Unauthenticated
// (the object is gone); other failures are BadGateway.
func (ac *apiClient) getObject(ctx context.Context, c Cluster, path, what, resource string, bearer secret.Secret, bearerIsLoginJWT bool, v any, kind string) error {
	req := apiRequest{method: http.MethodGet, path: path, accept: "application/json", bearer: bearer, bearerIsLoginJWT: bearerIsLoginJWT, what: "GET " + path}
	ans, err := ac.call(ctx, c, req)
	if err != nil {
		return err
	}
	switch {
	case ans.code == http.StatusUnauthorized:
		return bearerRejected(req, ErrNameObjectRead)
	case ans.code == http.StatusForbidden:
		return errs.Named(errs.Unauthenticated, ErrNameObjectRead,
			"%s may not read %s: the API server answered HTTP 403 to %s%s; grant it get on %s", bearerSubject(req), what, req.what, apiMessage(ans.body), resource)
	case ans.code == http.StatusNotFound:
		return errs.Named(errs.Unauthenticated, ErrNameObjectRead, "%s does not exist (HTTP 404 to %s)", what, req.what)
	case ans.code < 200 || ans.code > 299:
		return statusError(c, req, ans)
	}
	var meta struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(ans.body, &meta) != nil || meta.Kind != kind || json.Unmarshal(ans.body, v) != nil {
		return notTheAnswer(c, req, ans, "a "+kind)
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
		return nil, errs.Named(errs.Unauthenticated, ErrNameObjectRead,
			"namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors")
	}
	var ns corev1.Namespace
	err := ac.getObject(ctx, c, "/api/v1/namespaces/"+url.PathEscape(namespace), "namespace "+quoteName(namespace), "namespaces",
		c.ReviewerJWT, false, &ns, "Namespace")
	if err != nil {
		return nil, err
	}
	return ns.Labels, nil
}

// ServiceAccountAnnotations reads a service account's annotations from
// the cluster's API server, with the reviewer JWT or, when none is
// configured, jwt itself (as Vault does).
func (s *Service) ServiceAccountAnnotations(ctx context.Context, c Cluster, jwt JWT, namespace, name string) (map[string]string, error) {
	bearer, isLogin := c.ReviewerJWT, false
	if bearer == "" {
		bearer, isLogin = jwt.Raw, true
	}
	var sa corev1.ServiceAccount
	err := s.api.getObject(ctx, c, "/api/v1/namespaces/"+url.PathEscape(namespace)+"/serviceaccounts/"+url.PathEscape(name),
		"service account "+quoteName(namespace+"/"+name), "serviceaccounts", bearer, isLogin, &sa, "ServiceAccount")
	if err != nil {
		return nil, err
	}
	if sa.Annotations == nil {
		return map[string]string{}, nil
	}
	return sa.Annotations, nil
}

func quoteName(s string) string { return `"` + clip(s, 200) + `"` }
