package sqlite

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// SQLite keeps any bytes in a TEXT column; PostgreSQL refuses a NUL
// character and invalid UTF-8 in text (SQLSTATE 22021), and the escape
// \u0000 in jsonb (22P05). So that both stores accept exactly the same
// inputs, this store refuses them too, with store.ErrInvalid, before
// running a statement: in every text value it writes and every text key
// it looks up.

// checkText fails with store.ErrInvalid when a value holds a NUL or is not
// valid UTF-8.
func checkText(op string, vals ...string) error {
	for _, v := range vals {
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return fmt.Errorf("sqlite: %s: %w: NUL character or invalid UTF-8 in text", op, store.ErrInvalid)
		}
	}
	return nil
}

// checkJSONB fails with store.ErrInvalid when an encoded JSON document
// (kept as jsonb by PostgreSQL) holds the escape \u0000 (a NUL in one of
// its strings). An escaped backslash followed by "u0000" is text, not a
// NUL.
func checkJSONB(op string, doc []byte) error {
	for i := 0; ; {
		j := bytes.Index(doc[i:], []byte(`\u0000`))
		if j < 0 {
			return nil
		}
		j += i
		n := 0 // backslashes ending at j
		for k := j; k >= 0 && doc[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return fmt.Errorf("sqlite: %s: %w: NUL character in a JSON document", op, store.ErrInvalid)
		}
		i = j + 1
	}
}
