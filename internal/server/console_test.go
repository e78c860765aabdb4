package server_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

func TestConsoleMounted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		disable  bool
		signin   int
		redirect int
	}{
		{"on", false, http.StatusOK, http.StatusMovedPermanently},
		{"off", true, http.StatusNotFound, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServerWith(t, server.Config{Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), DisableUI: tc.disable})
			client := ts.http.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			for path, want := range map[string]int{"/ui/signin": tc.signin, "/ui": tc.redirect} {
				resp, err := client.Get(ts.http.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
				}
			}
		})
	}
}
