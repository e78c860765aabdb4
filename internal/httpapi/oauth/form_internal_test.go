package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// sameAsParseQuery checks parseForm against url.ParseQuery: both refuse
// body, or both accept it with the same values per key, in order.
func sameAsParseQuery(t *testing.T, body string) {
	t.Helper()
	want, wantErr := url.ParseQuery(body)
	got, err := parseForm(body, nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: parseForm error %v, url.ParseQuery error %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	asValues := url.Values{}
	for _, p := range got {
		asValues[p.key] = append(asValues[p.key], p.value)
	}
	if !reflect.DeepEqual(asValues, want) {
		t.Fatalf("%q: parseForm %v, url.ParseQuery %v", body, asValues, want)
	}
}

var formSeeds = []string{
	"", "&", "&&a=1&&", "a", "a=", "=a", "=", "a=1&a=2&b=3", "a=1;b=2", "a;=1", "a=%41%42+c",
	"a=%", "a=%4", "a=%zz", "%zz=1", "a+b=c+d", "a=%00", "a=%ff%fe", "a==b", "a=1&b", "\xff=\xfe",
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=x&audience=a&audience=b",
}

func TestParseFormMatchesParseQuery(t *testing.T) {
	for _, body := range formSeeds {
		sameAsParseQuery(t, body)
	}
	sameAsParseQuery(t, strings.Repeat("a=1&", maxFormParams-1)+"a=1")
	sameAsParseQuery(t, strings.Repeat("a=1&", maxFormParams)+"a=1")
}

func FuzzParseForm(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	f.Fuzz(sameAsParseQuery)
}

// TestFormBody: form reads bodies up to the bound, with and without a
// length, and refuses larger ones as too large.
func TestFormBody(t *testing.T) {
	big := "a=" + strings.Repeat("x", maxFormBytes)
	for _, tc := range []struct {
		name     string
		body     string
		length   int64 // -1: unknown
		wrap     bool  // behind http.MaxBytesReader, as the middleware does
		want     []string
		wantCode errs.Code // when wantErr
		wantErr  bool
	}{
		{name: "known length", body: "a=1&b=2&a=3", length: 11, want: []string{"1", "3"}},
		{name: "unknown length", body: "a=1&b=2&a=3", length: -1, want: []string{"1", "3"}},
		{name: "short length", body: "a=1&b=2&a=3", length: 3, want: []string{"1", "3"}},
		{name: "empty", body: "", length: 0},
		{name: "too large", body: big, length: -1, wantErr: true, wantCode: errs.TooLarge},
		{name: "too large, known length", body: big, length: int64(len(big)), wantErr: true, wantCode: errs.TooLarge},
		{name: "too large, limited", body: big, length: -1, wrap: true, wantErr: true, wantCode: errs.TooLarge},
		{name: "invalid", body: "a=%zz", length: -1, wantErr: true, wantCode: errs.BadRequest},
		{name: "NUL", body: "a=%00", length: -1, wantErr: true, wantCode: errs.BadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", formType)
			r.ContentLength = tc.length
			if tc.wrap {
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, httpapi.MaxBodyBytes)
			}
			f, err := form(r)
			if tc.wantErr {
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode {
					t.Fatalf("err %v, want code %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.all("a"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("a = %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkParseForm: a token-exchange body through url.ParseQuery (what
// http.Request.ParseForm does) and through parseForm.
func BenchmarkParseForm(b *testing.B) {
	body := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {"gh1.Ab3xYz_9fKq2LmN7pQrStUvWx0yZa1Bc2De3Fg4Hi5Jk"},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "audience": {"sts.amazonaws.com"}}.Encode()
	b.Run("url.ParseQuery", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := url.ParseQuery(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseForm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseForm(body, make(formValues, 0, 8)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
