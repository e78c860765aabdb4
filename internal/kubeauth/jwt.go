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
	// Issuer is the unverified iss claim ("" when absent or not a
	// string), compared with a configured issuer once the API server has
	// authenticated the token, as Vault does.
	Issuer string
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
	j, reason := parseJWS(raw)
	if reason != "" {
		return JWT{}, errs.Because(errs.Unauthenticated, ErrMalformedJWT, "the jwt is not a well-formed JWT: %s", reason)
	}
	j.Raw = secret.Secret(raw)
	return j, nil
}

// parseJWS returns the unverified claims a JWT is kept with, or why raw
// is not a compact JWS.
func parseJWS(raw string) (j JWT, reason string) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return JWT{}, fmt.Sprintf("it has %d dot-separated parts, a JWT has 3 (header.payload.signature)", len(parts))
	}
	var header struct {
		Alg *string `json:"alg"`
	}
	if r := decodePart(parts[0], "header", &header); r != "" {
		return JWT{}, r
	}
	if header.Alg == nil || *header.Alg == "" || strings.EqualFold(*header.Alg, "none") {
		return JWT{}, "its header names no signing algorithm (alg)"
	}
	var payload struct {
		Aud json.RawMessage `json:"aud"`
		Exp json.RawMessage `json:"exp"`
		Iss json.RawMessage `json:"iss"`
	}
	if r := decodePart(parts[1], "payload", &payload); r != "" {
		return JWT{}, r
	}
	if parts[2] == "" {
		return JWT{}, "it has no signature"
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return JWT{}, "its signature is not base64url"
	}
	aud, ok := parseAudience(payload.Aud)
	if !ok {
		return JWT{}, "its aud claim is neither a string nor an array of strings"
	}
	j.Audiences = aud
	var secs json.Number
	if json.Unmarshal(payload.Exp, &secs) == nil {
		if n, err := secs.Int64(); err == nil && n > 0 {
			j.Expiry = time.Unix(n, 0)
		}
	}
	_ = json.Unmarshal(payload.Iss, &j.Issuer) // not a string: "", which no issuer equals
	return j, ""
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
