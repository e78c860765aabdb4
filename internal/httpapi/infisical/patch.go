package infisical

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// principalAndPatch authenticates the caller, then decodes a PATCH body
// into v as Infisical's schemas do: the body is required (an empty one is
// a 422), strict like every body, and null is a value, not an omission:
// it is a 422 on every field but the nullable ones, which v's types tell
// apart from absent.
func (a *API) principalAndPatch(r *http.Request, v any, nullable ...string) (identity.Principal, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return identity.Principal{}, err
	}
	return p, decodePatch(r, v, nullable...)
}

func decodePatch(r *http.Request, v any, nullable ...string) error {
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return errs.New(errs.TooLarge, "request body is larger than %d bytes", tooBig.Limit)
			}
			return errs.New(errs.BadRequest, "could not read the request body")
		}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errs.Validation(errs.FieldError{Path: "", Message: "Required: the request body (a JSON object) is missing"})
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) == nil {
		var bad []errs.FieldError
		for k, raw := range fields {
			if string(bytes.TrimSpace(raw)) == "null" && !slices.Contains(nullable, k) {
				bad = append(bad, errs.FieldError{Path: k, Message: "Expected a value, received null"})
			}
		}
		if len(bad) > 0 {
			sort.Slice(bad, func(i, j int) bool { return bad[i].Path < bad[j].Path })
			return errs.Validation(bad...)
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return httpapi.DecodeStrict(r, v)
}
