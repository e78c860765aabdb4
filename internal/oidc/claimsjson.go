package oidc

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendClaims appends c as encoding/json would marshal it, byte for byte
// (TestAppendClaimsMatchesEncodingJSON, FuzzAppendClaims), without
// reflection: the claims of every exchange are encoded on its hot path.
func appendClaims(b []byte, c *Claims) []byte {
	b = append(b, `{"iss":`...)
	b = appendString(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = appendString(b, c.Subject)
	b = append(b, `,"aud":`...)
	switch {
	case len(c.Audience) == 1:
		b = appendString(b, c.Audience[0])
	case c.Audience == nil:
		b = append(b, "null"...)
	default:
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, c.NotBefore, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry, 10)
	b = append(b, `,"jti":`...)
	b = appendString(b, c.ID)
	b = appendOptional(b, `,"scope":`, c.Scope)
	b = appendOptional(b, `,"client_id":`, c.ClientID)
	b = appendOptional(b, `,"gatehouse.dev/identity_name":`, c.IdentityName)
	b = appendOptional(b, `,"gatehouse.dev/auth_method":`, c.AuthMethod)
	if k := c.Kubernetes; k != nil {
		b = append(b, `,"gatehouse.dev/kubernetes":{`...)
		if k.Cluster != "" {
			b = append(b, `"cluster":`...)
			b = appendString(b, k.Cluster)
			b = append(b, ',')
		}
		b = append(b, `"namespace":`...)
		b = appendString(b, k.Namespace)
		b = append(b, `,"serviceAccount":`...)
		b = appendString(b, k.ServiceAccount)
		b = appendOptional(b, `,"pod":`, k.Pod)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendOptional appends key and s unless s is empty (omitempty).
func appendOptional(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString appends s as a JSON string. Printable ASCII other than the
// characters encoding/json escapes is copied; anything else (control
// characters, '"', '\\', HTML's '<', '>', '&', non-ASCII with its invalid
// UTF-8 and U+2028/U+2029) goes through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
