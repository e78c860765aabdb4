// Package vaultauth is the Vault-API face of Kubernetes Auth: auth mounts,
// each with one cluster config, and named roles under a mount. It holds no
// login logic of its own: a mount maps onto kubeauth.Cluster, a role onto
// kubeauth.Rules plus a token policy, and a login runs kubeauth's one
// pipeline (Service.Login) and token's one issuer, exactly as an Infisical
// Kubernetes Auth login does.
//
// Storage: a mount is a store.Mount (its config JSON, its reviewer JWT
// sealed apart); a role is a store.AuthMethod of type vault-kubernetes with
// MountPath set and LookupKey "<mount>/<role>", owned by an identity created
// with it (Vault's entity for the role; role no-access), so tokens, trusted
// IPs (token_bound_cidrs), revocation and the identity API work as for any
// other auth method. Deleting a role deletes that identity and revokes its
// tokens; disabling a mount does so for all its roles.
//
// Files: vaultauth.go (service and mounts), config.go (the mount's
// config), role.go (roles), login.go (login), annotations.go
// (use_annotations_as_alias_metadata), podfiles.go (the in-pod fallback
// for an empty CA or reviewer JWT).
package vaultauth

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TypeKubernetes is the only mount type Gatehouse serves.
const TypeKubernetes = "kubernetes"

// MaxDescriptionLen bounds a mount's description.
const MaxDescriptionLen = 1024

// Service is the Vault Kubernetes auth method.
type Service struct {
	store  store.Store
	key    seal.Key
	kube   *kubeauth.Service
	tokens *token.Service
	audit  *audit.Log
	now    func() time.Time
	pod    *podFiles
}

// NewService returns a Service. podDir is where a pod's service-account
// files live (DefaultPodDir in production; "" turns the fallback off).
func NewService(st store.Store, key seal.Key, kube *kubeauth.Service, tokens *token.Service, a *audit.Log, now func() time.Time, podDir string) *Service {
	return &Service{store: st, key: key, kube: kube, tokens: tokens, audit: a, now: now, pod: newPodFiles(podDir, now)}
}

// mountPathRE is what a mount path may be: segments of letters, digits,
// '-', '_' and '.', separated by single '/'.
var mountPathRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

// CleanMountPath returns a mount path without surrounding slashes, or a
// BadRequest error.
func CleanMountPath(path string) (string, error) {
	p, err := cleanFormat(path)
	if err == nil {
		err = checkToken(p)
	}
	if err == nil {
		err = checkRouteSegments(p)
	}
	if err != nil {
		return "", err
	}
	return p, nil
}

// cleanFormat is CleanMountPath without the reserved segments: the shape
// alone (Disable takes it, so that a mount made before the segments were
// reserved can still be removed).
func cleanFormat(path string) (string, error) {
	p := strings.Trim(path, "/")
	dots := slices.ContainsFunc(strings.Split(p, "/"), func(seg string) bool { return seg == "." || seg == ".." })
	if len(p) > 255 || !mountPathRE.MatchString(p) || dots {
		return "", errs.New(errs.BadRequest, "invalid mount path %q: use letters, digits, '-', '_' and '.', in segments separated by '/'", clip(path, 100))
	}
	return p, nil
}

// Enable creates a mount of type typ at path.
func (s *Service) Enable(ctx context.Context, p identity.Principal, path, typ, description string) (store.Mount, error) {
	if err := p.RequireAdmin("enabling an auth method"); err != nil {
		return store.Mount{}, err
	}
	// The checks of CleanMountPath, the one against other mounts before
	// the route segments, as Vault (which has no such rule) would say.
	path, err := cleanFormat(path)
	if err == nil {
		err = checkToken(path)
	}
	if err != nil {
		return store.Mount{}, err
	}
	if at, err := s.inUse(ctx, path); err != nil {
		return store.Mount{}, err
	} else if at != "" {
		return store.Mount{}, errInUse(at)
	}
	if err := checkRouteSegments(path); err != nil {
		return store.Mount{}, err
	}
	switch {
	case typ == "":
		return store.Mount{}, errs.New(errs.BadRequest, "missing type: only \"kubernetes\" auth methods can be enabled here")
	case typ != TypeKubernetes:
		return store.Mount{}, errs.New(errs.BadRequest, "plugin not found in the catalog: %s (Gatehouse serves only the \"kubernetes\" auth method)", clip(typ, 100))
	case len(description) > MaxDescriptionLen:
		return store.Mount{}, errs.New(errs.BadRequest, "description must be at most %d characters", MaxDescriptionLen)
	}
	now := s.now()
	m := store.Mount{Path: path, Type: typ, Accessor: newAccessor(typ), Description: description, CreatedAt: now, UpdatedAt: now}
	switch err := s.store.CreateMount(ctx, m); {
	case errors.Is(err, store.ErrAlreadyExists):
		// Taken meanwhile (the store checks again, atomically).
		at, _ := s.inUse(ctx, path)
		return store.Mount{}, errInUse(cmp.Or(at, path))
	case err != nil:
		return store.Mount{}, errs.Wrap(err, "storing mount")
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeMountCreate, Success: true, ActorID: p.ActorID(),
		AuthMethod: string(store.AuthMethodVaultKubernetes), Details: map[string]string{"path": path, "type": typ}})
	return m, nil
}

// EnableIfAbsent creates the mount unless one exists at path (for --dev).
func (s *Service) EnableIfAbsent(ctx context.Context, path string) error {
	if _, err := s.store.GetMount(ctx, path); err == nil {
		return nil
	}
	_, err := s.Enable(ctx, identity.Principal{Root: true, Role: store.RoleAdmin}, path, TypeKubernetes, "")
	return err
}

// Mounts lists every mount.
func (s *Service) Mounts(ctx context.Context, p identity.Principal) ([]store.Mount, error) {
	if err := p.RequireAdmin("listing auth methods"); err != nil {
		return nil, err
	}
	ms, err := s.store.ListMounts(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "listing mounts")
	}
	return ms, nil
}

// Disable deletes the mount, its roles and their identities, and revokes
// every token issued through it, in one transaction. Disabling a path
// that has no mount succeeds, as in Vault.
func (s *Service) Disable(ctx context.Context, p identity.Principal, path string) error {
	if err := p.RequireAdmin("disabling an auth method"); err != nil {
		return err
	}
	path, err := cleanFormat(path)
	if err == nil {
		err = checkToken(path)
	}
	if err != nil {
		return err
	}
	switch err := s.store.DeleteMount(ctx, path, s.now()); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return errs.Wrap(err, "deleting mount")
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeMountDelete, Success: true, ActorID: p.ActorID(),
		AuthMethod: string(store.AuthMethodVaultKubernetes), Details: map[string]string{"path": path}})
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseMountDelete, "", map[string]string{"mount": path}))
	return nil
}

// mount reads a mount by (uncleaned) path: NotFound when there is none.
func (s *Service) mount(ctx context.Context, path string) (store.Mount, error) {
	path, err := CleanMountPath(path)
	if err != nil {
		return store.Mount{}, errs.New(errs.NotFound, "no auth method is mounted at auth/%s", clip(path, 100))
	}
	m, err := s.store.GetMount(ctx, path)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mount{}, errs.New(errs.NotFound, "no auth method is mounted at auth/%s", path)
	}
	if err != nil {
		return store.Mount{}, errs.Wrap(err, "reading mount")
	}
	return m, nil
}

func newAccessor(typ string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "auth_" + typ + "_" + hex.EncodeToString(b[:])
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
