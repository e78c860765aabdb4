package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

type sample struct {
	Name  *string `json:"name"`
	Count int64   `json:"count"`
	Items []struct {
		Key string `json:"key"`
	} `json:"items"`
}

func request(body string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBodyBytes)
	return r
}

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		name string
		body string
		code errs.Code // 0 = success
		path string
	}{
		{"ok", `{"name":"a","count":2,"items":[{"key":"k"}]}`, 0, ""},
		{"empty body is {}", ``, 0, ""},
		{"whitespace body is {}", " \n ", 0, ""},
		{"unknown field", `{"name":"a","x":1}`, errs.Invalid, "x"},
		{"wrong case", `{"Name":"a"}`, errs.Invalid, "Name"},
		{"unknown nested", `{"items":[{"key":"k","v":1}]}`, errs.Invalid, ""},
		{"wrong type", `{"count":"2"}`, errs.Invalid, "count"},
		{"float for int", `{"count":1.5}`, errs.Invalid, "count"},
		{"overflow", `{"count":99999999999999999999}`, errs.Invalid, "count"},
		{"array body", `[1,2]`, errs.Invalid, ""},
		{"syntax", `{"name":`, errs.BadRequest, ""},
		{"trailing value", `{} {}`, errs.BadRequest, ""},
		{"trailing brace", `{"name":"a"}}`, errs.BadRequest, ""},
		{"trailing bracket", `{}]`, errs.BadRequest, ""},
		{"trailing space", "{} \n", 0, ""},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, errs.TooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v sample
			err := DecodeStrict(request(tc.body), &v)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("err = %v, want code %v", err, tc.code)
			}
			if tc.path != "" && (len(e.Fields) == 0 || e.Fields[0].Path != tc.path) {
				t.Errorf("fields = %+v, want path %q", e.Fields, tc.path)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	var v sample
	unknown, err := DecodeLenient(request(`{"name":"a","zeta":1,"alpha":2}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(unknown, ",") != "alpha,zeta" || *v.Name != "a" {
		t.Fatalf("unknown = %v, v = %+v", unknown, v)
	}
}

// FuzzDecodeStrict: any body gives either success or a domain error of a
// 4xx kind; never a panic or an internal error.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"count":1}`, `{"items":[{"key":"k"}]}`, `[`, `{"x":1}`, `null`, `"s"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v sample
		err := DecodeStrict(request(body), &v)
		if err == nil {
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("not a domain error: %v", err)
		}
		switch e.Code {
		case errs.Invalid, errs.BadRequest, errs.TooLarge:
		default:
			t.Fatalf("body %q: code %v", body, e.Code)
		}
	})
}

// TestDecodeRefusesNUL: a NUL character anywhere in a string of the body
// (value or key, at any depth) is a validation failure naming the field,
// with both decoders, before any field reaches a domain check or a store;
// the text "\u0000" escaped as "\\u0000" is not a NUL.
func TestDecodeRefusesNUL(t *testing.T) {
	cases := []struct {
		name string
		body string
		path string // "" = accepted
	}{
		{"value", `{"name":"a\u0000b"}`, "name"},
		{"only a NUL", `{"name":"\u0000"}`, "name"},
		{"nested", `{"items":[{"key":"k"},{"key":"\u0000"}]}`, "items.1.key"},
		{"unknown field", `{"zzz":"\u0000"}`, "zzz"},
		{"key", `{"a\u0000":1}`, `a\u0000`},
		{"escaped backslash is text", `{"name":"\\u0000"}`, ""},
		{"other escapes are fine", `{"name":"\u0001\t"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for dec, run := range map[string]func(*http.Request) error{
				"strict":  func(r *http.Request) error { var v sample; return DecodeStrict(r, &v) },
				"lenient": func(r *http.Request) error { var v sample; _, err := DecodeLenient(r, &v); return err },
			} {
				err := run(request(tc.body))
				if tc.path == "" {
					if err != nil && strings.Contains(err.Error(), "NUL") {
						t.Errorf("%s: %v", dec, err)
					}
					continue
				}
				e := errs.As(err)
				if err == nil || e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Path != tc.path || !strings.Contains(e.Fields[0].Message, "NUL") {
					t.Errorf("%s: got %v (%+v), want Invalid at %q", dec, err, e.Fields, tc.path)
				}
			}
		})
	}
}
