package kubetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// The authentication chain below mirrors kube-apiserver's for a bearer
// token, which is also what TokenReview runs:
//
//	union(loopback bearer, failOnError(groupAdder(union(bearer(tokenUnion(
//	    static token file, legacy SA JWT, bound SA JWT))), anonymous)))
//
// The loopback authenticator (the API server's own privileged token) never
// matches a client's token, so it always contributes "invalid bearer token"
// to the aggregate; that is why real failures read
// "[invalid bearer token, <reason>]". An authenticator that does not
// recognise a token (wrong issuer, not a JWT) says nothing, so a token no
// one recognises fails with just "invalid bearer token" (the aggregate drops
// the duplicate). Bootstrap tokens, OIDC and webhooks are not modelled.

const (
	groupMasters         = "system:masters"
	groupAuthenticated   = "system:authenticated"
	groupUnauthenticated = "system:unauthenticated"
	groupServiceAccounts = "system:serviceaccounts"
	userAnonymous        = "system:anonymous"

	extraPodName      = "authentication.kubernetes.io/pod-name"
	extraPodUID       = "authentication.kubernetes.io/pod-uid"
	extraNodeName     = "authentication.kubernetes.io/node-name"
	extraNodeUID      = "authentication.kubernetes.io/node-uid"
	extraCredentialID = "authentication.kubernetes.io/credential-id"
)

var errInvalidBearerToken = errors.New("invalid bearer token")

// jwtAlgorithms are the algorithms a token may name. kube-apiserver's
// go-jose parses any; a token whose alg does not fit the key then fails
// verification with go-jose's error.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
}

// userInfo is an authenticated user, as k8s.io/apiserver's user.Info.
type userInfo struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

type authResult struct {
	user      userInfo
	audiences []string
}

type cachedAuth struct {
	result  authResult
	expires time.Time
}

// authenticateRequest authenticates an HTTP request's bearer token for the
// API server's own audiences. With no bearer the request is anonymous, or
// unauthenticated (nil error, ok false) when anonymous auth is off.
func (c *Cluster) authenticateRequest(r *http.Request) (userInfo, bool, error) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		if c.anonymous {
			return userInfo{Name: userAnonymous, Groups: []string{groupUnauthenticated}}, true, nil
		}
		return userInfo{}, false, nil
	}
	res, err := c.authenticateToken(token, c.apiAudiences)
	if err != nil {
		return userInfo{}, false, err
	}
	return res.user, true, nil
}

// bearerToken parses an Authorization header as the bearertoken
// authenticator does: scheme case-insensitive, empty tokens ignored.
func bearerToken(header string) (string, bool) {
	parts := strings.SplitN(strings.TrimSpace(header), " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// authenticateToken runs the whole chain for one token and the audiences it
// is wanted for.
func (c *Cluster) authenticateToken(token string, audiences []string) (*authResult, error) {
	cacheKey := strings.Join(append([]string{token}, audiences...), "\x00")
	if res, ok := c.cached(cacheKey); ok {
		return &res, nil
	}
	res, ok, err := c.tokenUnion(token, audiences)
	if ok {
		if !slices.Contains(res.user.Groups, groupAuthenticated) {
			res.user.Groups = append(res.user.Groups, groupAuthenticated)
		}
		c.remember(cacheKey, *res)
		return res, nil
	}
	if err == nil {
		err = errInvalidBearerToken
	}
	return nil, utilerrors.NewAggregate([]error{errInvalidBearerToken, err})
}

func (c *Cluster) cached(key string) (authResult, bool) {
	if c.cacheTTL <= 0 {
		return authResult{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.cache, key)
		return authResult{}, false
	}
	return e.result, true
}

func (c *Cluster) remember(key string, res authResult) {
	if c.cacheTTL <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache[key] = cachedAuth{result: res, expires: c.now().Add(c.cacheTTL)}
}

// tokenUnion tries each token authenticator in kube-apiserver's order and
// aggregates their errors.
func (c *Cluster) tokenUnion(token string, audiences []string) (*authResult, bool, error) {
	var errs []error
	for _, authenticate := range []func(string, []string) (*authResult, bool, error){
		c.authenticateStaticToken, c.authenticateLegacyToken, c.authenticateBoundToken,
	} {
		res, ok, err := authenticate(token, audiences)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return res, true, nil
		}
	}
	return nil, false, utilerrors.NewAggregate(errs)
}

// authenticateStaticToken is the token-file authenticator behind
// WrapAudienceAgnosticToken: it only answers for the API's own audiences.
func (c *Cluster) authenticateStaticToken(token string, audiences []string) (*authResult, bool, error) {
	auds := intersect(c.apiAudiences, audiences)
	if len(auds) == 0 {
		return nil, false, nil
	}
	c.mu.Lock()
	u, ok := c.staticTokens[token]
	c.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	u.Groups = slices.Clone(u.Groups)
	return &authResult{user: u, audiences: auds}, true, nil
}

func (c *Cluster) authenticateBoundToken(token string, audiences []string) (*authResult, bool, error) {
	var private boundClaims
	return c.authenticateJWT(token, audiences, c.issuer, &private, func(public *jwt.Claims) (userInfo, error) {
		return c.validateBound(public, &private)
	})
}

func (c *Cluster) authenticateLegacyToken(token string, audiences []string) (*authResult, bool, error) {
	var private legacyClaims
	return c.authenticateJWT(token, audiences, LegacyIssuer, &private, func(public *jwt.Claims) (userInfo, error) {
		return c.validateLegacy(token, public, &private)
	})
}

// authenticateJWT is jwtTokenAuthenticator.AuthenticateToken
// (pkg/serviceaccount/jwt.go): issuer pre-check on the unverified payload,
// key by kid, signature, issuer, audiences, then the validator.
func (c *Cluster) authenticateJWT(token string, audiences []string, issuer string, private any,
	validate func(*jwt.Claims) (userInfo, error)) (*authResult, bool, error) {
	if unverifiedIssuer(token) != issuer {
		return nil, false, nil
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return nil, false, nil
	}
	keys := c.keys.publicKeys(headerKeyID(tok.Headers))
	if len(keys) == 0 {
		return nil, false, errors.New("invalid signature, no keys found")
	}
	var public jwt.Claims
	var errs []error
	verified := false
	for _, key := range keys {
		if err := tok.Claims(key, &public, private); err != nil {
			errs = append(errs, err)
			continue
		}
		verified = true
		break
	}
	if !verified {
		return nil, false, utilerrors.NewAggregate(errs)
	}
	if public.Issuer != issuer {
		return nil, false, fmt.Errorf("token issuer %q is invalid", public.Issuer)
	}
	tokenAudiences := []string(public.Audience)
	if len(tokenAudiences) == 0 {
		// Legacy tokens have no aud: they are only good for the API itself.
		tokenAudiences = c.apiAudiences
	}
	auds := intersect(tokenAudiences, audiences)
	if len(auds) == 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAudiences, audiences)
	}
	user, err := validate(&public)
	if err != nil {
		return nil, false, err
	}
	return &authResult{user: user, audiences: auds}, true, nil
}

// unverifiedIssuer reads iss without verifying anything, as
// hasCorrectIssuer does; "" when the token is not a compact JWS.
func unverifiedIssuer(token string) string {
	if strings.HasPrefix(strings.TrimSpace(token), "{") {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Issuer
}

func headerKeyID(headers []jose.Header) string {
	for _, h := range headers {
		if h.KeyID != "" {
			return h.KeyID
		}
	}
	return ""
}

// validateBound is the bound token validator (pkg/serviceaccount/claims.go).
func (c *Cluster) validateBound(public *jwt.Claims, private *boundClaims) (userInfo, error) {
	if err := validateTimes(public, c.now()); err != nil {
		return userInfo{}, err
	}
	k := private.Kubernetes
	c.mu.Lock()
	defer c.mu.Unlock()
	sa, ok := c.state.serviceAccounts[objKey{k.Namespace, k.Svcacct.Name}]
	if !ok {
		return userInfo{}, notFound("serviceaccounts", k.Svcacct.Name)
	}
	if sa.UID != k.Svcacct.UID {
		return userInfo{}, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.Svcacct.UID)
	}
	if k.Secret != nil {
		s, ok := c.state.secrets[objKey{k.Namespace, k.Secret.Name}]
		if !ok {
			return userInfo{}, errors.New("service account token has been invalidated")
		}
		if s.uid != k.Secret.UID {
			return userInfo{}, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", s.uid, k.Secret.UID)
		}
	}
	u := userInfo{
		Name:   serviceAccountUsername(k.Namespace, k.Svcacct.Name),
		UID:    k.Svcacct.UID,
		Groups: serviceAccountGroups(k.Namespace),
		Extra:  map[string][]string{},
	}
	if k.Pod != nil {
		p, ok := c.state.pods[objKey{k.Namespace, k.Pod.Name}]
		if !ok {
			return userInfo{}, errors.New("service account token has been invalidated")
		}
		if p.UID != k.Pod.UID {
			return userInfo{}, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", p.UID, k.Pod.UID)
		}
		u.Extra[extraPodName] = []string{k.Pod.Name}
		u.Extra[extraPodUID] = []string{k.Pod.UID}
	}
	if k.Node != nil {
		if k.Pod == nil {
			// A token bound to the node itself: the node must still exist.
			if k.Node.Name != c.node.Name {
				return userInfo{}, errors.New("service account token has been invalidated")
			}
			if k.Node.UID != c.node.UID {
				return userInfo{}, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", c.node.UID, k.Node.UID)
			}
		}
		u.Extra[extraNodeName] = []string{k.Node.Name}
		if k.Node.UID != "" {
			u.Extra[extraNodeUID] = []string{k.Node.UID}
		}
	}
	if public.ID != "" {
		u.Extra[extraCredentialID] = []string{"JTI=" + public.ID}
	}
	if len(u.Extra) == 0 {
		u.Extra = nil
	}
	return u, nil
}

// validateTimes checks exp, nbf and iat with go-jose's one-minute leeway
// and words the failures as claims.go does.
func validateTimes(public *jwt.Claims, now time.Time) error {
	err := public.Validate(jwt.Expected{Time: now})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrExpired):
		return errors.New("service account token has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return errors.New("service account token is not valid yet")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return errors.New("service account token is issued in the future")
	default:
		return errors.New("service account token claims could not be validated due to unexpected validation error")
	}
}

// validateLegacy is the legacy validator with lookup on
// (pkg/serviceaccount/legacy.go, --service-account-lookup=true).
func (c *Cluster) validateLegacy(token string, public *jwt.Claims, private *legacyClaims) (userInfo, error) {
	switch {
	case public.Subject == "":
		return userInfo{}, errors.New("sub claim is missing")
	case private.Namespace == "":
		return userInfo{}, errors.New("namespace claim is missing")
	case private.SecretName == "":
		return userInfo{}, errors.New("secretName claim is missing")
	case private.ServiceAccountName == "":
		return userInfo{}, errors.New("serviceAccountName claim is missing")
	case private.ServiceAccountUID == "":
		return userInfo{}, errors.New("serviceAccountUID claim is missing")
	case public.Subject != serviceAccountUsername(private.Namespace, private.ServiceAccountName):
		return userInfo{}, errors.New("sub claim is invalid")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.state.secrets[objKey{private.Namespace, private.SecretName}]
	if !ok {
		return userInfo{}, errors.New("Token has been invalidated") // upstream wording, capital and all
	}
	if s.token != token {
		return userInfo{}, errors.New("Token does not match server's copy")
	}
	sa, ok := c.state.serviceAccounts[objKey{private.Namespace, private.ServiceAccountName}]
	if !ok {
		return userInfo{}, notFound("serviceaccounts", private.ServiceAccountName)
	}
	if sa.UID != private.ServiceAccountUID {
		return userInfo{}, fmt.Errorf("ServiceAccount UID (%s) does not match claim (%s)", sa.UID, private.ServiceAccountUID)
	}
	return userInfo{
		Name:   serviceAccountUsername(private.Namespace, private.ServiceAccountName),
		UID:    private.ServiceAccountUID,
		Groups: serviceAccountGroups(private.Namespace),
	}, nil
}

// notFound words a missing object as apierrors.NewNotFound does.
func notFound(resource, name string) error {
	return fmt.Errorf("%s %q not found", resource, name)
}

func serviceAccountUsername(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

func serviceAccountGroups(namespace string) []string {
	return []string{groupServiceAccounts, groupServiceAccounts + ":" + namespace}
}

// intersect is authenticator.Audiences(a).Intersect(target): the members
// of target that are in a, in target's order.
func intersect(a, target []string) []string {
	var out []string
	for _, t := range target {
		if slices.Contains(a, t) {
			out = append(out, t)
		}
	}
	return out
}
