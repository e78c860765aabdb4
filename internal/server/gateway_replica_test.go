package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/tlstest"
)

// replicaCert writes a self-signed certificate for 127.0.0.1 (the one
// every replica serves, as replicas behind one service share theirs) and
// returns the certificate and key files. podIPs: the certificate is for
// DNS names only, as one a Kubernetes Service's names are in, which the
// replicas' IP addresses are not.
func replicaCert(t *testing.T, podIPs bool) (certFile, keyFile string) {
	t.Helper()
	if podIPs {
		return tlstest.SelfSigned(t, nil, []string{"localhost", "gh-gatehouse.auth.svc"})
	}
	return tlstest.SelfSigned(t, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
}

// replica is one live server of a replica set.
type replica struct {
	*gwEnv
	url  string
	stop func()
}

// startReplica runs a server on storage with TLS and its own
// --replica-url (at its IP address); stop (also run at cleanup) shuts it
// down gracefully. Clients reach it at host (its IP address when "").
func startReplica(t *testing.T, storage, certFile, keyFile, host string, c *kubetest.Cluster) *replica {
	t.Helper()
	ln, err := server.Bind("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{
		Listener: ln, Storage: storage, EncryptionKey: testKey, TLSCert: certFile, TLSKey: keyFile,
		ReplicaURL: url, Out: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("replica did not stop")
			}
		})
	}
	t.Cleanup(stop)
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}
	base := url
	if host != "" {
		base = "https://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	ls := &liveServer{t: t, base: base, client: client}
	for _, line := range strings.Split(out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			ls.root = l
		}
	}
	return &replica{gwEnv: &gwEnv{t: t, ls: ls, srv: srv, c: c}, url: url, stop: stop}
}

// twoReplicas starts replicas a and b on one PostgreSQL database; both
// hold the root token a created.
func twoReplicas(t *testing.T) (a, b *replica, certFile string) {
	return replicaSet(t, false)
}

// replicaSet is twoReplicas; podIPs: their certificate covers DNS names
// only, not the IP addresses of their --replica-url (clients reach them
// at localhost), as the Helm chart's pods at their pod IPs.
func replicaSet(t *testing.T, podIPs bool) (a, b *replica, certFile string) {
	t.Helper()
	storage := pgtest.URL(t)
	certFile, keyFile := replicaCert(t, podIPs)
	c := kubetest.New(t)
	host := ""
	if podIPs {
		host = "localhost"
	}
	a = startReplica(t, storage, certFile, keyFile, host, c)
	b = startReplica(t, storage, certFile, keyFile, host, c)
	b.ls.root = a.ls.root
	return a, b, certFile
}

// gatewayView reads a gateway through r's admin API.
func (r *replica) gatewayView(id string) map[string]any {
	r.t.Helper()
	status, body := r.ls.call("GET", "/api/v2/gateways/"+id, r.ls.root, nil)
	if status != 200 {
		r.t.Fatalf("get gateway: %d %v", status, body)
	}
	return body["gateway"].(map[string]any)
}

// TestGatewayReplicaForwarding: a gateway connected to replica a serves
// logins made on replica b, in all three modes (gateway review, api relay
// with TLS end to end, local key reads), through streams b opens via a.
func TestGatewayReplicaForwarding(t *testing.T) {
	a, b, ca := twoReplicas(t)
	g := a.startGateway("r1", gwOptions{serverCA: ca})
	if b.srv.Gateways().Connected(g.id()) {
		t.Fatal("the gateway should be connected to a only")
	}
	if v := b.gatewayView(g.id()); v["connected"] != true {
		t.Errorf("b shows the gateway a holds as %v", v)
	}
	reviewer := b.c.ReviewerToken("kube-system", "gatehouse-reviewer")
	modes := []struct {
		name string
		cfg  map[string]any
		jwt  string
	}{
		{"gateway review", map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()}, b.c.Token("apps", "web")},
		{"api relay", map[string]any{"tokenReviewMode": "api", "gatewayId": g.id(),
			"kubernetesHost": b.c.Host(), "caCert": b.c.CAPEM(), "tokenReviewerJwt": reviewer}, b.c.Token("apps", "web")},
		{"local", map[string]any{"tokenReviewMode": "local", "gatewayId": g.id(),
			"kubernetesHost": b.c.Host(), "caCert": b.c.CAPEM(), "tokenReviewerJwt": reviewer},
			b.c.Token("apps", "web", kubetest.Audiences(b.c.Issuer()))},
	}
	for _, m := range modes {
		discovery := len(b.c.DiscoveryCalls())
		id := b.kubeIdentity(m.cfg)
		if status, body := b.login(id, m.jwt); status != 200 || body["accessToken"] == nil {
			t.Errorf("%s login on b: %d %v", m.name, status, body)
		}
		if m.name == "local" && len(b.c.DiscoveryCalls()) == discovery {
			t.Error("local mode: the keys were not read through the gateway")
		}
	}
	// b holds no session of the gateway: every call went through a (on
	// streams b keeps alive between calls).
	if a.srv.Gateways().ReplicaStreamsServed() == 0 || b.srv.Gateways().Connected(g.id()) {
		t.Error("the logins on b did not go through a")
	}
}

// TestGatewayReplicaPodIPs: replicas whose --replica-url is an IP
// address their certificate does not cover (the Helm chart's pod IPs)
// still forward to each other: a holder's certificate is accepted for a
// DNS name of the replica's own.
func TestGatewayReplicaPodIPs(t *testing.T) {
	a, b, ca := replicaSet(t, true)
	g := a.startGateway("pod-ip", gwOptions{serverCA: ca, serverURL: a.ls.base})
	id := b.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	if status, body := b.login(id, b.c.Token("apps", "web")); status != 200 || body["accessToken"] == nil {
		t.Fatalf("login on b through the gateway a holds: %d %v", status, body)
	}
	if a.srv.Gateways().ReplicaStreamsServed() == 0 {
		t.Error("the login on b did not go through a")
	}
}

// signStream signs a stream request as a replica holding key would.
func signStream(key []byte, path, gatewayID string, unix int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "GET\n%s\n%s\n%d", path, gatewayID, unix)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestGatewayReplicaAuth: the holder's stream endpoint refuses a request
// without a signature (401), with a bad one, one made with another key or
// a stale one (403), and opens nothing for them; a good one is upgraded.
func TestGatewayReplicaAuth(t *testing.T) {
	a, _, ca := twoReplicas(t)
	g := a.startGateway("auth", gwOptions{serverCA: ca})
	key, err := seal.ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	good, wrong := key.Derive(gateway.ReplicaKeyPurpose), other.Derive(gateway.ReplicaKeyPurpose)
	path := "/internal/v1/gateways/" + g.id() + "/stream"
	now := time.Now().Unix()
	cases := []struct {
		name       string
		ts, sig    string
		wantStatus int
	}{
		{"unsigned", "", "", 401},
		{"garbage signature", strconv.FormatInt(now, 10), "AAAA", 403},
		{"another key", strconv.FormatInt(now, 10), signStream(wrong, path, g.id(), now), 403},
		{"another gateway's signature", strconv.FormatInt(now, 10), signStream(good, path, "00000000-0000-0000-0000-000000000000", now), 403},
		{"stale", strconv.FormatInt(now-600, 10), signStream(good, path, g.id(), now-600), 403},
		{"good", strconv.FormatInt(now, 10), signStream(good, path, g.id(), now), 101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := a.srv.Gateways().ReplicaStreamsServed()
			status := rawStreamRequest(t, a, path, tc.ts, tc.sig)
			if status != tc.wantStatus {
				t.Errorf("got HTTP %d, want %d", status, tc.wantStatus)
			}
			opened := a.srv.Gateways().ReplicaStreamsServed() - before
			if (tc.wantStatus == 101) != (opened == 1) {
				t.Errorf("%d streams opened", opened)
			}
		})
	}
}

// rawStreamRequest sends one stream request over TLS and returns the
// answer's status.
func rawStreamRequest(t *testing.T, r *replica, path, ts, sig string) int {
	t.Helper()
	tr := r.ls.client.Transport.(*http.Transport)
	conf := tr.TLSClientConfig.Clone()
	conf.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(r.url, "https://"), conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: " + gateway.ReplicaProtocol + "\r\n"
	if ts != "" {
		req += gateway.HeaderReplicaTime + ": " + ts + "\r\n" + gateway.HeaderReplicaSignature + ": " + sig + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// tcpFailover is a load balancer in front of replicas: each connection
// goes to the first backend that accepts it.
func tcpFailover(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	keep := func(c net.Conn) {
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			var up net.Conn
			for _, b := range backends {
				if up, err = net.Dial("tcp", b); err == nil {
					break
				}
			}
			if up == nil {
				down.Close()
				continue
			}
			keep(down)
			keep(up)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, down); up.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(down, up); down.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestGatewayReplicaMove: a gateway connected to replica a (behind a
// load balancer) serves logins on b; a stops, the gateway reconnects, to
// b, and the logins on b keep working.
func TestGatewayReplicaMove(t *testing.T) {
	a, b, ca := twoReplicas(t)
	lb := tcpFailover(t, strings.TrimPrefix(a.url, "https://"), strings.TrimPrefix(b.url, "https://"))
	g := a.startGateway("mover", gwOptions{serverCA: ca, serverURL: "https://" + lb, drain: 5 * time.Second})
	id := b.kubeIdentity(map[string]any{"tokenReviewMode": "gateway", "gatewayId": g.id()})
	if status, body := b.login(id, b.c.Token("apps", "web")); status != 200 {
		t.Fatalf("login on b while a holds the gateway: %d %v", status, body)
	}
	if v := b.gatewayView(g.id()); v["connected"] != true {
		t.Errorf("b shows the gateway as %v", v)
	}
	a.stop()
	b.waitFor("the gateway connected to b", func() bool { return b.srv.Gateways().Connected(g.id()) })
	if status, body := b.login(id, b.c.Token("apps", "web")); status != 200 {
		t.Fatalf("login on b after the gateway moved: %d %v", status, body)
	}
}
