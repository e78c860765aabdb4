package kubetest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what the API server's RequestInfoFactory makes of a
// request, reduced to what authorization here needs.
type requestInfo struct {
	isResource  bool
	verb        string
	path        string
	apiGroup    string
	apiVersion  string
	namespace   string
	resource    string
	subresource string
	name        string
}

// parseRequestInfo follows k8s.io/apiserver/pkg/endpoints/request: paths
// under /api/<version>/ and /apis/<group>/<version>/ name resources, the
// rest are non-resource URLs whose verb is the lower-cased method. Watch,
// proxy and the namespace subresources are not modelled.
func parseRequestInfo(r *http.Request) requestInfo {
	ri := requestInfo{path: r.URL.Path, verb: strings.ToLower(r.Method)}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.apiVersion, rest = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.apiGroup, ri.apiVersion, rest = parts[1], parts[2], parts[3:]
	default:
		return requestInfo{path: r.URL.Path, verb: strings.ToLower(r.Method)}
	}
	ri.isResource = true
	if rest[0] == "namespaces" && len(rest) > 1 {
		ri.namespace = rest[1]
		if len(rest) > 2 {
			rest = rest[2:]
		}
	}
	switch {
	case len(rest) >= 3:
		ri.subresource = rest[2]
		fallthrough
	case len(rest) >= 2:
		ri.name = rest[1]
		fallthrough
	default:
		ri.resource = rest[0]
	}
	switch r.Method {
	case http.MethodPost:
		ri.verb = "create"
	case http.MethodGet, http.MethodHead:
		ri.verb = "get"
		if ri.name == "" {
			ri.verb = "list"
		}
	case http.MethodPut:
		ri.verb = "update"
	case http.MethodPatch:
		ri.verb = "patch"
	case http.MethodDelete:
		ri.verb = "delete"
		if ri.name == "" {
			ri.verb = "deletecollection"
		}
	}
	return ri
}

func (ri requestInfo) isTokenReviews() bool {
	return ri.isResource && ri.apiGroup == "authentication.k8s.io" && ri.apiVersion == "v1" &&
		ri.namespace == "" && ri.resource == "tokenreviews" && ri.name == ""
}

// authorize is the default RBAC policy, cut down to what this server
// serves:
//   - system:masters may do anything;
//   - system:auth-delegator (bound with GrantAuthDelegator) may create
//     tokenreviews and subjectaccessreviews;
//   - system:public-info-viewer lets everyone get /version, /healthz,
//     /livez and /readyz; system:discovery lets the authenticated get /api
//     and /apis;
//   - system:service-account-issuer-discovery lets service accounts
//     (unless WithoutIssuerDiscoveryBinding) and, with
//     WithPublicIssuerDiscovery, everyone read the discovery documents;
//   - a ClusterRole bound with GrantRead lets a service account get
//     namespaces or service accounts (nothing else: no list, no watch).
func (c *Cluster) authorize(u userInfo, ri requestInfo) bool {
	if slices.Contains(u.Groups, groupMasters) {
		return true
	}
	if ri.isResource && ri.verb == "get" && ri.apiGroup == "" && ri.name != "" && ri.subresource == "" {
		return c.mayRead(u, ri.resource)
	}
	if ri.isResource {
		if ri.verb != "create" || ri.namespace != "" || ri.name != "" {
			return false
		}
		delegated := (ri.apiGroup == "authentication.k8s.io" && ri.resource == "tokenreviews") ||
			(ri.apiGroup == "authorization.k8s.io" && ri.resource == "subjectaccessreviews")
		return delegated && c.isAuthDelegator(u)
	}
	if ri.verb != "get" {
		return false
	}
	switch {
	case matchesPath(ri.path, "/version", "/healthz", "/livez", "/readyz"):
		return true
	case matchesPath(ri.path, "/api", "/apis"):
		return slices.Contains(u.Groups, groupAuthenticated)
	case isDiscoveryPath(ri.path):
		return c.publicDiscovery || (!c.noDiscoveryRBAC && slices.Contains(u.Groups, groupServiceAccounts))
	}
	return false
}

// matchesPath reports whether path is one of roots, or under one of them.
func matchesPath(path string, roots ...string) bool {
	for _, root := range roots {
		if path == root || strings.HasPrefix(path, root+"/") {
			return true
		}
	}
	return false
}

// mayRead reports whether u is a service account GrantRead allowed to get
// resource.
func (c *Cluster) mayRead(u userInfo, resource string) bool {
	ns, name, ok := splitServiceAccountUsername(u.Name)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.readers[resource][objKey{ns, name}]
}

func (c *Cluster) isAuthDelegator(u userInfo) bool {
	ns, name, ok := splitServiceAccountUsername(u.Name)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.authDelegators[objKey{ns, name}]
}

func splitServiceAccountUsername(username string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// forbidden is the 403 the authorization filter writes
// (responsewriters.Forbidden with RBAC's empty reason).
func forbidden(u userInfo, ri requestInfo) *apierrors.StatusError {
	if !ri.isResource {
		return apierrors.NewForbidden(schema.GroupResource{}, "",
			fmt.Errorf("User %q cannot %s path %q", u.Name, ri.verb, ri.path))
	}
	resource := ri.resource
	if ri.subresource != "" {
		resource += "/" + ri.subresource
	}
	scope := "at the cluster scope"
	if ri.namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", ri.namespace)
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: ri.apiGroup, Resource: ri.resource}, ri.name,
		fmt.Errorf("User %q cannot %s resource %q in API group %q %s", u.Name, ri.verb, resource, ri.apiGroup, scope))
}
