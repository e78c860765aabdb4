package vault

import (
	"encoding/json"
	"testing"
)

func TestTuneTTL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // -1: left as it is
		bad  bool
	}{
		{``, -1, false},
		{`null`, -1, false},
		{`""`, -1, false},
		{`" "`, -1, false},
		{`"system"`, 0, false},
		{`0`, 0, false},
		{`"0"`, 0, false},
		{`3600`, 3600, false},
		{`"1h"`, 3600, false},
		{`"2d"`, 172800, false},
		{`"-1h"`, 0, true},
		{`-5`, 0, true},
		{`"soon"`, 0, true},
		{`true`, 0, true},
	} {
		got, err := tuneTTL("default_lease_ttl", json.RawMessage(tc.in))
		switch {
		case (err != nil) != tc.bad:
			t.Errorf("tuneTTL(%s): error %v, want bad=%v", tc.in, err, tc.bad)
		case tc.bad:
		case tc.want == -1 && got != nil:
			t.Errorf("tuneTTL(%s) = %d, want unchanged", tc.in, *got)
		case tc.want >= 0 && (got == nil || *got != tc.want):
			t.Errorf("tuneTTL(%s) = %v, want %d", tc.in, got, tc.want)
		}
	}
}
