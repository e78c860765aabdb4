package server

import (
	"bytes"
	"log/slog"
	"net"
	"testing"
)

func TestWarnPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		ip    string
		tlsOn bool
		warn  bool
	}{
		{"0.0.0.0", false, true},
		{"::", false, true},
		{"10.1.2.3", false, true},
		{"0.0.0.0", true, false},
		{"127.0.0.1", false, false},
		{"::1", false, false},
	} {
		var buf bytes.Buffer
		warnPlainHTTP(slog.New(slog.NewTextHandler(&buf, nil)), &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 8200}, c.tlsOn)
		if got := buf.Len() > 0; got != c.warn {
			t.Errorf("%s tls=%v: warned = %v, want %v (%s)", c.ip, c.tlsOn, got, c.warn, buf.String())
		}
	}
}
