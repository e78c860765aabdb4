package vault

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestStoreErrInvalidIsTheCallersFault: a value the store refuses
// (store.ErrInvalid), however the domain wrapped it, even as
// "unavailable", is answered as invalid input and not logged as an error.
func TestStoreErrInvalidIsTheCallersFault(t *testing.T) {
	wrapped := &errs.Error{Code: errs.Unavailable, Message: "the store is unavailable", Err: fmt.Errorf("postgres: get: %w", store.ErrInvalid)}
	var logs bytes.Buffer
	w := httptest.NewRecorder()
	writeError(w, httptest.NewRequest("POST", "/", nil), slog.New(slog.NewTextHandler(&logs, nil)), wrapped)
	if w.Code != 400 {
		t.Errorf("status %d, want 400: %s", w.Code, w.Body)
	}
	if !bytes.Contains(w.Body.Bytes(), []byte("NUL")) {
		t.Errorf("body %s does not say what was wrong", w.Body)
	}
	if logs.Len() != 0 {
		t.Errorf("logged: %s", logs.String())
	}
}
