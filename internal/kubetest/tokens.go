package kubetest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// defaultTokenExpiry is TokenRequest's default spec.expirationSeconds.
const defaultTokenExpiry = time.Hour

// publicClaims are the registered claims as kube-apiserver writes them.
// go-jose v4's jwt.Claims would write a one-element aud as a bare string;
// real tokens always carry an array.
type publicClaims struct {
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  []string         `json:"aud,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	ID        string           `json:"jti,omitempty"`
}

// boundClaims are the private claims of a TokenRequest token
// (pkg/serviceaccount/claims.go).
type boundClaims struct {
	Kubernetes kubernetesClaims `json:"kubernetes.io,omitempty"`
}

type kubernetesClaims struct {
	Namespace string           `json:"namespace,omitempty"`
	Svcacct   ref              `json:"serviceaccount,omitempty"`
	Pod       *ref             `json:"pod,omitempty"`
	Secret    *ref             `json:"secret,omitempty"`
	Node      *ref             `json:"node,omitempty"`
	WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// legacyClaims are the private claims of a Secret-based token
// (pkg/serviceaccount/legacy.go).
type legacyClaims struct {
	ServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	SecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	Namespace          string `json:"kubernetes.io/serviceaccount/namespace"`
}

// TokenOption changes a token minted by Token.
type TokenOption func(*tokenRequest)

type tokenRequest struct {
	audiences []string
	issuedAt  *time.Time
	expiresIn *time.Duration
	expiresAt *time.Time
	pod       *Pod
	key       *rsa.PrivateKey
	kid       *string
	issuer    *string
	saUID     *string
}

// Audiences sets the token's aud (TokenRequest spec.audiences). The default
// is the API server's audiences.
func Audiences(audiences ...string) TokenOption {
	return func(r *tokenRequest) { r.audiences = append([]string(nil), audiences...) }
}

// ExpiresIn sets exp to iat+d (one hour by default). A negative d mints an
// expired token; remember the 60 s leeway when testing expiry. Unlike the
// real TokenRequest, durations under ten minutes are allowed.
func ExpiresIn(d time.Duration) TokenOption { return func(r *tokenRequest) { r.expiresIn = &d } }

// ExpiresAt sets exp.
func ExpiresAt(t time.Time) TokenOption { return func(r *tokenRequest) { r.expiresAt = &t } }

// IssuedAt mints the token as if the cluster clock read t: iat and nbf are
// t and the default exp is t+1h. A t in the future gives a token that is not
// valid yet.
func IssuedAt(t time.Time) TokenOption { return func(r *tokenRequest) { r.issuedAt = &t } }

// BoundToPod binds the token to a pod (TokenRequest boundObjectRef), as the
// kubelet's projected tokens are. A pod from CreatePod adds the node claim
// too; a Pod literal that was never created makes a token that fails review.
func BoundToPod(p Pod) TokenOption { return func(r *tokenRequest) { r.pod = &p } }

// SignedWith signs the token with key, under the kid derived from it, as
// another cluster (or an attacker) would.
func SignedWith(key *rsa.PrivateKey) TokenOption { return func(r *tokenRequest) { r.key = key } }

// KeyID sets the kid header; "" leaves it out.
func KeyID(kid string) TokenOption { return func(r *tokenRequest) { r.kid = &kid } }

// ClaimIssuer sets the iss claim instead of the cluster's issuer.
func ClaimIssuer(issuer string) TokenOption { return func(r *tokenRequest) { r.issuer = &issuer } }

// ClaimServiceAccountUID puts uid in the token instead of the service
// account's, as a token of an earlier account of the same name has.
func ClaimServiceAccountUID(uid string) TokenOption {
	return func(r *tokenRequest) { r.saUID = &uid }
}

// Token mints a token as TokenRequest does: RS256 signed by the cluster's
// key with its kid, and the claims iss, sub, aud, exp, iat, nbf, jti and
// kubernetes.io {namespace, serviceaccount, pod?, node?}. The service
// account is created if it does not exist. Token panics if a pod of another
// service account or namespace is given, as TokenRequest refuses that.
func (c *Cluster) Token(namespace, name string, opts ...TokenOption) string {
	var req tokenRequest
	for _, o := range opts {
		o(&req)
	}
	sa := c.CreateServiceAccount(namespace, name)
	iat := c.now()
	if req.issuedAt != nil {
		iat = *req.issuedAt
	}
	exp := iat.Add(defaultTokenExpiry)
	if req.expiresIn != nil {
		exp = iat.Add(*req.expiresIn)
	}
	if req.expiresAt != nil {
		exp = *req.expiresAt
	}
	aud := c.apiAudiences
	if req.audiences != nil {
		aud = req.audiences
	}
	public := publicClaims{
		Issuer:    c.issuer,
		Subject:   sa.Username(),
		Audience:  aud,
		Expiry:    jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(iat),
		NotBefore: jwt.NewNumericDate(iat),
		ID:        uuid.NewString(),
	}
	if req.issuer != nil {
		public.Issuer = *req.issuer
	}
	private := boundClaims{Kubernetes: kubernetesClaims{
		Namespace: namespace,
		Svcacct:   ref{Name: name, UID: sa.UID},
	}}
	if req.saUID != nil {
		private.Kubernetes.Svcacct.UID = *req.saUID
	}
	if p := req.pod; p != nil {
		if (p.ServiceAccount != "" && p.ServiceAccount != name) || (p.Namespace != "" && p.Namespace != namespace) {
			panic(fmt.Sprintf("kubetest: cannot bind token for serviceaccount %s/%s to pod %s/%s running as %q",
				namespace, name, p.Namespace, p.Name, p.ServiceAccount))
		}
		private.Kubernetes.Pod = &ref{Name: p.Name, UID: p.UID}
		if p.NodeName != "" {
			private.Kubernetes.Node = &ref{Name: p.NodeName, UID: p.NodeUID}
		}
	}
	return c.sign(req, private, public)
}

// LegacyToken mints a token like the ones the token controller put in
// kubernetes.io/service-account-token Secrets before Kubernetes 1.24: issuer
// kubernetes/serviceaccount, no exp, iat or aud. It creates the service
// account if needed and the Secret, which TokenReview checks; deleting the
// service account deletes the Secret.
func (c *Cluster) LegacyToken(namespace, name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa := c.ensureServiceAccountLocked(namespace, name)
	secretName := c.newTokenSecretNameLocked(namespace, name)
	token := c.sign(tokenRequest{},
		legacyClaims{
			ServiceAccountName: name,
			ServiceAccountUID:  sa.UID,
			SecretName:         secretName,
			Namespace:          namespace,
		},
		publicClaims{Issuer: LegacyIssuer, Subject: sa.Username()})
	c.state.secrets[objKey{namespace, secretName}] = secret{
		uid:            uuid.NewString(),
		serviceAccount: name,
		token:          token,
	}
	return token
}

// ReviewerToken makes the service account (if needed), binds it to
// system:auth-delegator and returns a token for it: the token_reviewer_jwt
// of a Vault or Infisical configuration.
func (c *Cluster) ReviewerToken(namespace, name string, opts ...TokenOption) string {
	c.CreateServiceAccount(namespace, name)
	c.GrantAuthDelegator(namespace, name)
	return c.Token(namespace, name, opts...)
}

// AdminToken is a static token (--token-auth-file) of the user
// kubetest-admin in system:masters, allowed to do anything.
func (c *Cluster) AdminToken() string { return c.adminToken }

func (c *Cluster) addStaticToken(u userInfo) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.staticTokens[token] = u
	return token
}

// sign serializes claims, later ones winning, and signs them as req says.
func (c *Cluster) sign(req tokenRequest, private any, public publicClaims) string {
	signing := c.keys.current()
	key, kid := signing.key, signing.kid
	if req.key != nil {
		key = req.key
		var err error
		if kid, err = keyID(&key.PublicKey); err != nil {
			panic(fmt.Sprintf("kubetest: %v", err))
		}
	}
	if req.kid != nil {
		kid = *req.kid
	}
	s, err := signer(key, kid)
	if err != nil {
		panic(fmt.Sprintf("kubetest: signer: %v", err))
	}
	token, err := jwt.Signed(s).Claims(private).Claims(public).Serialize()
	if err != nil {
		panic(fmt.Sprintf("kubetest: sign token: %v", err))
	}
	return token
}
