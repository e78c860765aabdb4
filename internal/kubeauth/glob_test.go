package kubeauth

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

func TestMatchGlob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"default", "default", true},
		{"default", "default2", false},
		{"default", "Default", false},
		{"team-*", "team-a", true},
		{"team-*", "team-", true},
		{"team-*", "team", false},
		{"*-prod", "payments-prod", true},
		{"*-prod", "payments-prod-2", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-c", true},
		{"a*b*c", "a-c-b", false},
		{"a*b*c", "aXbYbZc", true},
		{"**", "x", true},
		{"a**b", "ab", true},
		{"*a*a*a*", "aaa", true},
		{"*a*a*a*", "aa", false},
		{"?", "a", false}, // '?' is a literal
		{"[a]", "a", false},
		{"a.b", "axb", false}, // '.' is a literal
		{"*.svc", "kube.svc", true},
	}
	for _, tc := range cases {
		if got := MatchGlob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestPatternsAllows(t *testing.T) {
	t.Parallel()
	if !(Patterns{}).Allows("anything") || !(Patterns(nil)).Allows("") {
		t.Error("an empty list must allow everything")
	}
	p := Patterns{"dev", "team-*"}
	for s, want := range map[string]bool{"dev": true, "team-x": true, "prod": false, "dev2": false} {
		if got := p.Allows(s); got != want {
			t.Errorf("Allows(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    Patterns
		wantErr string
	}{
		{"", Patterns{}, ""},
		{"   ", Patterns{}, ""},
		{"dev", Patterns{"dev"}, ""},
		{" dev , team-* ,prod ", Patterns{"dev", "team-*", "prod"}, ""},
		{"*", Patterns{"*"}, ""},
		{"a.b-c", Patterns{"a.b-c"}, ""},
		{"dev,", nil, "entry 2 (\"\") is empty"},
		{",dev", nil, "entry 1"},
		{"dev,,prod", nil, "entry 2"},
		{"Dev", nil, "lower-case"},
		{"dev prod", nil, "lower-case"},
		{"ns:name", nil, "lower-case"},
		{"team-?", nil, "lower-case"},
		{strings.Repeat("a", MaxPatternLen+1), nil, "longer than 253"},
		{strings.Repeat("a,", MaxPatterns) + "a", nil, "at most 100 entries"},
	}
	for _, tc := range cases {
		got, err := ParseList("allowedNamespaces", tc.in)
		if tc.wantErr != "" {
			e := errs.As(err)
			if err == nil || e.Code != errs.Invalid || len(e.Fields) == 0 || e.Fields[0].Path != "allowedNamespaces" ||
				!strings.Contains(e.Fields[0].Message, tc.wantErr) {
				t.Errorf("ParseList(%.30q) err = %v %+v, want Invalid with %q", tc.in, err, e.Fields, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || got == nil {
			t.Errorf("ParseList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzMatchGlob holds the matcher to a regular expression built from the
// same pattern, on valid UTF-8 (the regexp package reads runes).
func FuzzMatchGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", ""}, {"a*b*c", "aXbYc"}, {"*a*a*a*", "aaaa"}, {"team-*", "team-"}, {"**x", "yx"}, {"", ""}, {"é*", "éé"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		got := MatchGlob(pattern, s)
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
		if want := re.MatchString(s); got != want {
			t.Fatalf("MatchGlob(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
		if MatchGlob(pattern, pattern) != true && !strings.Contains(pattern, "*") {
			t.Fatalf("a pattern without '*' does not match itself: %q", pattern)
		}
	})
}
