package oidc

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// es256Signer signs compact JWS with ES256 straight through crypto/ecdsa:
// the protected header is encoded once per key, and the signature is
// converted from ASN.1 to the fixed-width R||S form of RFC 7518 section
// 3.4 without math/big. It makes the same JWS go-jose made (same header
// members), at a fraction of the allocations; go-jose still verifies
// (Keys.Verify, the tests), so an encoding mistake here cannot go unseen.
type es256Signer struct {
	priv *ecdsa.PrivateKey
	// header is the base64url protected header followed by '.'.
	header string
}

func newES256Signer(priv *ecdsa.PrivateKey, kid string) (*es256Signer, error) {
	if priv.Curve.Params().BitSize != 256 {
		return nil, fmt.Errorf("oidc: ES256 needs a P-256 key, not %s", priv.Curve.Params().Name)
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{ES256, kid, "JWT"})
	if err != nil {
		return nil, err
	}
	return &es256Signer{priv: priv, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// es256SigLen is the base64url length of a 64-byte R||S signature.
var es256SigLen = base64.RawURLEncoding.EncodedLen(64)

// sign returns header.payload.signature for the JSON payload.
func (s *es256Signer) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(s.header) + enc.EncodedLen(len(payload))
	out := make([]byte, n, n+1+es256SigLen)
	copy(out, s.header)
	enc.Encode(out[len(s.header):], payload)
	digest := sha256.Sum256(out)
	der, err := ecdsa.SignASN1(rand.Reader, s.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("oidc: signing: %w", err)
	}
	var raw [64]byte
	if err := rawSignature(der, &raw); err != nil {
		return "", err
	}
	out = append(out, '.')
	out = out[:len(out)+es256SigLen]
	enc.Encode(out[n+1:], raw[:])
	return string(out), nil
}

// rawSignature writes the ASN.1 ECDSA signature der (SEQUENCE of two
// INTEGERs, short-form lengths: a P-256 signature is at most 72 bytes) as
// R||S, each a 32-byte big-endian integer (RFC 7518 section 3.4).
func rawSignature(der []byte, raw *[64]byte) error {
	bad := errors.New("oidc: malformed ECDSA signature")
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return bad
	}
	rest := der[2:]
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || rest[1] >= 0x80 || int(rest[1]) > len(rest)-2 {
			return bad
		}
		v := rest[2 : 2+int(rest[1])]
		rest = rest[2+int(rest[1]):]
		if !putFixed(raw[32*i:32*(i+1)], v) {
			return errors.New("oidc: ECDSA signature out of range")
		}
	}
	if len(rest) != 0 {
		return bad
	}
	return nil
}

// putFixed writes the positive DER INTEGER contents v right-aligned in dst.
func putFixed(dst []byte, v []byte) bool {
	if len(v) == 0 || v[0]&0x80 != 0 {
		return false // empty or negative
	}
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	clear(dst[:len(dst)-len(v)])
	copy(dst[len(dst)-len(v):], v)
	return true
}
