package kubetest

import (
	"maps"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// The core API objects this server serves: GET /api/v1/namespaces/{name}
// and GET /api/v1/namespaces/{namespace}/serviceaccounts/{name}, which
// Vault's Kubernetes auth method reads for its namespace selector and its
// alias metadata annotations. Getting them needs get on the resource
// (GrantRead; system:masters may anyway); an absent object is the 404
// Status kube-apiserver writes ("namespaces \"x\" not found").

// isNamespace: GET /api/v1/namespaces/{name}, whose request info names
// the namespace twice (as namespace and name), as the real one does.
func (ri requestInfo) isNamespace() bool {
	return ri.isResource && ri.apiGroup == "" && ri.apiVersion == "v1" && ri.resource == "namespaces" &&
		ri.name != "" && ri.namespace == ri.name && ri.subresource == ""
}

// isServiceAccount: GET /api/v1/namespaces/{namespace}/serviceaccounts/{name}.
func (ri requestInfo) isServiceAccount() bool {
	return ri.isResource && ri.apiGroup == "" && ri.apiVersion == "v1" && ri.resource == "serviceaccounts" &&
		ri.namespace != "" && ri.name != "" && ri.subresource == ""
}

func (c *Cluster) namespaceResponse(name string) *response {
	ns, ok := c.GetNamespace(name)
	if !ok {
		return statusResponse(apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name))
	}
	obj := corev1.Namespace{
		TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ns.Name, UID: types.UID(ns.UID), ResourceVersion: strconv.FormatUint(ns.rv, 10),
			CreationTimestamp: metav1.NewTime(ns.created.UTC().Truncate(time.Second)), Labels: ns.Labels,
		},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	return &response{code: http.StatusOK, header: jsonHeader(), obj: &obj}
}

func (c *Cluster) serviceAccountResponse(namespace, name string) *response {
	sa, ok := c.ServiceAccount(namespace, name)
	if !ok {
		return statusResponse(apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name))
	}
	obj := corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: sa.Name, Namespace: sa.Namespace, UID: types.UID(sa.UID), ResourceVersion: strconv.FormatUint(sa.rv, 10),
			CreationTimestamp: metav1.NewTime(sa.created.UTC().Truncate(time.Second)), Annotations: maps.Clone(sa.Annotations),
		},
	}
	return &response{code: http.StatusOK, header: jsonHeader(), obj: &obj}
}
