package universalauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Client-secret limits.
const (
	// MaxDescriptionLen bounds a client secret's description, in characters.
	MaxDescriptionLen = 1024
	// MaxNumUsesLimit bounds numUsesLimit (the largest integer JSON clients
	// carry exactly).
	MaxNumUsesLimit = 1 << 53
	// DisplayPrefixLen is how many characters of the secret's body
	// clientSecretPrefix shows after the kind prefix ("gtcs_AbCd"): about
	// 24 bits, leaving over 230 unknown.
	DisplayPrefixLen = 4
)

// Field names of the client-secret request.
const (
	FieldDescription  = "description"
	FieldNumUsesLimit = "numUsesLimit"
	FieldTTL          = "ttl"
)

// SecretInput is a new client secret's settings; nil fields take the
// defaults ("", unlimited uses, never expires).
type SecretInput struct {
	Description  *string
	NumUsesLimit *int64
	TTL          *int64 // seconds
}

// CreatedSecret is a new client secret: the secret itself, which the
// caller shows once and never again, and its stored record.
type CreatedSecret struct {
	Secret secret.Secret
	Record store.ClientSecret
}

func (in SecretInput) validate() (store.ClientSecret, error) {
	var cs store.ClientSecret
	var fields []errs.FieldError
	if in.Description != nil {
		cs.Description = strings.TrimSpace(*in.Description)
		if utf8.RuneCountInString(cs.Description) > MaxDescriptionLen {
			fields = append(fields, errs.FieldError{Path: FieldDescription, Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)})
		}
	}
	if v := in.NumUsesLimit; v != nil {
		if *v < 0 || *v > MaxNumUsesLimit {
			fields = append(fields, errs.FieldError{Path: FieldNumUsesLimit, Message: "must be an integer >= 0"})
		}
		cs.NumUsesLimit = *v
	}
	if v := in.TTL; v != nil {
		if *v < 0 || *v > authmethod.MaxTTLLimit {
			fields = append(fields, errs.FieldError{Path: FieldTTL, Message: rangeMessage(0, authmethod.MaxTTLLimit)})
		}
		cs.TTL = *v
	}
	if len(fields) > 0 {
		return store.ClientSecret{}, errs.Validation(fields...)
	}
	return cs, nil
}

// CreateClientSecret makes a new client secret for the identity's
// Universal Auth method.
func (s *Service) CreateClientSecret(ctx context.Context, p identity.Principal, identityID string, in SecretInput) (CreatedSecret, error) {
	if err := p.RequireAdmin("creating a client secret"); err != nil {
		return CreatedSecret{}, err
	}
	if err := identity.CheckID("identityId", identityID); err != nil {
		return CreatedSecret{}, err
	}
	cs, err := in.validate()
	if err != nil {
		return CreatedSecret{}, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return CreatedSecret{}, err
	}
	sec, err := secret.Generate(secret.KindClientSecret)
	if err != nil {
		return CreatedSecret{}, errs.Wrap(err, "generating a client secret")
	}
	// Only SHA-256 of the secret is stored. A slow password hash (bcrypt,
	// scrypt, argon2) exists to make guessing a low-entropy password from
	// its hash expensive; a client secret is 256 bits from crypto/rand, so
	// guessing it from its hash is already out of reach and a slow hash buys
	// nothing, while it would make every login cost milliseconds of CPU (and
	// hand an attacker a cheap way to burn ours). A plain hash also lets
	// login find the secret by an index lookup instead of comparing against
	// every secret of the client.
	h := sec.Hash()
	now := s.now()
	cs.ID, cs.AuthMethodID, cs.Hash, cs.Prefix = uuid.NewString(), m.ID, h[:], sec.Prefix(DisplayPrefixLen)
	cs.CreatedAt, cs.UpdatedAt = now, now
	if err := s.store.CreateClientSecret(ctx, cs); err != nil {
		return CreatedSecret{}, notAttached(err, identityID)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeClientSecretCreate, Success: true, ActorID: p.ActorID(),
		IdentityID: identityID, AuthMethod: string(store.AuthMethodUniversal),
		Details: map[string]string{"clientId": m.LookupKey, "clientSecretId": cs.ID, "clientSecretPrefix": cs.Prefix}})
	return CreatedSecret{Secret: sec, Record: cs}, nil
}

// ListClientSecrets returns the method's unrevoked client secrets, oldest
// first (records only: the secrets themselves are not kept).
func (s *Service) ListClientSecrets(ctx context.Context, p identity.Principal, identityID string) ([]store.ClientSecret, error) {
	if err := p.RequireMember("listing client secrets"); err != nil {
		return nil, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return nil, err
	}
	all, err := s.store.ListClientSecrets(ctx, m.ID)
	if err != nil {
		return nil, storeError(err)
	}
	return slices.DeleteFunc(all, func(cs store.ClientSecret) bool { return !cs.RevokedAt.IsZero() }), nil
}

// GetClientSecret returns one client secret's record.
func (s *Service) GetClientSecret(ctx context.Context, p identity.Principal, identityID, secretID string) (store.ClientSecret, error) {
	if err := p.RequireMember("reading a client secret"); err != nil {
		return store.ClientSecret{}, err
	}
	_, cs, err := s.clientSecret(ctx, identityID, secretID)
	return cs, err
}

// RevokeClientSecret revokes a client secret and every access token minted
// with it, in one store transaction.
func (s *Service) RevokeClientSecret(ctx context.Context, p identity.Principal, identityID, secretID string) (store.ClientSecret, error) {
	if err := p.RequireAdmin("revoking a client secret"); err != nil {
		return store.ClientSecret{}, err
	}
	m, _, err := s.clientSecret(ctx, identityID, secretID)
	if err != nil {
		return store.ClientSecret{}, err
	}
	cs, err := s.store.RevokeClientSecret(ctx, secretID, s.now())
	if err != nil {
		return store.ClientSecret{}, secretNotFound(err, secretID)
	}
	s.audit.Record(ctx, store.AuditEvent{Type: audit.TypeClientSecretRevoke, Success: true, ActorID: p.ActorID(),
		IdentityID: identityID, AuthMethod: string(store.AuthMethodUniversal),
		Details: map[string]string{"clientId": m.LookupKey, "clientSecretId": cs.ID}})
	s.audit.Record(ctx, audit.TokensRevoked(p.ActorID(), audit.CauseClientSecretRevoke, identityID,
		map[string]string{"clientSecretId": cs.ID}))
	return cs, nil
}

// clientSecret finds a client secret of the identity's method: 404 when
// it does not exist or belongs to another method.
func (s *Service) clientSecret(ctx context.Context, identityID, secretID string) (store.AuthMethod, store.ClientSecret, error) {
	if err := identity.CheckID("identityId", identityID); err != nil {
		return store.AuthMethod{}, store.ClientSecret{}, err
	}
	if err := identity.CheckID("clientSecretId", secretID); err != nil {
		return store.AuthMethod{}, store.ClientSecret{}, err
	}
	m, err := s.method(ctx, identityID)
	if err != nil {
		return store.AuthMethod{}, store.ClientSecret{}, err
	}
	cs, err := s.store.GetClientSecret(ctx, secretID)
	if err == nil && cs.AuthMethodID != m.ID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.AuthMethod{}, store.ClientSecret{}, secretNotFound(err, secretID)
	}
	return m, cs, nil
}

func secretNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.New(errs.NotFound, "Client secret with ID %s not found", id)
	}
	return storeError(err)
}
