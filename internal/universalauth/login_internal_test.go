package universalauth

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestConsumeFailure: a secret use refused when the token is stored is
// the secret's failure (used up: not counted; revoked: counted); any
// other store error is not.
func TestConsumeFailure(t *testing.T) {
	cs := store.ClientSecret{ID: "cs-1", NumUsesLimit: 3}
	for _, tc := range []struct {
		err    error
		reason string
		counts bool
	}{
		{fmt.Errorf("issue: %w", store.ErrLimitReached), "client secret cs-1 has used all of its 3 uses", false},
		{fmt.Errorf("issue: %w", store.ErrNotFound), "client secret cs-1 is revoked", true},
		{errors.New("disk full"), "", false},
	} {
		f := consumeFailure(cs, tc.err)
		if f.reason != tc.reason || f.counts != tc.counts {
			t.Errorf("consumeFailure(%v) = %+v, want reason %q counts %v", tc.err, f, tc.reason, tc.counts)
		}
	}
}
