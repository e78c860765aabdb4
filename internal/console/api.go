package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// maxAPIBody bounds an API answer the console reads.
const maxAPIBody = 4 << 20

// APIError is a non-2xx answer of the API.
type APIError struct {
	Status  int
	Name    string            // Infisical's "error", e.g. "ValidationFailure"
	Message string            // the message, or the field errors joined
	Fields  map[string]string // validation errors by field path
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Name, e.Message) }

// call sends one request to the API as the session's token (none when s
// is nil), with r's context and client address; in (when not nil) is sent
// as JSON and a 2xx answer is decoded into out (when not nil). Any other
// answer is an *APIError.
func (c *Console) call(r *http.Request, s *Session, method, path string, in, out any) error {
	tok := ""
	if s != nil {
		tok = string(s.Token)
	}
	return c.callToken(r.Context(), r, tok, method, path, in, out)
}

func (c *Console) callToken(ctx context.Context, r *http.Request, tok, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.TLS = r.TLS
	// The API resolves the client address as for any request: from
	// RemoteAddr, and X-Forwarded-For only when RemoteAddr is a trusted
	// proxy (--trusted-proxies).
	for _, h := range []string{"User-Agent", "X-Forwarded-For"} {
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := &recorder{header: http.Header{}}
	c.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.overflow {
		return fmt.Errorf("console: API answer of %s %s over %d bytes", method, path, maxAPIBody)
	}
	if rec.status < 200 || rec.status > 299 {
		return parseAPIError(rec.status, rec.body.Bytes())
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("console: decoding %s %s: %w", method, path, err)
	}
	return nil
}

// parseAPIError reads Infisical's error body ({statusCode, error,
// message: string or [{path, message}]}) or Vault's ({errors: [...]}).
func parseAPIError(status int, b []byte) *APIError {
	e := &APIError{Status: status, Name: http.StatusText(status)}
	var body struct {
		Error   string          `json:"error"`
		Message json.RawMessage `json:"message"`
		Errors  []string        `json:"errors"`
	}
	if json.Unmarshal(b, &body) != nil {
		e.Message = http.StatusText(status)
		return e
	}
	if body.Error != "" {
		e.Name = body.Error
	}
	var msg string
	var fields []struct{ Path, Message string }
	switch {
	case json.Unmarshal(body.Message, &msg) == nil:
		e.Message = msg
	case json.Unmarshal(body.Message, &fields) == nil:
		e.Fields = map[string]string{}
		var all []string
		for _, f := range fields {
			if prev, ok := e.Fields[f.Path]; ok {
				e.Fields[f.Path] = prev + "; " + f.Message
			} else {
				e.Fields[f.Path] = f.Message
			}
			if f.Path != "" {
				all = append(all, f.Path+": "+f.Message)
			} else {
				all = append(all, f.Message)
			}
		}
		sort.Strings(all)
		e.Message = strings.Join(all, "; ")
	case len(body.Errors) > 0:
		e.Message = strings.Join(body.Errors, "; ")
	default:
		e.Message = http.StatusText(status)
	}
	return e
}

// asAPIError is err's *APIError, or nil.
func asAPIError(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// formErrors copies an API error onto a form: field errors next to their
// fields (path → field name through rename, when given), anything else
// as the form's own error ("").
func formErrors(f Form, err error, rename map[string]string) {
	e := asAPIError(err)
	if e == nil {
		f.Errors[""] = "The request failed."
		return
	}
	if len(e.Fields) == 0 {
		f.Errors[""] = e.Message
		return
	}
	for path, msg := range e.Fields {
		name := path
		if n, ok := rename[path]; ok {
			name = n
		} else if i := strings.IndexAny(path, ".["); i > 0 {
			if n, ok := rename[path[:i]]; ok {
				name = n
			} else {
				name = path[:i]
			}
		}
		if name != path {
			msg = linePath(path) + ": " + msg
		}
		if f.Errors[name] != "" {
			msg = f.Errors[name] + "; " + msg
		}
		f.Errors[name] = msg
	}
}

// fail answers a failed API call that is not a form's: a dead token ends
// the session, other statuses show the error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	e := asAPIError(err)
	if e == nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: API call failed", "err", err)
		c.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong.")
		return
	}
	if e.Status == http.StatusUnauthorized {
		c.signedOut(w, r, s, "token-refused")
		c.renderError(w, r, nil, http.StatusUnauthorized, "Your token is no longer accepted ("+e.Name+"). Sign in again.")
		return
	}
	c.renderError(w, r, s, e.Status, e.Message)
}

// recorder collects the API's answer, bounded.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > maxAPIBody {
		r.overflow = true
		return 0, errors.New("answer too large")
	}
	return r.body.Write(b)
}

// linePath names the part of a field an error path points at: for
// "metadata.2.key", "line 3 key" (list fields are edited one entry a line).
func linePath(path string) string {
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
	if len(parts) < 2 {
		return path
	}
	out := make([]string, 0, len(parts)-1)
	for _, p := range parts[1:] {
		if n, err := strconv.Atoi(p); err == nil {
			p = "line " + strconv.Itoa(n+1)
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}
