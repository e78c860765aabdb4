package helm

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// checkReplicaForwarding: with PostgreSQL and TLS each server pod gets
// its own --replica-url at its pod IP (the downward API), declared after
// POD_IP so that Kubernetes substitutes it, on the container's own port
// and over HTTPS; otherwise none, and NOTES.txt warns when several
// replicas cannot forward.
func checkReplicaForwarding(t *testing.T, m mode, c corev1.Container, notes string) {
	t.Helper()
	at := func(name string) int {
		return slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	}
	i, u := at("POD_IP"), at("GATEHOUSE_REPLICA_URL")
	if m.replicaURL == "" {
		if u >= 0 {
			t.Errorf("GATEHOUSE_REPLICA_URL %q set, want none", c.Env[u].Value)
		}
		warned := strings.Contains(notes, "do not forward gateway traffic")
		if want := m.postgres && m.replicas > 1; warned != want {
			t.Errorf("NOTES.txt warns about forwarding: %v, want %v:\n%s", warned, want, notes)
		}
		return
	}
	if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil || c.Env[i].ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Fatalf("POD_IP not from the downward API's status.podIP: %+v", c.Env)
	}
	if u < 0 || u < i {
		t.Fatalf("GATEHOUSE_REPLICA_URL missing or declared before POD_IP (no substitution): %+v", c.Env)
	}
	url := c.Env[u].Value
	if url != m.replicaURL || c.Env[u].ValueFrom != nil {
		t.Errorf("GATEHOUSE_REPLICA_URL %q, want %q", url, m.replicaURL)
	}
	if port := c.Ports[0].ContainerPort; !strings.HasPrefix(url, "https://") || !strings.HasSuffix(url, ":8080") || port != 8080 {
		t.Errorf("GATEHOUSE_REPLICA_URL %q is not HTTPS on the container port %d", url, port)
	}
	if strings.Contains(notes, "do not forward gateway traffic") {
		t.Errorf("NOTES.txt warns about forwarding although it is set:\n%s", notes)
	}
}
