package kubetest

import (
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecodeTokenReview(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	token := c.Token("ns", "app")

	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		wantCode    int
		wantReason  metav1.StatusReason
		wantMessage string
		wantWarning string
	}{
		{
			name:        "no kind or apiVersion, as Vault sends it",
			contentType: "application/json",
			body:        `{"spec":{"token":"` + token + `"}}`,
			wantCode:    http.StatusCreated,
		},
		{
			name:        "content type with parameters",
			contentType: "application/json; charset=utf-8",
			body:        `{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","spec":{"token":"` + token + `"}}`,
			wantCode:    http.StatusCreated,
		},
		{
			name:        "unknown field warns by default",
			contentType: "application/json",
			body:        `{"spec":{"token":"` + token + `","foo":1}}`,
			wantCode:    http.StatusCreated,
			wantWarning: `299 - "unknown field \"spec.foo\""`,
		},
		{
			name:        "unknown field ignored",
			query:       "?fieldValidation=Ignore",
			contentType: "application/json",
			body:        `{"spec":{"token":"` + token + `","foo":1}}`,
			wantCode:    http.StatusCreated,
		},
		{
			name:        "unknown field with strict validation",
			query:       "?fieldValidation=Strict",
			contentType: "application/json",
			body:        `{"spec":{"token":"` + token + `","Token":"x"}}`,
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: `strict decoding error: unknown field "spec.Token"`,
		},
		{
			name:        "unsupported field validation",
			query:       "?fieldValidation=strict",
			contentType: "application/json",
			body:        `{"spec":{"token":"x"}}`,
			wantCode:    http.StatusUnprocessableEntity,
			wantReason:  metav1.StatusReasonInvalid,
			wantMessage: `CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "Ignore", "Strict", "Warn"`,
		},
		{
			name:        "not JSON",
			contentType: "application/json",
			body:        "garbage",
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: "the object provided is unrecognized (must be of type TokenReview): couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value (67617262616765)",
		},
		{
			name:        "another API version",
			contentType: "application/json",
			body:        `{"kind":"Pod","apiVersion":"v1","spec":{}}`,
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: "the API version in the data (v1) does not match the expected API version (authentication.k8s.io/v1)",
		},
		{
			name:        "another kind",
			contentType: "application/json",
			body:        `{"kind":"TokenReviewX","apiVersion":"authentication.k8s.io/v1","spec":{}}`,
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: `TokenReviewX in version "v1" cannot be handled as a TokenReview: no kind "TokenReviewX" is registered for version "authentication.k8s.io/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"`,
		},
		{
			name:        "wrong type",
			contentType: "application/json",
			body:        `{"spec":{"token":5}}`,
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: `TokenReview in version "v1" cannot be handled as a TokenReview: json: cannot unmarshal number into Go struct field TokenReviewSpec.spec.token of type string`,
		},
		{
			name:        "no token",
			contentType: "application/json",
			body:        `{"spec":{"audiences":["vault"]}}`,
			wantCode:    http.StatusBadRequest,
			wantReason:  metav1.StatusReasonBadRequest,
			wantMessage: "token is required for TokenReview in authentication",
		},
		{
			name:        "not a JSON media type",
			contentType: "text/plain",
			body:        `{"spec":{"token":"x"}}`,
			wantCode:    http.StatusUnsupportedMediaType,
			wantReason:  metav1.StatusReasonUnsupportedMediaType,
			wantMessage: "415: Unsupported Media Type",
		},
		{
			name:        "no content type",
			body:        `{"spec":{"token":"x"}}`,
			wantCode:    http.StatusUnsupportedMediaType,
			wantReason:  metav1.StatusReasonUnsupportedMediaType,
			wantMessage: "415: Unsupported Media Type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, c, http.MethodPost, tokenReviewsPath+tt.query, reviewer, tt.contentType, []byte(tt.body))
			if res.code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", res.code, tt.wantCode, res.body)
			}
			if got := res.header.Get("Warning"); got != tt.wantWarning {
				t.Errorf("Warning = %q, want %q", got, tt.wantWarning)
			}
			if tt.wantCode == http.StatusCreated {
				tr := mustDecodeReview(t, res.body)
				if !tr.Status.Authenticated || tr.Kind != "TokenReview" || tr.APIVersion != "authentication.k8s.io/v1" {
					t.Errorf("review = %s", res.body)
				}
				return
			}
			st := decodeStatus(t, res.body)
			if st.Reason != tt.wantReason || st.Message != tt.wantMessage || int(st.Code) != tt.wantCode {
				t.Errorf("status = %s\nwant reason %s message %q", res.body, tt.wantReason, tt.wantMessage)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	c := New(t)
	body := make([]byte, maxRequestBodyBytes+1)
	for i := range body {
		body[i] = ' '
	}
	res := do(t, c, http.MethodPost, tokenReviewsPath, c.AdminToken(), "application/json", body)
	st := decodeStatus(t, res.body)
	if res.code != http.StatusRequestEntityTooLarge || st.Message != "Request entity too large: limit is 3145728" {
		t.Errorf("status %d: %s", res.code, res.body)
	}
}
