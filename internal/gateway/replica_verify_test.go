package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCert issues a certificate for dns and ips, signed by parent (self-
// signed when nil).
func testCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, dns []string, ips ...string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: dns, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: ca,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestVerifyReplicaPeer: a holder reached at a pod IP is accepted when its
// certificate chains to the roots and is valid for that IP or for one of
// this replica's own names; not for another name, nor from another CA.
func TestVerifyReplicaPeer(t *testing.T) {
	const svc = "gh-gatehouse.auth.svc"
	ca, caKey := testCert(t, nil, nil, true, nil)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	service, _ := testCert(t, ca, caKey, false, []string{svc})
	withIP, _ := testCert(t, ca, caKey, false, []string{"other.example"}, "10.1.2.3")
	other, _ := testCert(t, ca, caKey, false, []string{"other.auth.svc"})
	otherCA, otherKey := testCert(t, nil, nil, true, nil)
	foreign, _ := testCert(t, otherCA, otherKey, false, []string{svc})
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		names []string
		ok    bool
	}{
		{"service name", []*x509.Certificate{service}, []string{"localhost", svc}, true},
		{"pod IP in the certificate", []*x509.Certificate{withIP}, []string{svc}, true},
		{"another service's name", []*x509.Certificate{other}, []string{svc}, false},
		{"no own names", []*x509.Certificate{service}, nil, false},
		{"another CA", []*x509.Certificate{foreign, otherCA}, []string{svc}, false},
		{"no certificate", nil, []string{svc}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyReplicaPeer(tls.ConnectionState{PeerCertificates: tc.chain}, roots, "10.1.2.3", tc.names)
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
