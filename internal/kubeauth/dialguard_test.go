package kubeauth

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

func TestIsMetadataAddress(t *testing.T) {
	for addr, want := range map[string]bool{
		"169.254.169.254":         true,
		"169.254.170.2":           true,
		"169.254.0.1":             true,
		"100.100.100.200":         true,
		"fd00:ec2::254":           true,
		"fe80::1":                 true,
		"fe80::1%eth0":            true,
		"::ffff:169.254.169.254":  true,
		"10.0.0.1":                false, // private addresses stay allowed: API servers live there
		"192.168.1.10":            false,
		"172.16.0.1":              false,
		"127.0.0.1":               false,
		"::1":                     false,
		"fd00::1":                 false,
		"100.100.100.201":         false,
		"203.0.113.7":             false,
		"2001:db8::1":             false,
		"::ffff:10.0.0.1":         false,
		"fd00:ec2::253":           false,
		"169.253.255.255":         false,
		"169.255.0.0":             false,
		"fe7f:ffff:ffff:ffff::ff": false,
	} {
		if got := isMetadataAddress(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isMetadataAddress(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestRefuseMetadataChecksResolvedAddress: the dial-time check sees the
// address a name resolved to, so it holds for any name.
func TestRefuseMetadataChecksResolvedAddress(t *testing.T) {
	for addr, refused := range map[string]bool{
		"169.254.169.254:80":           true,
		"[fd00:ec2::254]:80":           true,
		"[::ffff:169.254.169.254]:443": true,
		"[fe80::1%eth0]:443":           true,
		"10.0.0.1:6443":                false,
		"127.0.0.1:6443":               false,
	} {
		err := refuseMetadata("tcp", addr, nil)
		if (err != nil) != refused || (err != nil && !errors.Is(err, ErrMetadataAddress)) {
			t.Errorf("refuseMetadata(%s) = %v, want refused %v", addr, err, refused)
		}
	}
}

// TestUnverifiedNeverReachesMetadata: with verifyTlsCertificate=false a
// login or probe aimed at a link-local or metadata address fails before
// any connection (so the reviewer JWT is never sent), saying why.
func TestUnverifiedNeverReachesMetadata(t *testing.T) {
	t.Parallel()
	reviewer := secret.Secret("reviewer-jwt-must-not-leak")
	jwt := JWT{Raw: secret.Secret("login-jwt-must-not-leak")}
	for _, host := range []string{"https://169.254.169.254", "https://[fe80::1]:6443", "https://[fd00:ec2::254]", "https://100.100.100.200:443"} {
		cl := Cluster{Host: host, VerifyTLS: false, ReviewMode: ReviewAPI, ReviewerJWT: reviewer}
		svc := testService(5 * time.Second)
		start := time.Now()
		_, err := svc.Login(context.Background(), Config{Cluster: cl}, jwt)
		if !errors.Is(err, ErrMetadataAddress) {
			t.Fatalf("%s: login error %v, want the metadata refusal", host, err)
		}
		checkErr(t, err, errs.BadGateway, ErrAPI, "link-local or cloud metadata address")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: refusal took %s: a connection was attempted", host, d)
		}
		if err := svc.Probe(context.Background(), cl); !errors.Is(err, ErrMetadataAddress) {
			t.Errorf("%s: probe error %v, want the metadata refusal", host, err)
		}
		if msg := err.Error(); strings.Contains(msg, "leak") {
			t.Errorf("%s: the error holds a JWT: %s", host, msg)
		}
	}
}

// TestProbeErrorsEchoNothing: whatever an arbitrary port answers (an SSH
// banner, a dropped connection), the error names a class of failure and
// echoes neither the peer's bytes nor the socket error's text.
func TestProbeErrorsEchoNothing(t *testing.T) {
	t.Parallel()
	serve := func(t *testing.T, handle func(net.Conn)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				handle(c)
			}
		}()
		return "https://" + ln.Addr().String()
	}
	cases := map[string]func(net.Conn){
		"ssh banner":     func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6 banner-secret\r\n")); c.Close() },
		"closes at once": func(c net.Conn) { c.Close() },
		"resets": func(c net.Conn) {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		},
	}
	for name, handle := range cases {
		t.Run(name, func(t *testing.T) {
			host := serve(t, handle)
			cl := Cluster{Host: host, VerifyTLS: false, ReviewMode: ReviewAPI, ReviewerJWT: "reviewer"}
			err := testService(2*time.Second).Probe(context.Background(), cl)
			if err == nil {
				t.Fatal("probe succeeded")
			}
			msg := errs.As(err).Message
			for _, leak := range []string{"SSH", "banner", "read tcp", "write tcp", "->", "EOF", "reset by peer", "connection reset by peer"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message echoes %q: %s", leak, msg)
				}
			}
		})
	}
}
