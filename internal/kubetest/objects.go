package kubetest

import (
	"crypto/rand"
	"fmt"

	"github.com/google/uuid"
)

// ServiceAccount is a service account of the cluster.
type ServiceAccount struct {
	Namespace string
	Name      string
	UID       string
}

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
}

func newObjects() objects {
	return objects{
		serviceAccounts: map[objKey]ServiceAccount{},
		pods:            map[objKey]Pod{},
		secrets:         map[objKey]secret{},
		authDelegators:  map[objKey]bool{},
	}
}

// CreateServiceAccount creates a service account with a new random UID, or
// returns the existing one unchanged.
func (c *Cluster) CreateServiceAccount(namespace, name string) ServiceAccount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ensureServiceAccountLocked(namespace, name)
}

func (c *Cluster) ensureServiceAccountLocked(namespace, name string) ServiceAccount {
	k := objKey{namespace, name}
	if sa, ok := c.state.serviceAccounts[k]; ok {
		return sa
	}
	sa := ServiceAccount{Namespace: namespace, Name: name, UID: uuid.NewString()}
	c.state.serviceAccounts[k] = sa
	return sa
}

// ServiceAccount returns a service account, if it exists.
func (c *Cluster) ServiceAccount(namespace, name string) (ServiceAccount, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa, ok := c.state.serviceAccounts[objKey{namespace, name}]
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
