package helm

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	gatewayName = fullname + "-gateway"
	gatewaySA   = fullname + "-gateway"
)

// gatewayMode is a documented way to install the gateway (docs/deployment.md).
type gatewayMode struct {
	name string
	vals map[string]any
	// what the assertions depend on
	server      bool   // the server is in the release too
	serverURL   string // --server
	caSecret    string // the server's CA from this Secret...
	caConfigMap string // ...or this ConfigMap
	credentials string // Universal Auth Secret; empty: Kubernetes Auth
	idKey       string // its keys
	secretKey   string
	identityID  string
	replicas    int32
	pool        string
}

var gatewayModes = []gatewayMode{
	{name: "with-server", vals: map[string]any{
		"gateway": map[string]any{"enabled": true,
			"auth":     map[string]any{"existingSecret": "gw-creds"},
			"serverCA": map[string]any{"configMapName": "gatehouse-ca"}},
	}, server: true, serverURL: "http://" + fullname + "." + namespace + ".svc:8080", caConfigMap: "gatehouse-ca",
		credentials: "gw-creds", idKey: "client-id", secretKey: "client-secret", replicas: 1},
	{name: "gateway-only-pool", vals: map[string]any{
		"server": map[string]any{"enabled": false},
		"gateway": map[string]any{"enabled": true, "replicaCount": 3, "pool": "prod-eu",
			"serverURL":  "https://gatehouse.example.com",
			"serverCA":   map[string]any{"secretName": "gatehouse-ca", "key": "ca.pem"},
			"auth":       map[string]any{"existingSecret": "gw-creds", "clientIDKey": "id", "clientSecretKey": "secret"},
			"allowRelay": []any{"10.0.0.1:6443"}},
	}, serverURL: "https://gatehouse.example.com", caSecret: "gatehouse-ca", credentials: "gw-creds",
		idKey: "id", secretKey: "secret", replicas: 3, pool: "prod-eu"},
	{name: "gateway-only-kubernetes-auth", vals: map[string]any{
		"server": map[string]any{"enabled": false},
		"gateway": map[string]any{"enabled": true, "serverURL": "https://gatehouse.example.com", "name": "eu-1",
			"auth": map[string]any{"method": "kubernetes", "identityID": "6f1c"}},
	}, serverURL: "https://gatehouse.example.com", identityID: "6f1c", replicas: 1},
}

// isGateway: the object is the gateway's (app.kubernetes.io/component).
func isGateway(m metav1.ObjectMeta) bool {
	return m.Labels["app.kubernetes.io/component"] == "gateway"
}

// withoutGateway is o without the gateway's objects: what the server's
// invariants are checked on.
func withoutGateway(o objects) objects {
	keep := func(m metav1.ObjectMeta) bool { return !isGateway(m) }
	o.deployments = slices.DeleteFunc(slices.Clone(o.deployments), func(d *appsv1.Deployment) bool { return !keep(d.ObjectMeta) })
	o.serviceAccounts = slices.DeleteFunc(slices.Clone(o.serviceAccounts), func(s *corev1.ServiceAccount) bool { return !keep(s.ObjectMeta) })
	o.bindings = slices.DeleteFunc(slices.Clone(o.bindings), func(b *rbacv1.ClusterRoleBinding) bool { return !keep(b.ObjectMeta) })
	return o
}

func TestChartGateway(t *testing.T) {
	for _, m := range gatewayModes {
		t.Run(m.name, func(t *testing.T) {
			o := mustRender(t, m.vals)
			checkGateway(t, m, o)
			if m.server {
				// The server is rendered exactly as without a gateway.
				checkInvariants(t, modes[0], withoutGateway(o))
			} else {
				for what, n := range map[string]int{"Services": len(o.services), "ConfigMaps": len(o.configMaps),
					"Secrets": len(o.secrets), "PersistentVolumeClaims": len(o.pvcs), "Ingresses": len(o.ingresses)} {
					if n != 0 {
						t.Errorf("%d %s rendered with server.enabled=false", n, what)
					}
				}
			}
		})
	}
}

func checkGateway(t *testing.T, m gatewayMode, o objects) {
	var gws []*appsv1.Deployment
	for _, d := range o.deployments {
		if isGateway(d.ObjectMeta) {
			gws = append(gws, d)
		}
	}
	d := one(t, "gateway Deployments", gws)
	if want := 1; m.server {
		want = 2
		if len(o.deployments) != want {
			t.Errorf("%d Deployments, want the server's and the gateway's", len(o.deployments))
		}
	} else if len(o.deployments) != want {
		t.Errorf("%d Deployments with server.enabled=false, want only the gateway's", len(o.deployments))
	}
	if d.Name != gatewayName || d.Namespace != namespace {
		t.Errorf("gateway Deployment %s/%s", d.Namespace, d.Name)
	}
	pod := d.Spec.Template.Spec
	c := one(t, "gateway containers", pod.Containers)
	podLabels := labels.Set(d.Spec.Template.Labels)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != m.replicas {
		t.Errorf("gateway replicas %v, want %d", d.Spec.Replicas, m.replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("gateway selector %v does not select its pods %v", d.Spec.Selector, podLabels)
	}
	for _, svc := range o.services {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s selects the gateway pods", svc.Name)
		}
	}
	for _, sd := range o.deployments {
		if sd != d {
			s, _ := metav1.LabelSelectorAsSelector(sd.Spec.Selector)
			if s.Matches(podLabels) {
				t.Errorf("Deployment %s selects the gateway pods", sd.Name)
			}
		}
	}

	// Flags.
	args := c.Args
	if len(args) == 0 || args[0] != "gateway" {
		t.Fatalf("args %q: want `gateway ...`", args)
	}
	has := func(a string) bool { return slices.Contains(args, a) }
	for _, a := range []string{"--server=" + m.serverURL, "--listen=0.0.0.0:8081"} {
		if !has(a) {
			t.Errorf("args %q lack %s", args, a)
		}
	}
	if m.pool != "" && !has("--pool="+m.pool) {
		t.Errorf("args %q lack --pool=%s", args, m.pool)
	}

	// Volumes: every mount is declared; the root filesystem is read-only.
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for path, name := range mounts {
		if _, ok := volumes[name]; !ok {
			t.Errorf("gateway mount %s uses undeclared volume %q", path, name)
		}
	}
	if v, ok := volumes[mounts["/tmp"]]; !ok || v.EmptyDir == nil {
		t.Error("no emptyDir on the gateway's /tmp")
	}

	// The server's CA from the Secret or ConfigMap, as ca.crt.
	ca := volumes[mounts["/etc/gatehouse/server-ca"]]
	switch {
	case m.caSecret != "":
		if ca.Secret == nil || ca.Secret.SecretName != m.caSecret || len(ca.Secret.Items) != 1 || ca.Secret.Items[0].Path != "ca.crt" {
			t.Errorf("server CA volume %+v, want Secret %s as ca.crt", ca.VolumeSource, m.caSecret)
		}
	case m.caConfigMap != "":
		if ca.ConfigMap == nil || ca.ConfigMap.Name != m.caConfigMap || len(ca.ConfigMap.Items) != 1 || ca.ConfigMap.Items[0].Path != "ca.crt" {
			t.Errorf("server CA volume %+v, want ConfigMap %s as ca.crt", ca.VolumeSource, m.caConfigMap)
		}
	}
	if wantCA := m.caSecret != "" || m.caConfigMap != ""; has("--server-ca-file=/etc/gatehouse/server-ca/ca.crt") != wantCA {
		t.Errorf("args %q: --server-ca-file present %v, want %v", args, !wantCA, wantCA)
	}

	// Credentials: from the existing Secret by reference, the client secret
	// as a file; never inline, never a whole Secret as environment.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if up := strings.ToUpper(e.Name); e.ValueFrom == nil && (strings.Contains(up, "SECRET") || strings.Contains(up, "CLIENT") || strings.Contains(up, "TOKEN")) {
			t.Errorf("gateway env %s is set inline", e.Name)
		}
	}
	if _, ok := env["GATEHOUSE_CLIENT_SECRET"]; ok {
		t.Error("the client secret is an environment variable, want a file")
	}
	if len(c.EnvFrom) != 0 {
		t.Errorf("gateway envFrom %+v: want only named references", c.EnvFrom)
	}
	creds := volumes[mounts["/etc/gatehouse/gateway-credentials"]]
	if m.credentials != "" {
		id := env["GATEHOUSE_CLIENT_ID"].ValueFrom
		if id == nil || id.SecretKeyRef == nil || id.SecretKeyRef.Name != m.credentials {
			t.Errorf("GATEHOUSE_CLIENT_ID from %+v, want Secret %s", id, m.credentials)
		}
		if creds.Secret == nil || creds.Secret.SecretName != m.credentials || len(creds.Secret.Items) != 1 || creds.Secret.Items[0].Path != "client-secret" {
			t.Errorf("credentials volume %+v, want Secret %s's client secret as client-secret", creds.VolumeSource, m.credentials)
		}
		if !has("--client-secret-file=/etc/gatehouse/gateway-credentials/client-secret") {
			t.Errorf("args %q lack --client-secret-file", args)
		}
		if id != nil && id.SecretKeyRef != nil && creds.Secret != nil && len(creds.Secret.Items) == 1 &&
			(id.SecretKeyRef.Key != m.idKey || creds.Secret.Items[0].Key != m.secretKey) {
			t.Errorf("credential keys %s, %s: want %s, %s", id.SecretKeyRef.Key, creds.Secret.Items[0].Key, m.idKey, m.secretKey)
		}
	} else {
		if creds.Secret != nil || env["GATEHOUSE_CLIENT_ID"].Name != "" {
			t.Error("Universal Auth credentials with method=kubernetes")
		}
		if !has("--identity-id=" + m.identityID) {
			t.Errorf("args %q lack --identity-id=%s", args, m.identityID)
		}
	}
	// Each replica is its own gateway: named after its pod.
	if name := env["GATEHOUSE_NAME"]; m.replicas > 1 && (name.ValueFrom == nil || name.ValueFrom.FieldRef == nil || name.ValueFrom.FieldRef.FieldPath != "metadata.name") {
		t.Errorf("GATEHOUSE_NAME %+v with %d replicas, want the pod's name", name, m.replicas)
	}
	if m.replicas > 1 {
		aa := pod.Affinity
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Error("no anti-affinity for a gateway pool")
		} else if s, err := metav1.LabelSelectorAsSelector(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector); err != nil || !s.Matches(podLabels) {
			t.Error("the gateway anti-affinity does not select the gateway pods")
		}
	}

	// Probes on the gateway's health port.
	if len(c.Ports) != 1 || c.Ports[0].Name != "health" || c.Ports[0].ContainerPort != 8081 {
		t.Errorf("gateway ports %+v, want health 8081", c.Ports)
	}
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "health" {
			t.Errorf("gateway %s probe %+v, want GET %s on port health", name, p.probe, p.path)
		}
	}
	checkHardened(t, pod, c)

	// RBAC: its own ServiceAccount, bound to system:auth-delegator.
	var sas []*corev1.ServiceAccount
	for _, sa := range o.serviceAccounts {
		if isGateway(sa.ObjectMeta) {
			sas = append(sas, sa)
		} else if sa.Name == pod.ServiceAccountName {
			t.Errorf("the gateway runs as the server's ServiceAccount %s", sa.Name)
		}
	}
	sa := one(t, "gateway ServiceAccounts", sas)
	if sa.Name != gatewaySA || pod.ServiceAccountName != sa.Name || sa.Namespace != namespace {
		t.Errorf("gateway pod runs as %q, its ServiceAccount is %s/%s, want %s", pod.ServiceAccountName, sa.Namespace, sa.Name, gatewaySA)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("the gateway pod does not mount its token (it reviews tokens with it)")
	}
	var gwBinding *rbacv1.ClusterRoleBinding
	for _, b := range o.bindings {
		if slices.Contains(b.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: gatewaySA, Namespace: namespace}) {
			if gwBinding != nil {
				t.Errorf("a second binding %s for the gateway", b.Name)
			}
			gwBinding = b
		}
	}
	if gwBinding == nil {
		t.Fatal("no ClusterRoleBinding for the gateway's ServiceAccount")
	}
	if gwBinding.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"}) ||
		len(gwBinding.Subjects) != 1 || !isGateway(gwBinding.ObjectMeta) {
		t.Errorf("gateway binding %s: roleRef %+v subjects %+v", gwBinding.Name, gwBinding.RoleRef, gwBinding.Subjects)
	}
	if want := 1; m.server {
		want = 2
		if len(o.bindings) != want {
			t.Errorf("%d ClusterRoleBindings, want the server's and the gateway's", len(o.bindings))
		}
	} else if len(o.bindings) != want {
		t.Errorf("%d ClusterRoleBindings, want only the gateway's", len(o.bindings))
	}

	// No ConfigMap carries a gateway credential.
	for _, cm := range o.configMaps {
		for k, v := range cm.Data {
			if up := strings.ToUpper(k + v); strings.Contains(up, "CLIENT") || strings.Contains(up, "GW-CREDS") {
				t.Errorf("ConfigMap %s holds %s, a gateway credential setting", cm.Name, k)
			}
		}
	}

	if !strings.Contains(o.notes, "THE GATEWAY") || !strings.Contains(o.notes, m.serverURL) {
		t.Errorf("NOTES.txt does not describe the gateway:\n%s", o.notes)
	}
	if !m.server && strings.Contains(o.notes, "ROOT TOKEN") {
		t.Errorf("NOTES.txt speaks of the server's root token with server.enabled=false:\n%s", o.notes)
	}
}

// TestChartGatewayRefuses checks the gateway values the chart refuses.
func TestChartGatewayRefuses(t *testing.T) {
	gw := func(g map[string]any, server bool) map[string]any {
		g["enabled"] = true
		return map[string]any{"gateway": g, "server": map[string]any{"enabled": server}}
	}
	creds := func() map[string]any { return map[string]any{"existingSecret": "gw-creds"} }
	const url = "https://gatehouse.example.com"
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"nothing-enabled", map[string]any{"server": map[string]any{"enabled": false}}, "nothing to install"},
		{"gateway-only-without-url", gw(map[string]any{"auth": creds()}, false), "needs gateway.serverURL"},
		{"bad-url", gw(map[string]any{"auth": creds(), "serverURL": "gatehouse.example.com"}, false), "want http(s)://host"},
		{"universal-without-secret", gw(map[string]any{"serverURL": url}, false), "needs gateway.auth.existingSecret"},
		{"universal-without-secret-with-server", gw(map[string]any{}, true), "needs gateway.auth.existingSecret"},
		{"kubernetes-without-identity", gw(map[string]any{"serverURL": url, "auth": map[string]any{"method": "kubernetes"}}, false), "needs gateway.auth.identityID"},
		{"unknown-method", gw(map[string]any{"serverURL": url, "auth": map[string]any{"method": "token"}}, false), "value must be one of 'universal', 'kubernetes'"},
		{"two-ca-sources", gw(map[string]any{"serverURL": url, "auth": creds(), "serverCA": map[string]any{"secretName": "a", "configMapName": "b"}}, false), "not both"},
		{"replicas-without-pool", gw(map[string]any{"serverURL": url, "auth": creds(), "replicaCount": 2}, false), "needs gateway.pool"},
		{"name-with-replicas", gw(map[string]any{"serverURL": url, "auth": creds(), "replicaCount": 2, "pool": "p", "name": "gw"}, false), "leave it empty"},
		{"bad-relay", gw(map[string]any{"serverURL": url, "auth": creds(), "allowRelay": []any{"10.0.0.1"}}, false), "does not match pattern"},
		{"misspelt-gateway-value", gw(map[string]any{"serverURL": url, "auth": creds(), "replicas": 2}, false), "additional properties 'replicas' not allowed"},
		{"secret-in-values", gw(map[string]any{"serverURL": url, "auth": map[string]any{"existingSecret": "s", "clientSecret": "x"}}, false), "additional properties 'clientSecret' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.vals, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
