package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts are the statements of the hot paths (token checks, use-limited
// token uses), prepared once at Open and closed at Close. Compiling SQL is
// expensive in SQLite: with the query text passed on every call, parsing and
// planning was ~30 % of the server's CPU in a token check (BENCHMARKS.md).
// database/sql prepares a *sql.Stmt again on each pooled connection the
// first time it runs there and keeps it, so each connection compiles each
// statement once. SQLite recompiles a prepared statement by itself when the
// schema changes under it.
type stmts struct {
	tokenCheck  *sql.Stmt // read
	tokenByHash *sql.Stmt // read
	authMethod  *sql.Stmt // read
	identity    *sql.Stmt // read
	useToken    *sql.Stmt // write
	all         []*sql.Stmt
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
)

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
	} {
		s, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("sqlite: preparing statements: %w", err), st.close())
		}
		*p.dst = s
		st.all = append(st.all, s)
	}
	return st, nil
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
