package kubetest

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	token := c.Token("ns", "app")

	c.FailNext(FaultInternalError, 2)
	c.FailNext(FaultTooManyRequests, 1)
	c.FailNext(FaultGarbage, 1)

	for i := range 2 {
		res := postReview(t, c, reviewer, token)
		st := decodeStatus(t, res.body)
		if res.code != 500 || st.Reason != metav1.StatusReasonInternalError || st.Code != 500 {
			t.Fatalf("request %d: status %d: %s", i, res.code, res.body)
		}
	}
	res := postReview(t, c, reviewer, token)
	st := decodeStatus(t, res.body)
	if res.code != 429 || st.Reason != metav1.StatusReasonTooManyRequests || res.header.Get("Retry-After") != "1" {
		t.Fatalf("429: status %d, Retry-After %q: %s", res.code, res.header.Get("Retry-After"), res.body)
	}
	res = postReview(t, c, reviewer, token)
	if res.code != 201 || json.Valid(res.body) {
		t.Fatalf("garbage: status %d: %s", res.code, res.body)
	}
	if tr := mustReview(t, c, reviewer, token); !tr.Status.Authenticated {
		t.Fatalf("after the queued faults: %+v", tr.Status)
	}

	c.FailAll(FaultInternalError)
	for range 3 {
		if res := postReview(t, c, reviewer, token); res.code != 500 {
			t.Fatalf("FailAll: status %d", res.code)
		}
	}
	if res := do(t, c, "GET", "/version", "", "", nil); res.code != 200 {
		t.Errorf("faults reached /version: %d", res.code)
	}
	c.ClearFaults()
	mustReview(t, c, reviewer, token)

	calls := c.TokenReviews()
	var codes []int
	for _, call := range calls {
		codes = append(codes, call.StatusCode)
	}
	if want := []int{500, 500, 429, 201, 201, 500, 500, 500, 201}; !slices.Equal(codes, want) {
		t.Errorf("recorded codes = %v, want %v", codes, want)
	}
	if calls[0].Fault != FaultInternalError || calls[3].Fault != FaultGarbage || calls[4].Fault != FaultNone {
		t.Errorf("recorded faults = %v %v %v", calls[0].Fault, calls[3].Fault, calls[4].Fault)
	}
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	pool := c.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	for _, tt := range []struct {
		name       string
		transport  *http.Transport
		protoMajor int
	}{
		{"http/1.1", &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		}, 1},
		{"h2", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := &http.Client{Transport: tt.transport, Timeout: 30 * time.Second}
			defer tt.transport.CloseIdleConnections()
			c.FailNext(FaultDrop, 1)
			req, err := http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(reviewBody(t, "x")))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+reviewer)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("dropped request answered %d (%s)", resp.StatusCode, resp.Proto)
			}
			last, ok := c.LastTokenReview()
			if !ok || last.Fault != FaultDrop || last.StatusCode != 0 {
				t.Errorf("last call = %+v", last)
			}
			// The next request is answered again.
			req, _ = http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(reviewBody(t, "x")))
			req.Header.Set("Authorization", "Bearer "+reviewer)
			req.Header.Set("Content-Type", "application/json")
			resp, err = client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 201 || resp.ProtoMajor != tt.protoMajor {
				t.Errorf("after the drop: %d over %s", resp.StatusCode, resp.Proto)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")

	c.SetLatency(100 * time.Millisecond)
	start := time.Now()
	mustReview(t, c, reviewer, "x")
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("answered after %v, before the injected latency", took)
	}

	// A client that gives up ends the wait.
	c.SetLatency(time.Hour)
	impatient := &http.Client{Transport: c.Client().Transport, Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(reviewBody(t, "x")))
	req.Header.Set("Authorization", "Bearer "+reviewer)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := impatient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answered despite an hour of latency")
	}
	c.SetLatency(0)
	mustReview(t, c, reviewer, "x")
}

func TestCloseEndsDelayedRequests(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	c.SetLatency(time.Hour)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(reviewBody(t, "x")))
		req.Header.Set("Authorization", "Bearer "+reviewer)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for c.RequestCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Close() // must not wait an hour
	if err := <-done; err == nil {
		t.Error("delayed request answered after Close")
	}
}

func TestRecording(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	login := c.Token("ns", "app", Audiences("vault"))

	var mu sync.Mutex
	var hooked []TokenReviewCall
	c.OnTokenReview(func(call TokenReviewCall) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, call)
	})
	if _, ok := c.LastTokenReview(); ok {
		t.Fatal("a call recorded before any request")
	}

	mustReview(t, c, reviewer, login, "vault")
	last, ok := c.LastTokenReview()
	if !ok || last.Bearer != reviewer || last.Token != login || !slices.Equal(last.Audiences, []string{"vault"}) ||
		last.StatusCode != 201 || !last.Authenticated || last.Error != "" {
		t.Errorf("last call = %+v", last)
	}

	// Infisical without a reviewer JWT: the login JWT is its own bearer. With
	// aud=vault it is not good for the API server, so the request is 401.
	if res := postReview(t, c, login, login); res.code != 401 {
		t.Errorf("login JWT for vault as bearer: %d", res.code)
	}
	last, _ = c.LastTokenReview()
	if last.Bearer != login || last.StatusCode != 401 || last.Audiences != nil {
		t.Errorf("last call = %+v", last)
	}

	do(t, c, "GET", "/version", "", "", nil)
	if c.TokenReviewCount() != 2 || c.RequestCount() != 3 {
		t.Errorf("counts: reviews %d, requests %d", c.TokenReviewCount(), c.RequestCount())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 2 || hooked[0].Bearer != reviewer || hooked[1].Bearer != login {
		t.Errorf("hook saw %+v", hooked)
	}
}

func TestConcurrentReviewsAndFaults(t *testing.T) {
	t.Parallel()
	c := New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	const workers, each = 8, 10

	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.FailNext(FaultInternalError, 1)
			c.SetLatency(time.Millisecond)
			c.CreatePod("ns", "churn", "app")
			c.DeletePod("ns", "churn")
			c.ClearFaults()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := c.Token("ns", "app", Audiences("vault"))
			for range each {
				req, _ := http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(mustJSON(reviewRequest(token, "vault"))))
				req.Header.Set("Authorization", "Bearer "+reviewer)
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Client().Do(req)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 201 && resp.StatusCode != 500 {
					t.Errorf("worker %d: status %d", w, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if got := c.TokenReviewCount(); got != workers*each {
		t.Errorf("TokenReviewCount = %d, want %d", got, workers*each)
	}
}

// BenchmarkTokenReview measures one TokenReview round trip over TLS.
func BenchmarkTokenReview(b *testing.B) {
	c := New(b)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	body := mustJSON(reviewRequest(c.Token("ns", "app", Audiences("vault")), "vault"))
	client := c.Client()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", c.URL()+tokenReviewsPath, bytesReader(body))
			req.Header.Set("Authorization", "Bearer "+reviewer)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
