//go:build linux

package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestOwnServerStopStartFreeze(t *testing.T) {
	o := StartServer(t)
	query := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, o.URL())
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	o.Freeze()
	if err := query(300 * time.Millisecond); err == nil {
		t.Error("a frozen server answered")
	}
	o.Thaw()
	if err := query(10 * time.Second); err != nil {
		t.Errorf("thawed server: %v", err)
	}
	o.Stop()
	if err := query(10 * time.Second); err == nil {
		t.Error("a stopped server answered")
	}
	o.Start()
	if err := query(10 * time.Second); err != nil {
		t.Errorf("restarted server: %v", err)
	}
	o.Freeze() // the cleanup stops a frozen server too
}
