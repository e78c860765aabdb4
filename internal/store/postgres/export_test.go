package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MigrationVersions lists the embedded migrations' versions.
func MigrationVersions() []int64 {
	migs, err := loadMigrations()
	if err != nil {
		panic(err)
	}
	var vs []int64
	for _, m := range migs {
		vs = append(vs, m.version)
	}
	return vs
}

// MigrationSQL maps each embedded migration's file name to its SQL.
func MigrationSQL() map[string]string {
	migs, err := loadMigrations()
	if err != nil {
		panic(err)
	}
	out := map[string]string{}
	for _, m := range migs {
		out[m.name] = m.sql
	}
	return out
}

// AppliedMigrations lists the versions recorded in schema_migrations.
func AppliedMigrations(ctx context.Context, s *Store) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
