package kubetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const tokenReviewsPath = "/apis/authentication.k8s.io/v1/tokenreviews"

// epoch is the manual clock's start in tests.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type result struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request with the cluster's pinned client.
func do(t *testing.T, c *Cluster, method, path, bearer, contentType string, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(method, c.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, c, req)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// send sends req with the cluster's pinned client and reads the answer.
func send(t *testing.T, c *Cluster, req *http.Request) result {
	t.Helper()
	resp, err := c.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: b}
}

// reviewRequest is a TokenReview as a client builds it with k8s.io/api.
func reviewRequest(token string, audiences ...string) authv1.TokenReview {
	return authv1.TokenReview{
		TypeMeta: metav1.TypeMeta{Kind: "TokenReview", APIVersion: "authentication.k8s.io/v1"},
		Spec:     authv1.TokenReviewSpec{Token: token, Audiences: audiences},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func reviewBody(t *testing.T, token string, audiences ...string) []byte {
	t.Helper()
	return mustJSON(reviewRequest(token, audiences...))
}

func postReview(t *testing.T, c *Cluster, bearer, token string, audiences ...string) result {
	t.Helper()
	return do(t, c, http.MethodPost, tokenReviewsPath, bearer, "application/json", reviewBody(t, token, audiences...))
}

// mustReview reviews token and expects the API server to answer 201.
func mustReview(t *testing.T, c *Cluster, bearer, token string, audiences ...string) authv1.TokenReview {
	t.Helper()
	res := postReview(t, c, bearer, token, audiences...)
	if res.code != http.StatusCreated {
		t.Fatalf("TokenReview: status %d, body %s", res.code, res.body)
	}
	var tr authv1.TokenReview
	if err := json.Unmarshal(res.body, &tr); err != nil {
		t.Fatalf("decode TokenReview: %v: %s", err, res.body)
	}
	return tr
}

func decodeStatus(t *testing.T, body []byte) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decode Status: %v: %s", err, body)
	}
	if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure {
		t.Fatalf("not a failure Status: %s", body)
	}
	return st
}

// jwtPart decodes one part of a compact JWT as a JSON object.
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := bytes.Split([]byte(token), []byte("."))
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", token)
	}
	raw, err := base64URL(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func base64URL(b []byte) ([]byte, error) { return base64.RawURLEncoding.DecodeString(string(b)) }

// encodeSegment encodes a JSON object as a JWT segment.
func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
