package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the (already size-capped) body; an empty body reads as {}.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return []byte("{}"), nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errs.New(errs.TooLarge, "request body is larger than %d bytes", tooBig.Limit)
		}
		return nil, errs.New(errs.BadRequest, "could not read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}"), nil
	}
	if err := checkNUL(b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkNUL refuses a body with a NUL character in any string (a value or a
// key, at any depth): no store can keep one (PostgreSQL refuses it in
// text), no name or setting needs one, and refusing it here keeps it from
// every domain check, log line and store call. In valid JSON a NUL can
// only be the escape \u0000, so bodies without that text cost one scan.
// A body that is not valid JSON is left to the decoder to refuse.
func checkNUL(b []byte) error {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	if path, ok := findNUL(v, ""); ok {
		return errs.Validation(errs.FieldError{Path: path, Message: "must not contain NUL characters"})
	}
	return nil
}

// findNUL returns the path ("a.0.b") of the first string in v that holds a
// NUL character, in key order.
func findNUL(v any, path string) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case string:
		return path, strings.IndexByte(v, 0) >= 0
	case []any:
		for i, e := range v {
			if p, ok := findNUL(e, join(fmt.Sprint(i))); ok {
				return p, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.IndexByte(k, 0) >= 0 {
				return join(strings.ReplaceAll(k, "\x00", `\u0000`)), true
			}
			if p, ok := findNUL(v[k], join(k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// DecodeStrict decodes the request body into v, rejecting unknown fields,
// wrong types and trailing data, as the Infisical API's schemas do
// (additionalProperties: false). Schema failures are errs.Invalid with the
// field's path; malformed JSON is errs.BadRequest.
func DecodeStrict(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.New(errs.BadRequest, "request body holds more than one JSON value")
	}
	// encoding/json matches field names case-insensitively; the APIs we
	// speak do not, so a top-level key must match a field name exactly.
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) == nil {
		known := jsonFieldNames(v)
		var fields []errs.FieldError
		for k := range raw {
			if !known[k] {
				fields = append(fields, errs.FieldError{Path: k, Message: "unrecognized field"})
			}
		}
		if len(fields) > 0 {
			sort.Slice(fields, func(i, j int) bool { return fields[i].Path < fields[j].Path })
			return errs.Validation(fields...)
		}
	}
	return nil
}

// DecodeLenient decodes the request body into v like Vault does: fields v
// does not know are ignored and returned, sorted, so the caller can warn.
func DecodeLenient(r *http.Request, v any) (unknown []string, err error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, decodeError(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, decodeError(err)
	}
	known := jsonFieldNames(v)
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown, nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errs.New(errs.BadRequest, "request body is not valid JSON")
	case errors.As(err, &typ):
		path := typ.Field
		if path == "" {
			return errs.Validation(errs.FieldError{Path: "", Message: fmt.Sprintf("expected a JSON %s, got %s", jsonType(typ.Type.Kind().String()), typ.Value)})
		}
		return errs.Validation(errs.FieldError{Path: path, Message: fmt.Sprintf("expected %s, got %s", jsonType(typ.Type.Kind().String()), typ.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Validation(errs.FieldError{Path: name, Message: "unrecognized field"})
	}
	return errs.New(errs.BadRequest, "request body is not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return kind
}

// jsonFieldNames returns the JSON names of the fields of the struct v
// points to.
func jsonFieldNames(v any) map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return names
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}
