package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// stmts are the statements of the hot paths (token checks, use-limited
// token uses, Universal and Kubernetes Auth logins), prepared once at Open
// and closed at Close. Compiling SQL is
// expensive in SQLite: with the query text passed on every call, parsing and
// planning was ~30 % of the server's CPU in a token check (BENCHMARKS.md).
// database/sql prepares a *sql.Stmt again on each pooled connection the
// first time it runs there and keeps it, so each connection compiles each
// statement once. SQLite recompiles a prepared statement by itself when the
// schema changes under it.
// The write statements matter most: they run on the one write connection,
// so compiling one there held up every other writer.
type stmts struct {
	// Token checks (GetTokenCheck, and the use of a use-limited token).
	tokenCheck *sql.Stmt // read
	useToken   *sql.Stmt // write
	// Reads by key of admin and management paths (they served token
	// checks before GetTokenCheck).
	tokenByHash *sql.Stmt // read
	authMethod  *sql.Stmt // read
	identity    *sql.Stmt // read
	// Logins.
	authMethodByIdentity  *sql.Stmt // read
	authMethodByLookupKey *sql.Stmt // read
	lockout               *sql.Stmt // read
	clearLockout          *sql.Stmt // write (a successful login's, with its token)
	clientSecretByHash    *sql.Stmt // read
	consumeClientSecretID *sql.Stmt // write
	createToken           *sql.Stmt // write
	appendAuditEvent      *sql.Stmt // write
	// appendAuditEvents[k] inserts 2^k audit events in one statement
	// (k ≥ 1; a group's audit events, groupcommit.go).
	appendAuditEvents [maxAuditRowsLog2 + 1]*sql.Stmt // write
	mount             *sql.Stmt                       // read (Vault-API logins)
	// A unit of several writes in a group (groupcommit.go).
	savepoint           *sql.Stmt // write
	rollbackToSavepoint *sql.Stmt // write
	releaseSavepoint    *sql.Stmt // write

	all []*sql.Stmt
}

// SQL of the prepared statements.
const (
	// sqlTokenCheck reads the token with its method's trusted IPs and its
	// identity's role: NULL when the method or the identity is gone (both
	// columns are NOT NULL in their tables).
	sqlTokenCheck = `SELECT ` + accessTokenCols + `,
		(SELECT m.trusted_ips FROM auth_methods m WHERE m.id = access_tokens.auth_method_id),
		(SELECT i.role FROM identities i WHERE i.id = access_tokens.identity_id)
		FROM access_tokens WHERE hash = ?`
	sqlTokenByHash = `SELECT ` + accessTokenCols + ` FROM access_tokens WHERE hash = ?`
	sqlAuthMethod  = `SELECT ` + authMethodCols + ` FROM auth_methods WHERE id = ?`
	sqlIdentity    = `SELECT ` + identityCols + ` FROM identities WHERE id = ?`
	sqlUseToken    = `UPDATE access_tokens
		SET num_uses = num_uses + 1, last_used_at = ?
		WHERE id = ? AND revoked_at IS NULL AND (num_uses_limit = 0 OR num_uses < num_uses_limit)
		RETURNING ` + accessTokenCols

	sqlAuthMethodByIdentity  = `SELECT ` + authMethodCols + ` FROM auth_methods WHERE identity_id = ? AND type = ?`
	sqlAuthMethodByLookupKey = `SELECT ` + authMethodCols + ` FROM auth_methods WHERE type = ? AND lookup_key = ?`
	sqlLockout               = `SELECT ` + lockoutCols + ` FROM login_lockouts WHERE auth_method_id = ? AND client_ip = ?`
	sqlClearLockout          = `DELETE FROM login_lockouts WHERE auth_method_id = ? AND client_ip = ? RETURNING locked_until`
	sqlClientSecretByHash    = `SELECT ` + clientSecretCols + ` FROM client_secrets WHERE hash = ?`
	sqlConsumeClientSecretID = `UPDATE client_secrets
		SET num_uses = num_uses + 1, updated_at = ?
		WHERE id = ? AND revoked_at IS NULL AND (num_uses_limit = 0 OR num_uses < num_uses_limit)
		RETURNING id`
	sqlCreateToken = `INSERT INTO access_tokens (` + accessTokenCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlAppendAuditEvent = `INSERT INTO audit_events (` + auditEventCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlMount = `SELECT ` + mountCols + ` FROM mounts WHERE path = ?`

	sqlSavepoint           = `SAVEPOINT unit`
	sqlRollbackToSavepoint = `ROLLBACK TO unit`
	sqlReleaseSavepoint    = `RELEASE unit`
)

// sqlAppendAuditEvents inserts n audit events.
func sqlAppendAuditEvents(n int) string {
	return sqlAppendAuditEvent + strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, n-1)
}

// prepareStmts prepares the hot statements on their pools; on failure it
// closes those it prepared.
func prepareStmts(ctx context.Context, read, write *sql.DB) (*stmts, error) {
	st := &stmts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&st.tokenCheck, read, sqlTokenCheck},
		{&st.tokenByHash, read, sqlTokenByHash},
		{&st.authMethod, read, sqlAuthMethod},
		{&st.identity, read, sqlIdentity},
		{&st.useToken, write, sqlUseToken},
		{&st.authMethodByIdentity, read, sqlAuthMethodByIdentity},
		{&st.authMethodByLookupKey, read, sqlAuthMethodByLookupKey},
		{&st.lockout, read, sqlLockout},
		{&st.clearLockout, write, sqlClearLockout},
		{&st.clientSecretByHash, read, sqlClientSecretByHash},
		{&st.consumeClientSecretID, write, sqlConsumeClientSecretID},
		{&st.createToken, write, sqlCreateToken},
		{&st.appendAuditEvent, write, sqlAppendAuditEvent},
		{&st.mount, read, sqlMount},
		{&st.savepoint, write, sqlSavepoint},
		{&st.rollbackToSavepoint, write, sqlRollbackToSavepoint},
		{&st.releaseSavepoint, write, sqlReleaseSavepoint},
	} {
		if err := st.prepare(ctx, p.dst, p.db, p.query); err != nil {
			return nil, err
		}
	}
	for k := 1; k <= maxAuditRowsLog2; k++ {
		if err := st.prepare(ctx, &st.appendAuditEvents[k], write, sqlAppendAuditEvents(1<<k)); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// prepare prepares query on db into dst; on failure it closes the
// statements prepared so far.
func (st *stmts) prepare(ctx context.Context, dst **sql.Stmt, db *sql.DB, query string) error {
	s, err := db.PrepareContext(ctx, query)
	if err != nil {
		return errors.Join(fmt.Errorf("sqlite: preparing statements: %w", err), st.close())
	}
	*dst = s
	st.all = append(st.all, s)
	return nil
}

// close closes every prepared statement.
func (st *stmts) close() error {
	var errs []error
	for _, s := range st.all {
		errs = append(errs, s.Close())
	}
	st.all = nil
	return errors.Join(errs...)
}
