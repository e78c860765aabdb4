package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// ActorOperator is the audit actor of `gatehouse operator` commands.
const ActorOperator = "operator"

// GenerateRootResult is what GenerateRoot did.
type GenerateRootResult struct {
	Token    secret.Secret // the new root token: shown once
	Accessor string
	// Revoked is how many other root tokens were revoked (RevokeOthers).
	Revoked int64
	// Shared: the store is PostgreSQL, so running replicas accept the
	// token at once.
	Shared bool
}

// GenerateRoot issues a new root token directly in an existing store
// (`gatehouse operator generate-root`, for recovery): it refuses a store
// that does not exist or has no schema (a mistyped --storage must not
// create one) and a SQLite store a server has open. The new token is
// audited (root-token.create, actor "operator"). Older root tokens stay
// valid unless revokeOthers, which revokes every one of them in the same
// run (audited as token.revoke).
func GenerateRoot(ctx context.Context, storage string, revokeOthers bool, now func() time.Time, logger *slog.Logger) (GenerateRootResult, error) {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kind, path, err := storageKind(storage)
	if err != nil {
		return GenerateRootResult{}, err
	}
	var st store.Store
	var pg *postgres.Store
	if kind == "sqlite" {
		var s *sqlite.Store
		s, err = sqlite.OpenExisting(ctx, path)
		if errors.Is(err, sqlite.ErrLocked) {
			return GenerateRootResult{}, fmt.Errorf("%s is in use: stop the server using it first (%w)", path, err)
		}
		st = s
	} else {
		pg, err = postgres.OpenExisting(ctx, storage)
		st = pg
	}
	if errors.Is(err, sqlite.ErrNoStore) || errors.Is(err, postgres.ErrNoStore) {
		return GenerateRootResult{}, fmt.Errorf("%w; generate-root does not create a store: check --storage, or start the server once to create it", err)
	}
	if err != nil {
		return GenerateRootResult{}, fmt.Errorf("opening storage %s: %w", RedactStorageURL(storage), err)
	}
	defer st.Close()

	issued, err := token.NewService(st, now, 0).IssueRoot(ctx)
	if err != nil {
		return GenerateRootResult{}, err
	}
	log := audit.New(st, now, logger)
	log.Record(ctx, store.AuditEvent{Type: audit.TypeRootTokenCreate, Success: true, ActorID: ActorOperator,
		Details: map[string]string{"accessor": issued.Record.ID}})
	res := GenerateRootResult{Token: issued.Token, Accessor: issued.Record.ID, Shared: pg != nil}
	if !revokeOthers {
		return res, nil
	}
	res.Revoked, err = st.RevokeRootTokens(ctx, issued.Record.ID, now())
	if err != nil {
		return res, fmt.Errorf("the new root token was issued (accessor %s), but revoking the others failed: %w", issued.Record.ID, err)
	}
	log.Record(ctx, store.AuditEvent{Type: audit.TypeTokenRevoke, Success: true, ActorID: ActorOperator,
		Details: map[string]string{"cause": audit.CauseGenerateRoot, "root_tokens_revoked": strconv.FormatInt(res.Revoked, 10),
			audit.DetailTokenType: string(store.AuthMethodRoot)}})
	if pg != nil {
		// Replicas drop cached answers now rather than within the cache's TTL.
		if err := pg.Announce(ctx, nil); err != nil {
			logger.Warn("revoked root tokens may be accepted by running replicas for up to a second", "err", err)
		}
	}
	return res, nil
}
