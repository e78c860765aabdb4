package kubetest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/uuid"
	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	sigsjson "sigs.k8s.io/json"
)

// maxRequestBodyBytes is the API server's limit on a request body.
const maxRequestBodyBytes = 3 * 1024 * 1024

var tokenReviewGV = schema.GroupVersion{Group: "authentication.k8s.io", Version: "v1"}

// serverVersion is what /version answers: the release the k8s.io/api types
// in go.mod come from.
var serverVersion = version.Info{
	Major:                 "1",
	Minor:                 "37",
	EmulationMajor:        "1",
	EmulationMinor:        "37",
	MinCompatibilityMajor: "1",
	MinCompatibilityMinor: "36",
	GitVersion:            "v1.37.2",
	GitCommit:             "4b6f5ea8c4a0f2f6f9d1a3e02c5b2d1e7f3a9c10",
	GitTreeState:          "clean",
	BuildDate:             "2026-07-15T10:21:43Z",
	GoVersion:             runtime.Version(),
	Compiler:              runtime.Compiler,
	Platform:              runtime.GOOS + "/" + runtime.GOARCH,
}

// response is an answer, built before anything is written so that the
// call can be recorded first.
type response struct {
	code   int
	header http.Header
	obj    any    // written as JSON when set
	raw    []byte // written as is otherwise
}

func (resp *response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	body := resp.raw
	if resp.obj != nil {
		b, err := json.Marshal(resp.obj)
		if err != nil {
			panic(fmt.Sprintf("kubetest: encode response: %v", err))
		}
		body = append(b, '\n') // the API server's encoder ends bodies with a newline
	}
	w.WriteHeader(resp.code)
	_, _ = w.Write(body) // the client may be gone
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// statusResponse is the metav1.Status body the API server writes for an
// error, e.g. {"kind":"Status","apiVersion":"v1","metadata":{},
// "status":"Failure","message":"Unauthorized","reason":"Unauthorized",
// "code":401}.
func statusResponse(err *apierrors.StatusError) *response {
	st := err.ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	return &response{code: int(st.Code), header: jsonHeader(), obj: &st}
}

func badRequest(format string, args ...any) *apierrors.StatusError {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

// serveHTTP serves the API. Every request is authenticated, then
// authorized, then routed, as by the generic API server's filter chain.
func (c *Cluster) serveHTTP(w http.ResponseWriter, r *http.Request) {
	c.countRequest()
	w.Header().Set("Audit-Id", uuid.NewString())
	w.Header().Set("Cache-Control", "no-cache, private")
	ri := parseRequestInfo(r)
	if ri.isTokenReviews() && r.Method == http.MethodPost {
		c.serveTokenReview(w, r, ri)
		return
	}
	if isDiscoveryPath(r.URL.Path) {
		c.serveDiscovery(w, r, ri)
		return
	}
	c.serveAuthorized(r, ri).write(w)
}

// serveAuthorized is the answer to everything but a TokenReview: the
// filter chain's, then the route's.
func (c *Cluster) serveAuthorized(r *http.Request, ri requestInfo) *response {
	if resp := c.authenticateAndAuthorize(r, ri); resp != nil {
		return resp
	}
	return c.route(r, ri)
}

// Paths of the service account issuer discovery documents.
const (
	openIDConfigurationPath = "/.well-known/openid-configuration"
	jwksPath                = "/openid/v1/jwks"
)

func isDiscoveryPath(p string) bool { return p == openIDConfigurationPath || p == jwksPath }

// serveDiscovery serves a discovery document as any other path, with the
// discovery faults injected and the call recorded.
func (c *Cluster) serveDiscovery(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	call := DiscoveryCall{Path: r.URL.Path}
	call.Bearer, _ = bearerToken(r.Header.Get("Authorization"))
	c.answer(w, r, &c.discoveryFaults, http.StatusOK, func() *response { return c.serveAuthorized(r, ri) },
		func(resp *response, fault Fault) {
			call.Fault = fault
			if resp != nil {
				call.StatusCode = resp.code
			}
			c.recordDiscovery(call)
		})
}

// authenticateAndAuthorize answers 401 for a bearer token that fails (or
// for no token when anonymous auth is off) and 403 for a user not allowed
// the request; nil lets the request through.
func (c *Cluster) authenticateAndAuthorize(r *http.Request, ri requestInfo) *response {
	u, ok, err := c.authenticateRequest(r)
	if err != nil || !ok {
		return statusResponse(apierrors.NewUnauthorized("Unauthorized"))
	}
	if !c.authorize(u, ri) {
		return statusResponse(forbidden(u, ri))
	}
	return nil
}

// route answers everything but creating a TokenReview. Unknown paths get
// the 404 and known paths with another method the 405 that go-restful's
// error handler writes through the API server. API discovery (/api, /apis)
// is not served, so it is 404 here. Of the core resources, only getting
// one namespace or one service account is served (objects.go); writes,
// lists and watches of them are 405 here, where a real API server would
// serve them.
func (c *Cluster) route(r *http.Request, ri requestInfo) *response {
	var get func() *response
	switch {
	case ri.isTokenReviews():
		return statusResponse(apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "", 0, false))
	case ri.isNamespace():
		get = func() *response { return c.namespaceResponse(ri.name) }
	case ri.isServiceAccount():
		get = func() *response { return c.serviceAccountResponse(ri.namespace, ri.name) }
	case r.URL.Path == "/version":
		get = c.versionResponse
	case r.URL.Path == openIDConfigurationPath:
		get = c.openIDConfigurationResponse
	case r.URL.Path == jwksPath:
		get = c.jwksResponse
	case r.URL.Path == "/healthz" || r.URL.Path == "/livez" || r.URL.Path == "/readyz":
		get = healthResponse
	default:
		return statusResponse(apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return statusResponse(apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "", 0, false))
	}
	return get()
}

func (c *Cluster) versionResponse() *response {
	b, err := json.MarshalIndent(serverVersion, "", "  ") // WriteRawJSON indents
	if err != nil {
		panic(err)
	}
	return &response{code: http.StatusOK, header: jsonHeader(), raw: b}
}

// openIDConfigurationResponse is the service account issuer discovery
// document (pkg/serviceaccount/openidmetadata.go).
func (c *Cluster) openIDConfigurationResponse() *response {
	b, err := json.Marshal(struct {
		Issuer        string   `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		SubjectTypes  []string `json:"subject_types_supported"`
		SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
	}{
		Issuer:        c.issuer,
		JWKSURI:       c.URL() + jwksPath,
		ResponseTypes: []string{"id_token"},
		SubjectTypes:  []string{"public"},
		SigningAlgs:   []string{"RS256"},
	})
	if err != nil {
		panic(err)
	}
	return &response{code: http.StatusOK, raw: b, header: http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"public, max-age=3600"},
	}}
}

func (c *Cluster) jwksResponse() *response {
	return &response{code: http.StatusOK, raw: c.JWKS(), header: http.Header{
		"Content-Type":  {"application/jwk-set+json"},
		"Cache-Control": {"public, max-age=3600"},
	}}
}

func healthResponse() *response {
	return &response{code: http.StatusOK, raw: []byte("ok"), header: http.Header{
		"Content-Type":           {"text/plain; charset=utf-8"},
		"X-Content-Type-Options": {"nosniff"},
	}}
}

// serveTokenReview handles POST /apis/authentication.k8s.io/v1/tokenreviews:
// record, inject faults, then answer as the API server would.
func (c *Cluster) serveTokenReview(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBodyBytes))
	call := newTokenReviewCall(r, body)
	c.answer(w, r, &c.faults, http.StatusCreated, func() *response { return c.tokenReviewResponse(r, ri, body, readErr) },
		func(resp *response, fault Fault) {
			call.Fault = fault
			if resp != nil {
				call.StatusCode = resp.code
				if tr, ok := resp.obj.(*authv1.TokenReview); ok {
					call.Authenticated, call.Error = tr.Status.Authenticated, tr.Status.Error
				}
			}
			c.record(call)
		})
}

func newTokenReviewCall(r *http.Request, body []byte) TokenReviewCall {
	call := TokenReviewCall{}
	call.Bearer, _ = bearerToken(r.Header.Get("Authorization"))
	var tr authv1.TokenReview
	if json.Unmarshal(body, &tr) == nil {
		call.Token, call.Audiences = tr.Spec.Token, tr.Spec.Audiences
	}
	return call
}

// tokenReviewResponse is the create handler and the TokenReview REST
// storage (pkg/registry/authentication/tokenreview/storage.go): 201 with the
// review, whose status says whether spec.token authenticated.
func (c *Cluster) tokenReviewResponse(r *http.Request, ri requestInfo, body []byte, readErr error) *response {
	if resp := c.authenticateAndAuthorize(r, ri); resp != nil {
		return resp
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		// go-restful refuses the media type before the body is read.
		return statusResponse(apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", "415: Unsupported Media Type", 0, false))
	}
	if readErr != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(readErr, &tooLarge) {
			return statusResponse(apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxRequestBodyBytes)))
		}
		return statusResponse(apierrors.NewInternalError(readErr))
	}
	review, warnings, serr := decodeTokenReview(body, r.URL.Query().Get("fieldValidation"))
	if serr != nil {
		return statusResponse(serr)
	}
	if review.Spec.Token == "" {
		return statusResponse(badRequest("token is required for TokenReview in authentication"))
	}
	c.review(review)
	resp := &response{code: http.StatusCreated, header: jsonHeader(), obj: review}
	for _, w := range warnings {
		resp.header.Add("Warning", fmt.Sprintf("299 - %q", w))
	}
	return resp
}

// isJSON reports whether a request's Content-Type is JSON. The real server
// also takes YAML, protobuf and CBOR; this one answers those with 415 too.
// A missing Content-Type is 415 there as well (go-restful reads it as
// application/octet-stream).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeTokenReview decodes a body as the API server's JSON decoder does:
// kind and apiVersion default to TokenReview and authentication.k8s.io/v1,
// matching is case-sensitive, and unknown or duplicate fields are warnings,
// errors or ignored as fieldValidation (default Warn) says.
func decodeTokenReview(body []byte, fieldValidation string) (*authv1.TokenReview, []string, *apierrors.StatusError) {
	switch fieldValidation {
	case "", metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
	default:
		return nil, nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "CreateOptions"}, "",
			field.ErrorList{field.NotSupported(field.NewPath("fieldValidation"), fieldValidation,
				[]string{metav1.FieldValidationIgnore, metav1.FieldValidationStrict, metav1.FieldValidationWarn})})
	}
	var typeMeta struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind,omitempty"`
	}
	if err := json.Unmarshal(body, &typeMeta); err != nil {
		return nil, nil, badRequest("the object provided is unrecognized (must be of type TokenReview): couldn't get version/kind; json parse error: %v (%s)",
			err, summarizeData(body, 30))
	}
	gv, err := schema.ParseGroupVersion(typeMeta.APIVersion)
	if err != nil {
		return nil, nil, badRequest("the object provided is unrecognized (must be of type TokenReview): %v (%s)", err, summarizeData(body, 30))
	}
	if gv.Empty() {
		gv = tokenReviewGV
	}
	kind := typeMeta.Kind
	if kind == "" {
		kind = "TokenReview"
	}
	if gv != tokenReviewGV {
		return nil, nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", gv, tokenReviewGV)
	}
	if kind != "TokenReview" {
		// The real message for a kind the API server knows (TokenRequest)
		// differs; this is its message for kinds it does not.
		return nil, nil, badRequest("%s in version %q cannot be handled as a TokenReview: no kind %q is registered for version %q in scheme %q",
			kind, gv.Version, kind, gv.String(), "pkg/api/legacyscheme/scheme.go:30")
	}
	var review authv1.TokenReview
	strictErrs, err := sigsjson.UnmarshalStrict(body, &review)
	if err != nil {
		return nil, nil, badRequest("TokenReview in version %q cannot be handled as a TokenReview: %v", gv.Version, err)
	}
	review.TypeMeta = metav1.TypeMeta{Kind: "TokenReview", APIVersion: tokenReviewGV.String()}
	if len(strictErrs) == 0 || fieldValidation == metav1.FieldValidationIgnore {
		return &review, nil, nil
	}
	msgs := make([]string, len(strictErrs))
	for i, e := range strictErrs {
		msgs[i] = e.Error()
	}
	if fieldValidation == metav1.FieldValidationStrict {
		return nil, nil, badRequest("strict decoding error: %s", strings.Join(msgs, ", "))
	}
	return &review, msgs, nil
}

// summarizeData is the API server's summary of a body it could not decode.
func summarizeData(data []byte, maxLength int) string {
	switch {
	case len(data) == 0:
		return "<empty>"
	case data[0] == '{':
		if len(data) > maxLength {
			return string(data[:maxLength]) + " ..."
		}
		return string(data)
	default:
		if len(data) > maxLength {
			return hex.EncodeToString(data[:maxLength]) + " ..."
		}
		return hex.EncodeToString(data)
	}
}

// review fills in the status as the TokenReview REST storage does: it
// authenticates spec.token for spec.audiences (else the API audiences) and
// leaves alone whatever status fields it has nothing to say about.
func (c *Cluster) review(tr *authv1.TokenReview) {
	auds := tr.Spec.Audiences
	if len(auds) == 0 {
		auds = c.apiAudiences
	}
	// The token travels in a fake "Authorization: Bearer" header, so it is
	// cut at its first space. A token starting with a space is no bearer at
	// all; the real chain may then fall through to anonymous, here it is
	// just invalid.
	var res *authResult
	token, ok := bearerToken("Bearer " + tr.Spec.Token)
	err := errInvalidBearerToken
	if ok {
		res, err = c.authenticateToken(token, auds)
	}
	tr.Status.Authenticated = err == nil
	if err != nil {
		tr.Status.Error = err.Error()
	}
	if res == nil {
		return
	}
	tr.Status.User = authv1.UserInfo{
		Username: res.user.Name,
		UID:      res.user.UID,
		Groups:   res.user.Groups,
	}
	if len(res.user.Extra) > 0 {
		tr.Status.User.Extra = map[string]authv1.ExtraValue{}
		for k, v := range res.user.Extra {
			tr.Status.User.Extra[k] = authv1.ExtraValue(v)
		}
	}
	tr.Status.Audiences = res.audiences
}
