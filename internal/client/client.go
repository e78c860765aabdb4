// Package client speaks Gatehouse's two login APIs — the Infisical
// machine-identity API and the Vault Kubernetes auth API — from the
// workload's side: log in, renew, look up and revoke an access token. It
// talks the wire with net/http, so it works against a real Infisical or
// Vault as well. `gatehouse login` and `gatehouse agent` are built on it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// API names a wire contract.
type API string

const (
	Infisical API = "infisical"
	Vault     API = "vault"
)

// Method names a login method.
type Method string

const (
	Kubernetes Method = "kubernetes"
	Universal  Method = "universal"
)

// maxBody caps what is read of any answer.
const maxBody = 1 << 20

// Token is an access token. It never prints itself: use Reveal.
type Token struct{ value string }

// NewToken wraps a token value.
func NewToken(v string) Token { return Token{value: v} }

// Reveal is the token's value, for a request header or a sink.
func (t Token) Reveal() string { return t.value }

// IsZero reports whether there is no token.
func (t Token) IsZero() bool { return t.value == "" }

func (Token) String() string               { return "REDACTED_TOKEN" }
func (Token) LogValue() slog.Value         { return slog.StringValue("REDACTED_TOKEN") }
func (Token) GoString() string             { return "REDACTED_TOKEN" }
func (Token) MarshalText() ([]byte, error) { return []byte("REDACTED_TOKEN"), nil }

// Login is the answer to a login or a renewal.
type Login struct {
	Token Token
	// TTL is how long the token lives from now (0: no expiry).
	TTL time.Duration
	// MaxTTL is the token's maximum life from its login, when the API says
	// (Infisical's accessTokenMaxTTL; 0: unknown or unlimited).
	MaxTTL time.Duration
	// Renewable is false when the server said the token cannot be renewed.
	Renewable bool
	// Accessor is the token's accessor, when the API gives one (Vault).
	Accessor string
}

// Credentials are what a login presents. JWT and ClientSecret are secrets.
type Credentials struct {
	Method Method
	// IdentityID (Infisical) or Role (Vault) with JWT, for Kubernetes.
	IdentityID, Role, JWT string
	// ClientID and ClientSecret, for Universal Auth (Infisical API only).
	ClientID, ClientSecret string
}

// Client is a client of one Gatehouse (or Infisical, or Vault) address.
type Client struct {
	// Address is the server's base URL, e.g. https://gatehouse.example:8080.
	Address string
	// API is the wire contract; Infisical when empty.
	API API
	// Mount is the Vault auth mount of Kubernetes logins; "kubernetes"
	// when empty.
	Mount string
	// HTTP is the HTTP client; it should have a Timeout.
	HTTP *http.Client
}

// ErrUnsupported is a method the API does not offer.
var ErrUnsupported = errors.New("not supported by this API")

// Error is an answer the server gave instead of a token: the request
// reached it and it said no (or failed).
type Error struct {
	Op     string // "login", "renew", "lookup", "revoke"
	Status int
	// Name is Infisical's error name (e.g. "KubernetesTokenReviewError");
	// empty on the Vault API.
	Name string
	// Message is the server's own message.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused by the server: %d", e.Op, e.Status)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s", e.Name)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Temporary reports whether retrying later may succeed: the server is
// overloaded, unavailable, or limiting the rate of logins.
func (e *Error) Temporary() bool { return e.Status >= 500 || e.Status == http.StatusTooManyRequests }

// UnreachableError is a request that got no answer from the server.
type UnreachableError struct {
	Op, Address string
	Err         error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s: server %s unreachable: %v", e.Op, e.Address, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying as it is: no answer,
// or a 5xx or 429. A refusal (4xx) is not: the credentials must change.
func IsTemporary(err error) bool {
	var u *UnreachableError
	if errors.As(err, &u) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Temporary()
}

func (c *Client) api() API {
	if c.API == "" {
		return Infisical
	}
	return c.API
}

func (c *Client) mount() string {
	if c.Mount == "" {
		return "kubernetes"
	}
	return strings.Trim(c.Mount, "/")
}

// Login logs in with cr.
func (c *Client) Login(ctx context.Context, cr Credentials) (Login, error) {
	switch c.api() {
	case Infisical:
		var path string
		var body any
		switch cr.Method {
		case Kubernetes:
			path, body = "/api/v1/auth/kubernetes-auth/login", map[string]string{"identityId": cr.IdentityID, "jwt": cr.JWT}
		case Universal:
			path, body = "/api/v1/auth/universal-auth/login", map[string]string{"clientId": cr.ClientID, "clientSecret": cr.ClientSecret}
		default:
			return Login{}, fmt.Errorf("login method %q: %w", cr.Method, ErrUnsupported)
		}
		var out infisicalToken
		if err := c.do(ctx, "login", "POST", path, "", body, &out); err != nil {
			return Login{}, err
		}
		return out.login()
	case Vault:
		if cr.Method != Kubernetes {
			return Login{}, fmt.Errorf("login method %q on the Vault API: %w", cr.Method, ErrUnsupported)
		}
		var out vaultAuth
		if err := c.do(ctx, "login", "POST", "/v1/auth/"+url.PathEscape(c.mount())+"/login", "", map[string]string{"role": cr.Role, "jwt": cr.JWT}, &out); err != nil {
			return Login{}, err
		}
		return out.login()
	}
	return Login{}, fmt.Errorf("API %q: %w", c.API, ErrUnsupported)
}

// Renew renews tok and answers its new TTL.
func (c *Client) Renew(ctx context.Context, tok Token) (Login, error) {
	if c.api() == Vault {
		var out vaultAuth
		if err := c.do(ctx, "renew", "POST", "/v1/auth/token/renew-self", tok.Reveal(), struct{}{}, &out); err != nil {
			return Login{}, err
		}
		l, err := out.login()
		if err == nil && l.Token.IsZero() {
			l.Token = tok
		}
		return l, err
	}
	var out infisicalToken
	if err := c.do(ctx, "renew", "POST", "/api/v1/auth/token/renew", "", map[string]string{"accessToken": tok.Reveal()}, &out); err != nil {
		return Login{}, err
	}
	return out.login()
}

// Revoke revokes tok.
func (c *Client) Revoke(ctx context.Context, tok Token) error {
	if c.api() == Vault {
		return c.do(ctx, "revoke", "POST", "/v1/auth/token/revoke-self", tok.Reveal(), struct{}{}, nil)
	}
	return c.do(ctx, "revoke", "POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": tok.Reveal()}, nil)
}

// Lookup checks tok and answers how long it still lives (0: no expiry).
func (c *Client) Lookup(ctx context.Context, tok Token) (time.Duration, error) {
	if c.api() == Vault {
		var out struct {
			Data struct {
				TTL int64 `json:"ttl"`
			} `json:"data"`
		}
		if err := c.do(ctx, "lookup", "GET", "/v1/auth/token/lookup-self", tok.Reveal(), nil, &out); err != nil {
			return 0, err
		}
		return time.Duration(out.Data.TTL) * time.Second, nil
	}
	var out struct {
		Token struct {
			ExpiresIn int64 `json:"expiresIn"`
		} `json:"token"`
	}
	if err := c.do(ctx, "lookup", "GET", "/api/v1/auth/token/lookup", tok.Reveal(), nil, &out); err != nil {
		return 0, err
	}
	return time.Duration(out.Token.ExpiresIn) * time.Second, nil
}

type infisicalToken struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
	TokenType         string `json:"tokenType"`
}

func (t infisicalToken) login() (Login, error) {
	if t.AccessToken == "" {
		return Login{}, errors.New("the server answered no accessToken")
	}
	return Login{Token: NewToken(t.AccessToken), TTL: time.Duration(t.ExpiresIn) * time.Second,
		MaxTTL: time.Duration(t.AccessTokenMaxTTL) * time.Second, Renewable: true}, nil
}

type vaultAuth struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		Accessor      string `json:"accessor"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
}

func (v vaultAuth) login() (Login, error) {
	if v.Auth == nil {
		return Login{}, errors.New("the server answered no auth block")
	}
	return Login{Token: NewToken(v.Auth.ClientToken), TTL: time.Duration(v.Auth.LeaseDuration) * time.Second,
		Renewable: v.Auth.Renewable, Accessor: v.Auth.Accessor}, nil
}

// do sends one request; tok, when set, is the caller's token. A non-2xx
// answer is an *Error with the server's message; no answer is an
// *UnreachableError.
func (c *Client) do(ctx context.Context, op, method, path, tok string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	base := strings.TrimRight(c.Address, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("%s: bad server address %q: %w", op, c.Address, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		if c.api() == Vault {
			req.Header.Set("X-Vault-Token", tok)
		} else {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The url.Error names the URL, never a body; strip the wrapper so
		// the address is said once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &UnreachableError{Op: op, Address: c.Address, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &UnreachableError{Op: op, Address: c.Address, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.apiError(op, resp.StatusCode, raw)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: the server's answer is not the expected JSON (is --api right?): %w", op, err)
	}
	return nil
}

// apiError reads either API's error shape.
func (c *Client) apiError(op string, status int, raw []byte) *Error {
	e := &Error{Op: op, Status: status}
	var inf struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	var vlt struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(raw, &vlt) == nil && len(vlt.Errors) > 0 {
		e.Message = strings.Join(vlt.Errors, "; ")
		return e
	}
	if json.Unmarshal(raw, &inf) == nil && (inf.Error != "" || len(inf.Message) > 0) {
		e.Name = inf.Error
		var s string
		if json.Unmarshal(inf.Message, &s) == nil {
			e.Message = s
		} else if len(inf.Message) > 0 {
			e.Message = string(inf.Message) // 422: an array of {path, message}
		}
		return e
	}
	if status == http.StatusNotFound && len(raw) == 0 {
		e.Message = "not found (is --api or --mount right?)"
		return e
	}
	e.Message = http.StatusText(status)
	return e
}
