package kubeauth

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// MaxPatternLen bounds one entry of an allowed-namespaces or allowed-names
// list (a Kubernetes name is at most 253 characters).
const MaxPatternLen = 253

// MaxPatterns bounds the number of entries in one list.
const MaxPatterns = 100

// Patterns is a list of allowed namespaces or service-account names. Each
// entry is an exact name or a glob in which '*' matches any run of
// characters (including none); no other character is special. An empty
// list allows every value.
type Patterns []string

// Allows reports whether s matches one of the patterns, or whether the list
// is empty.
func (p Patterns) Allows(s string) bool {
	if len(p) == 0 {
		return true
	}
	for _, pat := range p {
		if MatchGlob(pat, s) {
			return true
		}
	}
	return false
}

// String joins the patterns as the Infisical API writes the list.
func (p Patterns) String() string { return strings.Join(p, ", ") }

// MatchGlob reports whether s matches pattern, where '*' matches any run of
// bytes and every other byte matches itself. It runs in O(len(pattern) *
// len(s)) at worst, with no recursion, so hostile patterns cannot blow up.
func MatchGlob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0 // the last '*' seen and where its run started in s
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			// Let the last '*' swallow one more byte and retry from there.
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// ParseList parses a comma-separated list as the Infisical API sends it
// ("dev, team-*"): entries are trimmed; "" (or only spaces) is the empty
// list, which allows everything. field names the list in errors.
func ParseList(field, s string) (Patterns, error) {
	if strings.TrimSpace(s) == "" {
		return Patterns{}, nil
	}
	return ParsePatterns(field, strings.Split(s, ","))
}

// ParsePatterns validates list entries (trimmed). An empty entry is an
// error rather than dropped: "dev," most likely lost a name, and dropping
// it could turn a list into the empty, allow-all list. Entries may hold
// only what a Kubernetes namespace or service-account name can (lower-case
// letters, digits, '-' and '.') plus '*'.
func ParsePatterns(field string, entries []string) (Patterns, error) {
	if len(entries) > MaxPatterns {
		return nil, errs.Validation(errs.FieldError{Path: field, Message: fmt.Sprintf("must have at most %d entries", MaxPatterns)})
	}
	out := make(Patterns, 0, len(entries))
	var fields []errs.FieldError
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if msg := checkPattern(e); msg != "" {
			fields = append(fields, errs.FieldError{Path: field, Message: fmt.Sprintf("entry %d (%q) %s", i+1, clip(e, 40), msg)})
			continue
		}
		out = append(out, e)
	}
	if len(fields) > 0 {
		return nil, errs.Validation(fields...)
	}
	return out, nil
}

func checkPattern(e string) string {
	if e == "" {
		return "is empty; remove the extra comma or leave the whole list empty to allow any"
	}
	if len(e) > MaxPatternLen {
		return fmt.Sprintf("is longer than %d characters", MaxPatternLen)
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '*') {
			return "may only hold lower-case letters, digits, '-', '.' and the wildcard '*'"
		}
	}
	return ""
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
