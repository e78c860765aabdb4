package kubeauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func jws(header, payload string) string { return b64(header) + "." + b64(payload) + "." + b64("sig") }

func TestParseJWT(t *testing.T) {
	t.Parallel()
	good := []struct {
		in  string
		aud []string
	}{
		{jws(`{"alg":"RS256","kid":"k"}`, `{"sub":"x"}`), nil},
		{jws(`{"alg":"RS256"}`, `{"aud":"vault"}`), []string{"vault"}},
		{jws(`{"alg":"ES256"}`, `{"aud":["a","b"]}`), []string{"a", "b"}},
		{jws(`{"alg":"RS256"}`, `{"aud":null}`), nil},
		{"  " + jws(`{"alg":"RS256"}`, `{}`) + "\n", nil}, // a token file read as is
	}
	for _, tc := range good {
		got, err := ParseJWT(tc.in)
		if err != nil {
			t.Errorf("ParseJWT(%q): %v", tc.in, err)
			continue
		}
		if strings.Join(got.Audiences, ",") != strings.Join(tc.aud, ",") || got.Raw.Reveal() != strings.TrimSpace(tc.in) {
			t.Errorf("ParseJWT(%q) = aud %q raw %q", tc.in, got.Audiences, got.Raw.Reveal())
		}
	}

	for payload, want := range map[string]string{`{"iss":"https://k8s"}`: "https://k8s", `{}`: "", `{"iss":5}`: "", `{"iss":["a"]}`: ""} {
		if got, err := ParseJWT(jws(`{"alg":"RS256"}`, payload)); err != nil || got.Issuer != want {
			t.Errorf("ParseJWT(payload %s): Issuer %q, %v; want %q", payload, got.Issuer, err, want)
		}
	}

	bad := []struct {
		name, in string
		code     errs.Code
		why      string
	}{
		{"empty", "", errs.Invalid, "Required"},
		{"spaces", "  \n", errs.Invalid, "Required"},
		{"too long", jws(`{"alg":"RS256"}`, `{"x":"`+strings.Repeat("a", MaxJWTBytes)+`"}`), errs.Invalid, "at most 16384"},
		{"one part", "abc", errs.Unauthenticated, "1 dot-separated parts"},
		{"two parts", "a.b", errs.Unauthenticated, "2 dot-separated"},
		{"four parts", "a.b.c.d", errs.Unauthenticated, "4 dot-separated"},
		{"JWE-like", "a.b.c.d.e", errs.Unauthenticated, "5 dot-separated"},
		{"header not base64", "!!!." + b64(`{}`) + ".c2ln", errs.Unauthenticated, "header is not base64url"},
		{"header padded", b64(`{"alg":"RS256"}`) + "=." + b64(`{}`) + ".c2ln", errs.Unauthenticated, "header is not base64url"},
		{"header not JSON", b64("hello") + "." + b64(`{}`) + ".c2ln", errs.Unauthenticated, "header is not a JSON object"},
		{"header array", b64(`["alg"]`) + "." + b64(`{}`) + ".c2ln", errs.Unauthenticated, "header is not a JSON object"},
		{"no alg", jws(`{"typ":"JWT"}`, `{}`), errs.Unauthenticated, "no signing algorithm"},
		{"alg none", jws(`{"alg":"none"}`, `{}`), errs.Unauthenticated, "no signing algorithm"},
		{"alg not string", jws(`{"alg":1}`, `{}`), errs.Unauthenticated, "header is not a JSON object"},
		{"payload not JSON", b64(`{"alg":"RS256"}`) + "." + b64("x") + ".c2ln", errs.Unauthenticated, "payload is not a JSON object"},
		{"payload a string", jws(`{"alg":"RS256"}`, `"x"`), errs.Unauthenticated, "payload is not a JSON object"},
		{"no signature", b64(`{"alg":"RS256"}`) + "." + b64(`{}`) + ".", errs.Unauthenticated, "no signature"},
		{"signature not base64", b64(`{"alg":"RS256"}`) + "." + b64(`{}`) + ".+/=", errs.Unauthenticated, "signature is not base64url"},
		{"aud a number", jws(`{"alg":"RS256"}`, `{"aud":5}`), errs.Unauthenticated, "aud claim"},
		{"aud mixed array", jws(`{"alg":"RS256"}`, `{"aud":["a",1]}`), errs.Unauthenticated, "aud claim"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWT(tc.in)
			e := errs.As(err)
			if err == nil || e.Code != tc.code || !strings.Contains(e.Error()+fieldsText(e), tc.why) {
				t.Fatalf("err = %v (code %v, fields %+v), want code %v mentioning %q", err, e.Code, e.Fields, tc.code, tc.why)
			}
			if tc.code == errs.Unauthenticated && !errors.Is(err, ErrMalformedJWT) {
				t.Errorf("%v is not ErrMalformedJWT", err)
			}
			if len(tc.in) > 10 && strings.Contains(e.Error(), tc.in[:10]) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

func fieldsText(e *errs.Error) string {
	var b strings.Builder
	for _, f := range e.Fields {
		b.WriteString(" " + f.Path + " " + f.Message)
	}
	return b.String()
}

// FuzzParseJWT: never panics; an accepted token really has the shape, and
// a rejection is always a domain error of the two documented codes.
func FuzzParseJWT(f *testing.F) {
	f.Add(jws(`{"alg":"RS256"}`, `{"aud":["a"]}`))
	f.Add(jws(`{"alg":"none"}`, `{}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Add(b64(`{"alg":"RS256"}`) + "." + b64(`{"aud":"x"}`) + ".")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseJWT(in)
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.Unauthenticated {
				t.Fatalf("ParseJWT(%q): code %v", in, c)
			}
			return
		}
		raw := got.Raw.Reveal()
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || parts[2] == "" || len(raw) > MaxJWTBytes || raw != strings.TrimSpace(raw) {
			t.Fatalf("ParseJWT(%q) accepted a token without the JWS shape", in)
		}
		for _, p := range parts {
			if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
				t.Fatalf("ParseJWT(%q) accepted a part that is not base64url", in)
			}
		}
	})
}
