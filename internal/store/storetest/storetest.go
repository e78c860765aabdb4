// Package storetest is the conformance suite of store.Store: every backend
// runs it from its own _test.go, and a backend is done when it passes.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// The suite holds a backend to the conventions of package store: sentinel
// errors, uniqueness rules, updater functions, one-transaction cascades,
// one-statement counters and round-trip fidelity of every field. It is
// deterministic: every time is passed in explicitly, nothing sleeps and
// nothing is timed. IDs are real UUID strings (a backend may store them in a
// UUID column), and so are the IDs it looks up to get ErrNotFound.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// test is one conformance test; it gets a fresh, empty store of its own.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs the conformance suite. newStore must return a fresh, empty,
// migrated store and register its cleanup with t.Cleanup. It is called once
// per test, from parallel subtests, so the stores it returns must be
// independent of each other (a new SQLite file, a new PostgreSQL schema or
// database, ...).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Meta", metaTests},
		{"Identity", identityTests},
		{"AuthMethod", authMethodTests},
		{"ClientSecret", clientSecretTests},
		{"AccessToken", accessTokenTests},
		{"Issue", issueTests},
		{"Audit", auditTests},
		{"NotFound", notFoundTests},
		{"Uniqueness", uniquenessTests},
		{"Cascade", cascadeTests},
		{"Concurrency", concurrencyTests},
		{"Lockout", lockoutTests},
		{"Mount", mountTests},
		{"Gateway", gatewayTests},
		{"Text", textTests},
		{"MountNesting", mountNestingTests},
		{"Unavailable", unavailableTests},
		{"OIDC", oidcTests},
		{"ConsoleSession", consoleSessionTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

// t0 is the suite's clock origin: a whole number of microseconds, in a zone
// that is not UTC, so that a backend must convert to UTC on the way back.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.FixedZone("UTC+05:30", 5*3600+30*60))

// at returns t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func newID() string { return uuid.NewString() }

// newHash returns a random 32-byte value standing for a SHA-256 hash.
func newHash() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Fixtures. Each returns a fully populated value; tests change what they
// need before storing it.

func newIdentity(created time.Time) store.Identity {
	return store.Identity{
		ID:                  newID(),
		Name:                "ci-runner",
		Role:                store.RoleMember,
		HasDeleteProtection: false,
		Metadata:            []store.MetadataEntry{{Key: "team", Value: "platform"}, {Key: "env", Value: "prod"}},
		CreatedAt:           created,
		UpdatedAt:           created.Add(time.Minute),
	}
}

func newAuthMethod(identityID string, typ store.AuthMethodType, created time.Time) store.AuthMethod {
	m := store.AuthMethod{
		ID:         newID(),
		IdentityID: identityID,
		Type:       typ,
		Config:     json.RawMessage(`{"allowedNamespaces": ["default"], "n": 1}`),
		TokenPolicy: store.TokenPolicy{
			TTL:        3600,
			MaxTTL:     86400,
			TrustedIPs: []string{"0.0.0.0/0", "::/0"},
		},
		CreatedAt: created,
		UpdatedAt: created,
	}
	if typ == store.AuthMethodUniversal {
		m.LookupKey = newID() // the client ID
	}
	return m
}

func newClientSecret(authMethodID string, created time.Time) store.ClientSecret {
	return store.ClientSecret{
		ID:           newID(),
		AuthMethodID: authMethodID,
		Description:  "deploy pipeline",
		Prefix:       "gh_cs",
		Hash:         newHash(),
		CreatedAt:    created,
		UpdatedAt:    created,
	}
}

// newAccessToken returns a live token issued by m (with client secret
// secretID, "" for none), expiring an hour after created.
func newAccessToken(m store.AuthMethod, secretID string, created time.Time) store.AccessToken {
	return store.AccessToken{
		ID:             newID(),
		Hash:           newHash(),
		IdentityID:     m.IdentityID,
		AuthMethodID:   m.ID,
		AuthMethodType: m.Type,
		ClientSecretID: secretID,
		CreatedAt:      created,
		LastRenewedAt:  created,
		TTL:            3600,
		MaxTTL:         7200,
		ExpiresAt:      created.Add(time.Hour),
		Metadata:       map[string]string{"k8s.namespace": "default"},
	}
}

// newRootToken returns a root token: no identity, no method, never expires.
func newRootToken(created time.Time) store.AccessToken {
	return store.AccessToken{
		ID:             newID(),
		Hash:           newHash(),
		AuthMethodType: store.AuthMethodRoot,
		CreatedAt:      created,
		LastRenewedAt:  created,
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func createIdentity(t *testing.T, s store.Store, id store.Identity) store.Identity {
	t.Helper()
	must(t, s.CreateIdentity(t.Context(), id))
	return id
}

func createAuthMethod(t *testing.T, s store.Store, m store.AuthMethod) store.AuthMethod {
	t.Helper()
	must(t, s.CreateAuthMethod(t.Context(), m))
	return m
}

func createClientSecret(t *testing.T, s store.Store, cs store.ClientSecret) store.ClientSecret {
	t.Helper()
	must(t, s.CreateClientSecret(t.Context(), cs))
	return cs
}

func createAccessToken(t *testing.T, s store.Store, tok store.AccessToken) store.AccessToken {
	t.Helper()
	must(t, s.CreateAccessToken(t.Context(), tok))
	return tok
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !isErr(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func isErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// concurrently runs fn(0..n-1) in n goroutines released at once and returns
// their errors by index.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkEqual fails the test when got differs from want under the store's
// round-trip rules:
//   - times are equal at microsecond precision, and come back in UTC; a zero
//     time comes back zero;
//   - json.RawMessage values are equal as JSON documents;
//   - byte strings (hashes, sealed secrets) are equal byte for byte;
//   - slices and maps inside a record are never nil, even when stored nil.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := diff(what, reflect.ValueOf(got), reflect.ValueOf(want), false); len(d) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	rawType   = reflect.TypeFor[json.RawMessage]()
	bytesType = reflect.TypeFor[[]byte]()
)

// diff lists the differences between got and want. inRecord is true below
// the top level, where a nil slice or map breaks the "never nil" rule.
func diff(path string, got, want reflect.Value, inRecord bool) []string {
	if !got.IsValid() || !want.IsValid() {
		if got.IsValid() != want.IsValid() {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
	if got.Type() != want.Type() {
		return []string{fmt.Sprintf("%s: got type %s, want %s", path, got.Type(), want.Type())}
	}
	switch got.Type() {
	case timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		switch {
		case w.IsZero() && !g.IsZero():
			return []string{fmt.Sprintf("%s: got %v, want the zero time", path, g)}
		case w.IsZero():
			return nil
		case !g.Equal(w.Truncate(time.Microsecond)):
			return []string{fmt.Sprintf("%s: got %v, want %v", path, g, w.Truncate(time.Microsecond).UTC())}
		case g.Location() != time.UTC:
			return []string{fmt.Sprintf("%s: got %v in %v, want UTC", path, g, g.Location())}
		}
		return nil
	case rawType:
		g, w := got.Bytes(), want.Bytes()
		if len(w) == 0 {
			if len(g) != 0 && string(g) != "null" {
				return []string{fmt.Sprintf("%s: got %s, want nothing", path, g)}
			}
			return nil
		}
		var gv, wv any
		if err := json.Unmarshal(g, &gv); err != nil {
			return []string{fmt.Sprintf("%s: got %q, not JSON: %v", path, g, err)}
		}
		if err := json.Unmarshal(w, &wv); err != nil {
			return []string{fmt.Sprintf("%s: want %q, not JSON: %v", path, w, err)}
		}
		if !reflect.DeepEqual(gv, wv) {
			return []string{fmt.Sprintf("%s: got JSON %s, want %s", path, g, w)}
		}
		return nil
	case bytesType:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s: got %x, want %x", path, got.Bytes(), want.Bytes())}
		}
		return nil
	}
	switch got.Kind() {
	case reflect.Struct:
		var d []string
		for i := range got.NumField() {
			d = append(d, diff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i), true)...)
		}
		return d
	case reflect.Slice:
		if inRecord && got.IsNil() {
			return []string{fmt.Sprintf("%s: got nil, want a non-nil (possibly empty) slice", path)}
		}
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: got %d elements %+v, want %d %+v", path, got.Len(), got.Interface(), want.Len(), want.Interface())}
		}
		var d []string
		for i := range got.Len() {
			d = append(d, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), true)...)
		}
		return d
	case reflect.Map:
		if inRecord && got.IsNil() {
			return []string{fmt.Sprintf("%s: got nil, want a non-nil (possibly empty) map", path)}
		}
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got.Interface(), want.Interface())}
		}
		var d []string
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				d = append(d, fmt.Sprintf("%s[%v]: missing", path, k))
				continue
			}
			d = append(d, diff(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k), true)...)
		}
		return d
	case reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
			}
			return nil
		}
		return diff(path, got.Elem(), want.Elem(), inRecord)
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}
