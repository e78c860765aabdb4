package kubeauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// MaxJWTBytes bounds a login JWT (projected service-account tokens are
// about 1 KiB).
const MaxJWTBytes = 16 << 10

// JWT is a login token that has the shape of a signed JWT. Nothing in it is
// verified: the claims are kept only to choose what to ask the API server
// (Audiences) and, with local keys, to compare with what it answers. Who
// the caller is comes from the TokenReview alone.
type JWT struct {
	Raw secret.Secret
	// Audiences is the unverified aud claim.
	Audiences []string
	// Expiry is the unverified exp claim; zero when absent or unreadable.
	// It only ever shortens how long a review may be cached.
	Expiry time.Time
}

// ParseJWT checks that raw (surrounding white space trimmed, as a token
// file read as is ends with a newline) is a compact JWS: three base64url
// parts, a JSON header naming a signing algorithm, a JSON object payload
// and a non-empty signature. A missing or oversized jwt is a schema error
// (Invalid, 422 on the Infisical API); any other failure is
// Unauthenticated with the reason, which never quotes the token.
func ParseJWT(raw string) (JWT, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return JWT{}, errs.Validation(errs.FieldError{Path: "jwt", Message: "Required: the service account token"})
	}
	if len(raw) > MaxJWTBytes {
		return JWT{}, errs.Validation(errs.FieldError{Path: "jwt", Message: fmt.Sprintf("must be at most %d bytes", MaxJWTBytes)})
	}
	aud, exp, reason := parseJWS(raw)
	if reason != "" {
		return JWT{}, errs.Named(errs.Unauthenticated, ErrNameMalformedJWT, "the jwt is not a well-formed JWT: %s", reason)
	}
	return JWT{Raw: secret.Secret(raw), Audiences: aud, Expiry: exp}, nil
}

// parseJWS returns the aud claim, or why raw is not a compact JWS.
func parseJWS(raw string) (aud []string, exp time.Time, reason string) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, time.Time{}, fmt.Sprintf("it has %d dot-separated parts, a JWT has 3 (header.payload.signature)", len(parts))
	}
	var header struct {
		Alg *string `json:"alg"`
	}
	if r := decodePart(parts[0], "header", &header); r != "" {
		return nil, time.Time{}, r
	}
	if header.Alg == nil || *header.Alg == "" || strings.EqualFold(*header.Alg, "none") {
		return nil, time.Time{}, "its header names no signing algorithm (alg)"
	}
	var payload struct {
		Aud json.RawMessage `json:"aud"`
		Exp json.RawMessage `json:"exp"`
	}
	if r := decodePart(parts[1], "payload", &payload); r != "" {
		return nil, time.Time{}, r
	}
	if parts[2] == "" {
		return nil, time.Time{}, "it has no signature"
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return nil, time.Time{}, "its signature is not base64url"
	}
	aud, ok := parseAudience(payload.Aud)
	if !ok {
		return nil, time.Time{}, "its aud claim is neither a string nor an array of strings"
	}
	var secs json.Number
	if json.Unmarshal(payload.Exp, &secs) == nil {
		if n, err := secs.Int64(); err == nil && n > 0 {
			exp = time.Unix(n, 0)
		}
	}
	return aud, exp, ""
}

// decodePart decodes one base64url part holding a JSON object into v.
func decodePart(part, name string, v any) string {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return "its " + name + " is not base64url"
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, v) != nil {
		return "its " + name + " is not a JSON object"
	}
	return ""
}

// parseAudience reads aud as RFC 7519 allows: absent, a string or an array
// of strings.
func parseAudience(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}
