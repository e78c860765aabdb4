package kubetest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
)

// ServiceAccount is a service account of the cluster.
type ServiceAccount struct {
	Namespace string
	Name      string
	UID       string
	// Annotations are metadata.annotations (AnnotateServiceAccount).
	Annotations map[string]string
	created     time.Time
	rv          uint64 // metadata.resourceVersion
}

// Namespace is a namespace of the cluster.
type Namespace struct {
	Name string
	UID  string
	// Labels are metadata.labels; the API server always sets
	// kubernetes.io/metadata.name to the name (and keeps it so).
	Labels  map[string]string
	created time.Time
	rv      uint64 // metadata.resourceVersion
}

// labelMetadataName is the label kube-apiserver puts on every namespace
// (since 1.21): its own name.
const labelMetadataName = "kubernetes.io/metadata.name"

// initialNamespaces exist in every new cluster, as in a real one.
var initialNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Resources of the core API group a service account can be granted to
// read (GrantRead).
const (
	ResourceNamespaces      = "namespaces"
	ResourceServiceAccounts = "serviceaccounts"
)

// Username is the name the API server gives the account's tokens.
func (sa ServiceAccount) Username() string { return serviceAccountUsername(sa.Namespace, sa.Name) }

// Pod is a pod a token can be bound to. A pod created by CreatePod runs on
// the cluster's one node, which a pod-bound token names as real ones do.
type Pod struct {
	Namespace      string
	Name           string
	UID            string
	ServiceAccount string
	NodeName       string
	NodeUID        string
}

type nodeRef struct {
	Name string
	UID  string
}

type objKey struct{ namespace, name string }

// secret is a legacy service-account-token Secret.
type secret struct {
	uid            string
	serviceAccount string
	token          string
}

// objects is the cluster's stored state; Cluster.mu guards it.
type objects struct {
	serviceAccounts map[objKey]ServiceAccount
	pods            map[objKey]Pod
	secrets         map[objKey]secret
	authDelegators  map[objKey]bool // ClusterRoleBinding subjects of system:auth-delegator
	namespaces      map[string]Namespace
	// readers are ClusterRoleBinding subjects of a ClusterRole allowing
	// get on a core resource (GrantRead), by resource.
	readers map[string]map[objKey]bool
	// revision is the last resourceVersion given out (etcd's revision):
	// every write of a namespace or service account takes the next one.
	revision uint64
}

func (o *objects) nextRevision() uint64 { o.revision++; return o.revision }

func newObjects(now time.Time) objects {
	o := objects{
		serviceAccounts: map[objKey]ServiceAccount{},
		pods:            map[objKey]Pod{},
		secrets:         map[objKey]secret{},
		authDelegators:  map[objKey]bool{},
		namespaces:      map[string]Namespace{},
		readers:         map[string]map[objKey]bool{},
	}
	for _, ns := range initialNamespaces {
		o.ensureNamespace(ns, now)
	}
	return o
}

// ensureNamespace creates a namespace unless it exists.
func (o *objects) ensureNamespace(name string, now time.Time) Namespace {
	if ns, ok := o.namespaces[name]; ok {
		return ns
	}
	ns := Namespace{Name: name, UID: uuid.NewString(), Labels: map[string]string{labelMetadataName: name}, created: now, rv: o.nextRevision()}
	o.namespaces[name] = ns
	return ns
}

// CreateNamespace creates a namespace with labels (and
// kubernetes.io/metadata.name), or returns the existing one unchanged.
// Creating a service account creates its namespace too.
func (c *Cluster) CreateNamespace(name string, labels map[string]string) Namespace {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ns, ok := c.state.namespaces[name]; ok {
		return ns.clone()
	}
	ns := c.state.ensureNamespace(name, c.now())
	for k, v := range labels {
		if k != labelMetadataName {
			ns.Labels[k] = v
		}
	}
	return ns.clone()
}

// LabelNamespace replaces a namespace's labels (creating it if needed),
// as kubectl label --overwrite with every old label removed would; the
// API server keeps kubernetes.io/metadata.name.
func (c *Cluster) LabelNamespace(name string, labels map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.state.ensureNamespace(name, c.now())
	ns.Labels = map[string]string{labelMetadataName: name}
	for k, v := range labels {
		if k != labelMetadataName {
			ns.Labels[k] = v
		}
	}
	ns.rv = c.state.nextRevision()
	c.state.namespaces[name] = ns
}

// GetNamespace returns a namespace, if it exists.
func (c *Cluster) GetNamespace(name string) (Namespace, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns, ok := c.state.namespaces[name]
	return ns.clone(), ok
}

func (ns Namespace) clone() Namespace {
	ns.Labels = maps.Clone(ns.Labels)
	return ns
}

// AnnotateServiceAccount replaces a service account's annotations
// (creating the account if needed).
func (c *Cluster) AnnotateServiceAccount(namespace, name string, annotations map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa := c.ensureServiceAccountLocked(namespace, name)
	sa.Annotations = maps.Clone(annotations)
	sa.rv = c.state.nextRevision()
	c.state.serviceAccounts[objKey{namespace, name}] = sa
}

// GrantRead binds the service account to a ClusterRole allowing get on
// resource (ResourceNamespaces or ResourceServiceAccounts) in every
// namespace, as an operator does for Vault's namespace selector and
// annotations.
func (c *Cluster) GrantRead(namespace, name, resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.readers[resource] == nil {
		c.state.readers[resource] = map[objKey]bool{}
	}
	c.state.readers[resource][objKey{namespace, name}] = true
}

// RevokeRead removes the binding GrantRead made.
func (c *Cluster) RevokeRead(namespace, name, resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state.readers[resource], objKey{namespace, name})
}

// CreateServiceAccount creates a service account with a new random UID, or
// returns the existing one unchanged.
func (c *Cluster) CreateServiceAccount(namespace, name string) ServiceAccount {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa := c.ensureServiceAccountLocked(namespace, name)
	sa.Annotations = maps.Clone(sa.Annotations)
	return sa
}

func (c *Cluster) ensureServiceAccountLocked(namespace, name string) ServiceAccount {
	k := objKey{namespace, name}
	if sa, ok := c.state.serviceAccounts[k]; ok {
		return sa
	}
	now := c.now()
	c.state.ensureNamespace(namespace, now)
	sa := ServiceAccount{Namespace: namespace, Name: name, UID: uuid.NewString(), created: now, rv: c.state.nextRevision()}
	c.state.serviceAccounts[k] = sa
	return sa
}

// ServiceAccount returns a service account, if it exists.
func (c *Cluster) ServiceAccount(namespace, name string) (ServiceAccount, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa, ok := c.state.serviceAccounts[objKey{namespace, name}]
	sa.Annotations = maps.Clone(sa.Annotations)
	return sa, ok
}

// DeleteServiceAccount deletes a service account and, as the token
// controller does, its legacy token Secrets. Its tokens then fail review;
// creating it again gives a new UID, so they keep failing. Role bindings
// name the account, not its UID, so they survive.
func (c *Cluster) DeleteServiceAccount(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state.serviceAccounts, objKey{namespace, name})
	for k, s := range c.state.secrets {
		if k.namespace == namespace && s.serviceAccount == name {
			delete(c.state.secrets, k)
		}
	}
}

// GrantAuthDelegator binds the service account to the
// system:auth-delegator ClusterRole, which lets its tokens create
// TokenReviews.
func (c *Cluster) GrantAuthDelegator(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.authDelegators[objKey{namespace, name}] = true
}

// RevokeAuthDelegator removes the binding GrantAuthDelegator made.
func (c *Cluster) RevokeAuthDelegator(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state.authDelegators, objKey{namespace, name})
}

// CreatePod creates a pod running as the service account (created if
// missing) on the cluster's node, or returns the existing pod.
func (c *Cluster) CreatePod(namespace, name, serviceAccount string) Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := objKey{namespace, name}
	if p, ok := c.state.pods[k]; ok {
		return p
	}
	c.ensureServiceAccountLocked(namespace, serviceAccount)
	p := Pod{
		Namespace:      namespace,
		Name:           name,
		UID:            uuid.NewString(),
		ServiceAccount: serviceAccount,
		NodeName:       c.node.Name,
		NodeUID:        c.node.UID,
	}
	c.state.pods[k] = p
	return p
}

// DeletePod deletes a pod at once; tokens bound to it then fail review.
// A real pod is deleted gracefully and its tokens work until it is gone
// (or until 60 s after its deletionTimestamp); this models the end state.
func (c *Cluster) DeletePod(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state.pods, objKey{namespace, name})
}

// newTokenSecretNameLocked picks a free name for a legacy token Secret,
// shaped like the token controller's: <sa>-token-<5 random characters>.
func (c *Cluster) newTokenSecretNameLocked(namespace, serviceAccount string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // apimachinery's rand.String alphabet
	for {
		b := make([]byte, 5)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		name := fmt.Sprintf("%s-token-%s", serviceAccount, b)
		if _, taken := c.state.secrets[objKey{namespace, name}]; !taken {
			return name
		}
	}
}
