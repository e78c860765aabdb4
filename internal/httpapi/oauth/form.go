package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
)

const formType = "application/x-www-form-urlencoded"

// maxFormBytes bounds a form body when nothing before the handler did
// (the middleware's http.MaxBytesReader, httpapi.MaxBodyBytes, is the
// usual bound).
const maxFormBytes = httpapi.MaxBodyBytes

// formValues are a form's parameters in the order they came, as
// url.ParseQuery reads them (FuzzParseForm), without its map: a token
// request has a handful of parameters, and a slice searched in order
// costs less than building a map of slices for each request.
type formValues []formPair

type formPair struct{ key, value string }

// all returns every value of name, in order.
func (f formValues) all(name string) []string {
	var out []string
	for _, p := range f {
		if p.key == name {
			out = append(out, p.value)
		}
	}
	return out
}

// count returns how many times name is given, and its first value.
func (f formValues) count(name string) (n int, first string) {
	for _, p := range f {
		if p.key == name {
			if n == 0 {
				first = p.value
			}
			n++
		}
	}
	return n, first
}

// form reads an application/x-www-form-urlencoded body. Parameters in the
// query string are refused (a token must not travel in a URL), and so is
// any other content type (a JSON body in particular).
func form(r *http.Request) (formValues, error) {
	if r.URL.RawQuery != "" {
		return nil, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "parameters must be sent in the request body, not in the URL")
	}
	if ct := r.Header.Get("Content-Type"); ct != formType { // the common case, without parsing
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			return nil, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "the request body must be application/x-www-form-urlencoded")
		}
	}
	body, err := readBody(r)
	if err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return nil, errs.New(errs.TooLarge, "request body is larger than %d bytes", tooBig.Limit)
		}
		return nil, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "the request body could not be read")
	}
	f, err := parseForm(body, make(formValues, 0, 8))
	if err != nil {
		return nil, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "the request body is not a valid form")
	}
	for _, p := range f {
		if !cleanParam(p.key) || !cleanParam(p.value) {
			return nil, errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "a parameter holds a NUL character or invalid UTF-8")
		}
	}
	return f, nil
}

// readBody reads the whole body, at most maxFormBytes, in one allocation
// when the request says its length.
func readBody(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", nil
	}
	size := int64(512) // a token request's body, when its length is not given
	if n := r.ContentLength; n >= 0 && n <= maxFormBytes {
		size = n + 1 // +1: room to see the end without growing
	}
	buf := make([]byte, 0, size)
	lr := &io.LimitedReader{R: r.Body, N: maxFormBytes + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(buf) > maxFormBytes {
		return "", &http.MaxBytesError{Limit: maxFormBytes}
	}
	return string(buf), nil
}

// maxFormParams is url.ParseQuery's bound on the number of pairs.
const maxFormParams = 10000

var (
	errSemicolon    = errors.New("invalid semicolon separator in query") // url.ParseQuery refuses ';' in a pair
	errTooManyPairs = errors.New("number of form parameters exceeded limit")
)

// parseForm appends the pairs of an application/x-www-form-urlencoded
// body to dst: what url.ParseQuery accepts, with the same keys and values
// in the same order (FuzzParseForm), and an error for what it refuses. A
// key or value without escapes is a substring of body, not a copy.
func parseForm(body string, dst formValues) (formValues, error) {
	if strings.Count(body, "&")+1 > maxFormParams {
		return dst, errTooManyPairs
	}
	for body != "" {
		var kv string
		kv, body, _ = strings.Cut(body, "&")
		if strings.IndexByte(kv, ';') >= 0 {
			return dst, errSemicolon
		}
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := unescapeParam(k)
		if err != nil {
			return dst, err
		}
		v, err = unescapeParam(v)
		if err != nil {
			return dst, err
		}
		dst = append(dst, formPair{k, v})
	}
	return dst, nil
}

// unescapeParam is url.QueryUnescape, without a copy when s holds no
// escape.
func unescapeParam(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// cleanParam reports whether s is valid UTF-8 without NUL.
func cleanParam(s string) bool { return strings.IndexByte(s, 0) < 0 && validUTF8(s) }

// single returns a parameter that may appear at most once (RFC 6749 3.2).
func single(f formValues, name string, required bool) (string, error) {
	n, v := f.count(name)
	switch {
	case n > 1:
		return "", errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "parameter %s is given more than once", name)
	case n == 0 || v == "":
		if required {
			return "", errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "parameter %s is required", name)
		}
		return "", nil
	}
	return v, nil
}
