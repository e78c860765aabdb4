package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestES256SignerVerifiesWithGoJose: every JWS the fast signer makes is
// one go-jose parses and verifies, with the header go-jose itself wrote
// before (alg, kid, typ) and the payload unchanged. Enough signatures that
// R or S with leading zero bytes (1 in 128 per signature) come up.
func TestES256SignerVerifiesWithGoJose(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newES256Signer(priv, "kid-1")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload := []byte(`{"iss":"https://issuer.test","sub":"x","aud":"a","exp":1}`)
	for i := range 2000 {
		compact, err := s.sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("go-jose cannot parse %q: %v", compact, err)
		}
		h := jws.Signatures[0].Header
		if h.Algorithm != "ES256" || h.KeyID != "kid-1" || h.ExtraHeaders["typ"] != "JWT" {
			t.Fatalf("header %+v", h)
		}
		got, err := jws.Verify(&priv.PublicKey)
		if err != nil || string(got) != string(payload) {
			t.Fatalf("signature %d does not verify: %v (%s)", i, err, got)
		}
		if _, err := jws.Verify(&other.PublicKey); err == nil {
			t.Fatal("verified with another key")
		}
		if i == 0 {
			// A tampered payload fails.
			parts := strings.Split(compact, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://evil.test"}`))
			bad, err := jose.ParseSigned(strings.Join(parts, "."), []jose.SignatureAlgorithm{jose.ES256})
			if err == nil {
				if _, err := bad.Verify(&priv.PublicKey); err == nil {
					t.Fatal("a tampered payload verified")
				}
			}
		}
	}
}

// TestRawSignature: DER signatures to R||S, leading zeros and all, and
// malformed ones refused.
func TestRawSignature(t *testing.T) {
	enc := func(r, s *big.Int) []byte {
		type sig struct{ R, S *big.Int }
		b, err := asn1.Marshal(sig{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n := elliptic.P256().Params().N
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1))
	for _, c := range []struct{ r, s *big.Int }{
		{big.NewInt(1), big.NewInt(2)},
		{nMinus1, nMinus1},                                      // high bit set: DER adds a 0x00
		{new(big.Int).Lsh(big.NewInt(1), 200), big.NewInt(255)}, // short R
	} {
		var raw [64]byte
		if err := rawSignature(enc(c.r, c.s), &raw); err != nil {
			t.Fatalf("%v %v: %v", c.r, c.s, err)
		}
		if new(big.Int).SetBytes(raw[:32]).Cmp(c.r) != 0 || new(big.Int).SetBytes(raw[32:]).Cmp(c.s) != 0 {
			t.Errorf("%v %v: got %x", c.r, c.s, raw)
		}
	}
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	good := enc(big.NewInt(1), big.NewInt(2))
	for name, der := range map[string][]byte{
		"empty":      nil,
		"not a seq":  append([]byte{0x31}, good[1:]...),
		"trailing":   append(append([]byte(nil), good...), 0),
		"short":      good[:len(good)-1],
		"too big":    enc(tooBig, big.NewInt(1)),
		"negative":   enc(big.NewInt(-5), big.NewInt(1)),
		"one int":    {0x30, 0x03, 0x02, 0x01, 0x01},
		"wrong type": {0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01},
	} {
		var raw [64]byte
		if err := rawSignature(der, &raw); err == nil {
			t.Errorf("%s: accepted %x", name, der)
		}
	}
}

// claimsCases are claims worth encoding: every optional member on and
// off, one and several audiences, and strings that need escaping.
func claimsCases() []Claims {
	base := Claims{Issuer: "https://gatehouse.test", Subject: "4b8f0c8e-8f55-4f61-9d1b-7a0d2e0f3c11", Audience: Audience{"sts.amazonaws.com"},
		IssuedAt: 1767000000, NotBefore: 1767000000, Expiry: 1767003600, ID: "abcdefghijklmnopqrstuv"}
	full := base
	full.Scope, full.ClientID, full.IdentityName, full.AuthMethod = "read write", "m-1", "app", "kubernetes-auth"
	full.Kubernetes = &KubernetesClaim{Cluster: "k8s/", Namespace: "ns", ServiceAccount: "sa", Pod: "pod-1"}
	var out []Claims
	out = append(out, base, full)
	k := full
	k.Kubernetes = &KubernetesClaim{Namespace: "ns", ServiceAccount: "sa"}
	out = append(out, k)
	many := full
	many.Audience = Audience{"a", "b<&>", "c"}
	out = append(out, many)
	none := base
	none.Audience = nil
	out = append(out, none)
	emptyAud := base
	emptyAud.Audience = Audience{}
	out = append(out, emptyAud)
	neg := base
	neg.IssuedAt, neg.Expiry = -1, 0
	out = append(out, neg)
	for _, s := range []string{"", "\"quoted\"", `back\slash`, "<script>&amp;", "tab\tnl\ncr\r\x00\x1f\x7f", "é ünïcode 漢字",
		"\u2028\u2029", "bad utf8 \xff\xfe", "emoji 😀", "/slash/"} {
		c := full
		c.Issuer, c.Subject, c.Scope, c.IdentityName = s, s, s, s
		c.Audience = Audience{s}
		c.Kubernetes = &KubernetesClaim{Cluster: s, Namespace: s, ServiceAccount: s, Pod: s}
		out = append(out, c)
	}
	return out
}

func TestAppendClaimsMatchesEncodingJSON(t *testing.T) {
	for i, c := range claimsCases() {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendClaims(nil, &c); string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendClaims(f *testing.F) {
	f.Add("https://gatehouse.test", "sub", "aud", "aud2", "scope", "ns", "\u2028<>&\"\\\x00\xff", int64(1767000000), true)
	f.Fuzz(func(t *testing.T, iss, sub, aud1, aud2, scope, ns, pod string, iat int64, kube bool) {
		c := Claims{Issuer: iss, Subject: sub, Audience: Audience{aud1}, IssuedAt: iat, NotBefore: iat, Expiry: iat + 3600,
			ID: sub, Scope: scope, ClientID: aud2, IdentityName: ns, AuthMethod: pod}
		if aud2 != "" {
			c.Audience = append(c.Audience, aud2)
		}
		if kube {
			c.Kubernetes = &KubernetesClaim{Cluster: scope, Namespace: ns, ServiceAccount: sub, Pod: pod}
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendClaims(nil, &c); string(got) != string(want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}
