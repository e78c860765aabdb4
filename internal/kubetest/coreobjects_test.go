package kubetest

import (
	"encoding/json"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCoreObjects: namespaces (with their labels) and service accounts
// (with their annotations) are readable by who has get on them, with the
// API server's Status bodies otherwise.
func TestCoreObjects(t *testing.T) {
	t.Parallel()
	c := New(t)
	c.CreateNamespace("apps", map[string]string{"team": "a", labelMetadataName: "spoofed"})
	c.AnnotateServiceAccount("apps", "web", map[string]string{"vault.hashicorp.com/alias-metadata-env": "prod"})
	reader := c.ReviewerToken("kube-system", "gatehouse")
	admin := c.AdminToken()

	get := func(path, bearer string, want int) result {
		t.Helper()
		res := do(t, c, "GET", path, bearer, "", nil)
		if res.code != want {
			t.Fatalf("GET %s = %d, want %d: %s", path, res.code, want, res.body)
		}
		return res
	}
	status := func(res result, reason metav1.StatusReason, msg string) {
		t.Helper()
		st := decodeStatus(t, res.body)
		if st.Reason != reason || st.Message != msg {
			t.Errorf("status = %s\nwant reason %s message %q", res.body, reason, msg)
		}
	}

	// Without a grant: forbidden, in RBAC's words.
	status(get("/api/v1/namespaces/apps", reader, 403), metav1.StatusReasonForbidden,
		`namespaces "apps" is forbidden: User "system:serviceaccount:kube-system:gatehouse" cannot get resource "namespaces" in API group "" in the namespace "apps"`)
	status(get("/api/v1/namespaces/apps/serviceaccounts/web", reader, 403), metav1.StatusReasonForbidden,
		`serviceaccounts "web" is forbidden: User "system:serviceaccount:kube-system:gatehouse" cannot get resource "serviceaccounts" in API group "" in the namespace "apps"`)
	status(get("/api/v1/namespaces/apps", "", 403), metav1.StatusReasonForbidden,
		`namespaces "apps" is forbidden: User "system:anonymous" cannot get resource "namespaces" in API group "" in the namespace "apps"`)

	c.GrantRead("kube-system", "gatehouse", ResourceNamespaces)
	var ns corev1.Namespace
	if err := json.Unmarshal(get("/api/v1/namespaces/apps", reader, 200).body, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Kind != "Namespace" || ns.APIVersion != "v1" || ns.Name != "apps" || ns.UID == "" || ns.ResourceVersion == "" ||
		ns.Status.Phase != corev1.NamespaceActive || !maps.Equal(ns.Labels, map[string]string{"team": "a", labelMetadataName: "apps"}) {
		t.Errorf("namespace = %+v", ns)
	}
	status(get("/api/v1/namespaces/nope", reader, 404), metav1.StatusReasonNotFound, `namespaces "nope" not found`)
	// The grant is for namespaces only.
	get("/api/v1/namespaces/apps/serviceaccounts/web", reader, 403)
	// Every cluster has its initial namespaces; a service account's
	// namespace exists with it; relabelling keeps metadata.name and moves
	// resourceVersion.
	get("/api/v1/namespaces/kube-system", reader, 200)
	c.CreateServiceAccount("team-b", "worker")
	get("/api/v1/namespaces/team-b", reader, 200)
	c.LabelNamespace("apps", map[string]string{"env": "prod"})
	var relabelled corev1.Namespace
	if err := json.Unmarshal(get("/api/v1/namespaces/apps", reader, 200).body, &relabelled); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(relabelled.Labels, map[string]string{"env": "prod", labelMetadataName: "apps"}) || relabelled.ResourceVersion == ns.ResourceVersion || relabelled.UID != ns.UID {
		t.Errorf("relabelled namespace = %+v", relabelled.ObjectMeta)
	}

	c.GrantRead("kube-system", "gatehouse", ResourceServiceAccounts)
	var sa corev1.ServiceAccount
	if err := json.Unmarshal(get("/api/v1/namespaces/apps/serviceaccounts/web", reader, 200).body, &sa); err != nil {
		t.Fatal(err)
	}
	acct, _ := c.ServiceAccount("apps", "web")
	if sa.Kind != "ServiceAccount" || sa.Name != "web" || sa.Namespace != "apps" || string(sa.UID) != acct.UID ||
		sa.Annotations["vault.hashicorp.com/alias-metadata-env"] != "prod" {
		t.Errorf("service account = %+v", sa)
	}
	status(get("/api/v1/namespaces/apps/serviceaccounts/nope", reader, 404), metav1.StatusReasonNotFound, `serviceaccounts "nope" not found`)

	// Lists, writes and other resources are not granted (nor served).
	get("/api/v1/namespaces", reader, 403)
	get("/api/v1/namespaces/apps/pods/x", reader, 403)
	if res := do(t, c, "DELETE", "/api/v1/namespaces/apps", reader, "", nil); res.code != 403 {
		t.Errorf("DELETE namespace = %d, want 403", res.code)
	}
	if res := do(t, c, "DELETE", "/api/v1/namespaces/apps", admin, "", nil); res.code != 405 {
		t.Errorf("DELETE namespace as admin = %d, want 405 (not modelled)", res.code)
	}
	get("/api/v1/namespaces/apps", admin, 200)

	c.RevokeRead("kube-system", "gatehouse", ResourceNamespaces)
	get("/api/v1/namespaces/apps", reader, 403)
}
