package vault

import (
	"encoding/json"
	"testing"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{``, 0, false},
		{`null`, 0, false},
		{`3600`, 3600, false},
		{`"3600"`, 3600, false},
		{`"1h"`, 3600, false},
		{`"90m"`, 5400, false},
		{`"1h30m"`, 5400, false},
		{`"2d"`, 172800, false},
		{`""`, 0, false},
		{`-1`, 0, true},
		{`"-5m"`, 0, true},
		{`1.5`, 0, true},
		{`"soon"`, 0, true},
		{`true`, 0, true},
		{`[1]`, 0, true},
		{`"99999999999999999d"`, 0, true},
	}
	for _, tc := range cases {
		got, err := ParseDuration("ttl", json.RawMessage(tc.in))
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseDuration(%s) = %d, %v; want %d, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{`1`, `"1h"`, `"3d"`, `null`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDuration("ttl", json.RawMessage(s))
		if err == nil && n < 0 {
			t.Fatalf("%q parsed to a negative duration %d", s, n)
		}
	})
}
