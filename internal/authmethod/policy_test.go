package authmethod

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func i64(v int64) *int64 { return &v }

func ips(s ...string) *[]TrustedIP {
	out := make([]TrustedIP, len(s))
	for i, v := range s {
		out[i] = TrustedIP{IPAddress: v}
	}
	return &out
}

func TestCreate(t *testing.T) {
	cases := []struct {
		name string
		in   PolicyInput
		want store.TokenPolicy
		code errs.Code
	}{
		{"defaults", PolicyInput{}, store.TokenPolicy{TTL: DefaultTTL, MaxTTL: DefaultTTL, TrustedIPs: []string{"0.0.0.0/0", "::/0"}}, 0},
		{"explicit", PolicyInput{TTL: i64(60), MaxTTL: i64(120), NumUsesLimit: i64(3), TrustedIPs: ips("10.1.2.3", " 10.0.0.0/8 ", "2001:db8::1/32")},
			store.TokenPolicy{TTL: 60, MaxTTL: 120, NumUsesLimit: 3, TrustedIPs: []string{"10.1.2.3/32", "10.0.0.0/8", "2001:db8::/32"}}, 0},
		{"ttl 0 refused on attach", PolicyInput{TTL: i64(0)}, store.TokenPolicy{}, errs.Invalid},
		{"ttl at the limit", PolicyInput{TTL: i64(MaxTTLLimit)}, store.TokenPolicy{}, errs.Invalid},
		{"negative uses", PolicyInput{NumUsesLimit: i64(-1)}, store.TokenPolicy{}, errs.Invalid},
		{"ttl above max ttl", PolicyInput{TTL: i64(100), MaxTTL: i64(50)}, store.TokenPolicy{}, errs.BadRequest},
		{"bad ip", PolicyInput{TrustedIPs: ips("10.0.0.300")}, store.TokenPolicy{}, errs.Invalid},
		{"bad cidr", PolicyInput{TrustedIPs: ips("10.0.0.0/33")}, store.TokenPolicy{}, errs.Invalid},
		{"empty list", PolicyInput{TrustedIPs: ips()}, store.TokenPolicy{}, errs.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Create()
			if tc.code != 0 {
				if errs.CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want code %v", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	cur := store.TokenPolicy{TTL: 100, MaxTTL: 200, TrustedIPs: []string{"0.0.0.0/0"}}
	cases := []struct {
		name string
		in   PolicyInput
		want store.TokenPolicy
		code errs.Code
	}{
		{"nothing", PolicyInput{}, cur, 0},
		{"lower max ttl only, still above ttl", PolicyInput{MaxTTL: i64(150)}, store.TokenPolicy{TTL: 100, MaxTTL: 150, TrustedIPs: []string{"0.0.0.0/0"}}, 0},
		{"max ttl below stored ttl", PolicyInput{MaxTTL: i64(50)}, store.TokenPolicy{}, errs.BadRequest},
		{"ttl 0 allowed on update", PolicyInput{TTL: i64(0)}, store.TokenPolicy{TTL: 0, MaxTTL: 200, TrustedIPs: []string{"0.0.0.0/0"}}, 0},
		{"max ttl 0 lifts the comparison", PolicyInput{TTL: i64(500), MaxTTL: i64(0)}, store.TokenPolicy{TTL: 500, MaxTTL: 0, TrustedIPs: []string{"0.0.0.0/0"}}, 0},
		{"above the limit", PolicyInput{TTL: i64(MaxTTLLimit + 1)}, store.TokenPolicy{}, errs.Invalid},
		{"empty ip list", PolicyInput{TrustedIPs: ips()}, store.TokenPolicy{}, errs.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Update(cur)
			if tc.code != 0 {
				if errs.CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want code %v", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestViewTrustedIPs(t *testing.T) {
	got := ViewTrustedIPs([]string{"10.0.0.0/8", "::/0"})
	want := []TrustedIPView{{IPAddress: "10.0.0.0", Type: "ipv4", Prefix: 8}, {IPAddress: "::", Type: "ipv6", Prefix: 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}
