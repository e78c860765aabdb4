package token_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestPeek: a live token's check, with no use spent;
// NotFound for anything that is not live, malformed tokens
// without a store read.
func TestPeek(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	limited := f.issue(t, store.TokenPolicy{NumUsesLimit: 1, TTL: 60})
	for range 3 {
		c, err := f.tokens.Peek(ctx, limited)
		if err != nil || c.Token.NumUses != 0 || !c.AuthMethodFound {
			t.Fatalf("peek: %+v %v", c, err)
		}
	}
	if _, err := f.tokens.Authenticate(ctx, limited, client); err != nil {
		t.Fatalf("the one use was spent by peeking: %v", err)
	}
	if _, err := f.tokens.Peek(ctx, limited); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("used up: %v", err)
	}
	expiring := f.issue(t, store.TokenPolicy{TTL: 60})
	f.clock.Advance(61 * time.Second)
	if _, err := f.tokens.Peek(ctx, expiring); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("expired: %v", err)
	}
	gone := f.issue(t, store.TokenPolicy{})
	if err := f.store.DeleteAuthMethod(ctx, f.method.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tokens.Peek(ctx, gone); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("method deleted: %v", err)
	}
	before := f.store.lookups.Load()
	if _, err := f.tokens.Peek(ctx, "not-a-token"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("malformed: %v", err)
	}
	if f.store.lookups.Load() != before {
		t.Error("a malformed token reached the store")
	}
}
