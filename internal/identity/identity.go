// Package identity manages machine identities and decides who may do what
// with them.
package identity

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Limits on identity fields.
const (
	MaxNameLen          = 255
	MaxMetadataEntries  = 100
	MaxMetadataKeyLen   = 255
	MaxMetadataValueLen = 1020
	DefaultListLimit    = 50
	MaxListLimit        = 100
)

// Service manages identities.
type Service struct {
	store store.Store
	audit *audit.Log
	now   func() time.Time
}

// NewService returns a Service.
func NewService(s store.Store, a *audit.Log, now func() time.Time) *Service {
	return &Service{store: s, audit: a, now: now}
}

// CreateInput is a new identity.
type CreateInput struct {
	Name                string
	Role                store.Role // "" = no-access
	HasDeleteProtection bool
	Metadata            []store.MetadataEntry
}

// UpdateInput changes the fields that are set.
type UpdateInput struct {
	Name                *string
	Role                *store.Role
	HasDeleteProtection *bool
	Metadata            *[]store.MetadataEntry // replaces all metadata
}

// View is an identity with the names of its auth methods.
type View struct {
	store.Identity
	AuthMethods []store.AuthMethodType
}

// Create makes a new identity.
func (s *Service) Create(ctx context.Context, p Principal, in CreateInput) (View, error) {
	if err := p.RequireAdmin("creating an identity"); err != nil {
		return View{}, err
	}
	if in.Role == "" {
		in.Role = store.RoleNoAccess
	}
	name := strings.TrimSpace(in.Name)
	var fields []errs.FieldError
	fields = append(fields, checkName(name)...)
	fields = append(fields, checkRole(in.Role)...)
	fields = append(fields, checkMetadata(in.Metadata)...)
	if len(fields) > 0 {
		return View{}, errs.Validation(fields...)
	}
	if err := p.mayGrant(in.Role); err != nil {
		return View{}, err
	}
	now := s.now()
	id := store.Identity{
		ID:                  uuid.NewString(),
		Name:                name,
		Role:                in.Role,
		HasDeleteProtection: in.HasDeleteProtection,
		Metadata:            normaliseMetadata(in.Metadata),
		CreatedAt:           now,
		UpdatedAt:           now,
	}
	if err := s.store.CreateIdentity(ctx, id); err != nil {
		return View{}, errs.Wrap(err, "creating identity")
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeIdentityCreate, Success: true, ActorID: p.ActorID(), IdentityID: id.ID,
		Details: map[string]string{"name": id.Name, "role": string(id.Role)}})
	return View{Identity: id, AuthMethods: []store.AuthMethodType{}}, nil
}

// Get returns one identity.
func (s *Service) Get(ctx context.Context, p Principal, id string) (View, error) {
	if err := p.RequireMember("reading an identity"); err != nil {
		return View{}, err
	}
	ident, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, ident)
}

// List returns a page of identities and the total count.
func (s *Service) List(ctx context.Context, p Principal, offset, limit int) ([]View, int, error) {
	if err := p.RequireMember("listing identities"); err != nil {
		return nil, 0, err
	}
	ids, total, err := s.store.ListIdentities(ctx, offset, limit)
	if err != nil {
		return nil, 0, errs.Wrap(err, "listing identities")
	}
	views := make([]View, 0, len(ids))
	for _, ident := range ids {
		v, err := s.view(ctx, ident)
		if err != nil {
			return nil, 0, err
		}
		views = append(views, v)
	}
	return views, total, nil
}

// Update changes an identity.
func (s *Service) Update(ctx context.Context, p Principal, id string, in UpdateInput) (View, error) {
	if err := p.RequireAdmin("updating an identity"); err != nil {
		return View{}, err
	}
	if err := CheckID("identityId", id); err != nil {
		return View{}, err
	}
	var fields []errs.FieldError
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		fields = append(fields, checkName(*in.Name)...)
	}
	if in.Role != nil {
		fields = append(fields, checkRole(*in.Role)...)
	}
	if in.Metadata != nil {
		fields = append(fields, checkMetadata(*in.Metadata)...)
	}
	if len(fields) > 0 {
		return View{}, errs.Validation(fields...)
	}
	if in.Role != nil {
		if err := p.mayGrant(*in.Role); err != nil {
			return View{}, err
		}
	}
	now := s.now()
	ident, err := s.store.UpdateIdentity(ctx, id, func(cur *store.Identity) error {
		if in.Role != nil && *in.Role != cur.Role && !p.Root && p.IdentityID == cur.ID {
			return errs.New(errs.Forbidden, "permission denied: an identity cannot change its own role")
		}
		// Changing an identity's role is a grant of the old role's
		// power too: do not let a member demote an admin, for example.
		if in.Role != nil && *in.Role != cur.Role {
			if err := p.mayGrant(cur.Role); err != nil {
				return err
			}
		}
		if in.Name != nil {
			cur.Name = *in.Name
		}
		if in.Role != nil {
			cur.Role = *in.Role
		}
		if in.HasDeleteProtection != nil {
			cur.HasDeleteProtection = *in.HasDeleteProtection
		}
		if in.Metadata != nil {
			cur.Metadata = normaliseMetadata(*in.Metadata)
		}
		cur.UpdatedAt = now
		return nil
	})
	if err != nil {
		return View{}, NotFound(err, id)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeIdentityUpdate, Success: true, ActorID: p.ActorID(), IdentityID: id,
		Details: map[string]string{"name": ident.Name, "role": string(ident.Role)}})
	return s.view(ctx, ident)
}

// load checks an identity ID and reads the identity (NotFound when absent).
func (s *Service) load(ctx context.Context, id string) (store.Identity, error) {
	if err := CheckID("identityId", id); err != nil {
		return store.Identity{}, err
	}
	ident, err := s.store.GetIdentity(ctx, id)
	if err != nil {
		return store.Identity{}, NotFound(err, id)
	}
	return ident, nil
}

// Delete removes an identity and its auth methods and revokes its tokens.
func (s *Service) Delete(ctx context.Context, p Principal, id string) (View, error) {
	if err := p.RequireAdmin("deleting an identity"); err != nil {
		return View{}, err
	}
	ident, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	if ident.HasDeleteProtection {
		return View{}, errs.New(errs.BadRequest, "Identity has delete protection")
	}
	if err := p.mayGrant(ident.Role); err != nil {
		return View{}, err
	}
	v, err := s.view(ctx, ident)
	if err != nil {
		return View{}, err
	}
	if err := s.store.DeleteIdentity(ctx, id, s.now()); err != nil {
		return View{}, NotFound(err, id)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeIdentityDelete, Success: true, ActorID: p.ActorID(), IdentityID: id,
		Details: map[string]string{"name": ident.Name}})
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseIdentityDelete, id, map[string]string{"identityId": id}))
	return v, nil
}

func (s *Service) view(ctx context.Context, ident store.Identity) (View, error) {
	methods, err := s.store.ListAuthMethods(ctx, ident.ID)
	if err != nil {
		return View{}, errs.Wrap(err, "listing auth methods")
	}
	v := View{Identity: ident, AuthMethods: make([]store.AuthMethodType, 0, len(methods))}
	for _, m := range methods {
		v.AuthMethods = append(v.AuthMethods, m.Type)
	}
	return v, nil
}

// CheckID fails with a validation error unless id is a UUID.
func CheckID(field, id string) error {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return errs.Validation(errs.FieldError{Path: field, Message: "must be a UUID"})
	}
	return nil
}

// NotFound is the answer for an identity a store read did not find: the
// APIs' 404 "Identity with ID … not found"; a domain error passes through
// and any other failure is internal.
func NotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.New(errs.NotFound, "Identity with ID %s not found", id)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.Wrap(err, "identity store")
}

func checkName(name string) []errs.FieldError {
	if name == "" {
		return []errs.FieldError{{Path: "name", Message: "must not be empty"}}
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return []errs.FieldError{{Path: "name", Message: "must be at most 255 characters"}}
	}
	if hasControl(name) {
		return []errs.FieldError{{Path: "name", Message: "must not contain control characters"}}
	}
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL, C1) or
// is not valid UTF-8: neither belongs in a name, and a NUL cannot be
// stored at all.
func hasControl(s string) bool {
	return !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0
}

func checkRole(r store.Role) []errs.FieldError {
	if !ValidRole(r) {
		return []errs.FieldError{{Path: "role", Message: `must be one of "admin", "member", "no-access"`}}
	}
	return nil
}

func checkMetadata(md []store.MetadataEntry) []errs.FieldError {
	if len(md) > MaxMetadataEntries {
		return []errs.FieldError{{Path: "metadata", Message: "must have at most 100 entries"}}
	}
	var fields []errs.FieldError
	for i, e := range md {
		k := strings.TrimSpace(e.Key)
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLen {
			fields = append(fields, errs.FieldError{Path: pathIndex("metadata", i, "key"), Message: "must be 1 to 255 characters"})
		} else if hasControl(k) {
			fields = append(fields, errs.FieldError{Path: pathIndex("metadata", i, "key"), Message: "must not contain control characters"})
		}
		if strings.IndexByte(e.Value, 0) >= 0 || !utf8.ValidString(e.Value) {
			fields = append(fields, errs.FieldError{Path: pathIndex("metadata", i, "value"), Message: "must not contain NUL characters or invalid UTF-8"})
		}
		if utf8.RuneCountInString(e.Value) > MaxMetadataValueLen {
			fields = append(fields, errs.FieldError{Path: pathIndex("metadata", i, "value"), Message: "must be at most 1020 characters"})
		}
	}
	return fields
}

func normaliseMetadata(md []store.MetadataEntry) []store.MetadataEntry {
	out := make([]store.MetadataEntry, 0, len(md))
	for _, e := range md {
		out = append(out, store.MetadataEntry{Key: strings.TrimSpace(e.Key), Value: strings.TrimSpace(e.Value)})
	}
	return out
}

func pathIndex(field string, i int, sub string) string {
	return field + "." + strconv.Itoa(i) + "." + sub
}
