// Package helm tests the Gatehouse Helm chart (./gatehouse) with Helm's own
// Go SDK: it renders the chart for the default values and each documented
// mode, decodes every rendered object strictly into its Kubernetes API type
// (an unknown or duplicated field fails), checks the invariants the chart
// promises, and lints it.
//
// It is a module of its own so that Helm and its dependencies stay out of
// the server's go.mod; .ci/run runs it (cd deploy/helm && go test ./...).
package helm

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynfake "k8s.io/client-go/dynamic/fake"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "gatehouse"
	release   = "gh"
	namespace = "auth"
	fullname  = "gh-gatehouse"
	keySecret = "gh-gatehouse-encryption-key"
)

// Certificate and ServiceMonitor have no k8s.io/api type: these mirror the
// fields of cert-manager.io/v1 and monitoring.coreos.com/v1 the chart
// writes, so a misspelt or misplaced field still fails strict decoding.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		DNSNames    []string `json:"dnsNames"`
		IssuerRef   struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port      string `json:"port"`
			Path      string `json:"path"`
			Scheme    string `json:"scheme"`
			Interval  string `json:"interval"`
			TLSConfig *struct {
				ServerName string `json:"serverName"`
			} `json:"tlsConfig,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects is a rendered chart, decoded.
type objects struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	pvcs            []*corev1.PersistentVolumeClaim
	bindings        []*rbacv1.ClusterRoleBinding
	pdbs            []*policyv1.PodDisruptionBudget
	ingresses       []*networkingv1.Ingress
	certificates    []*certificate
	serviceMonitors []*serviceMonitor
	notes           string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// render renders the chart as `helm install` would on a fresh namespace
// (lookup finds nothing), or against the objects of cluster when given.
func render(t *testing.T, vals map[string]any, cluster dynamic.Interface) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	rv, err := chartutil.ToRenderValues(ch, vals, common.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	if cluster == nil {
		return engine.Render(ch, rv)
	}
	return engine.RenderWithClientProvider(ch, rv, clientProvider{cluster})
}

type clientProvider struct{ c dynamic.Interface }

func (p clientProvider) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	if apiVersion != "v1" || kind != "Secret" {
		return nil, false, fmt.Errorf("unexpected lookup of %s %s", apiVersion, kind)
	}
	return p.c.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}), true, nil
}

// decodeStrict decodes one YAML document into out, failing on unknown or
// duplicated fields.
func decodeStrict(t *testing.T, name string, doc []byte, out any) {
	t.Helper()
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, doc)
	}
	strict, err := sigsjson.UnmarshalStrict(js, out)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, doc)
	}
	if len(strict) > 0 {
		t.Fatalf("%s: strict decoding: %v\n%s", name, strict, doc)
	}
}

func decode(t *testing.T, files map[string]string) objects {
	t.Helper()
	var o objects
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			o.notes = content
			continue
		}
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for i, doc := range strings.Split(content, "\n---") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s#%d", name, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var into any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				v := &appsv1.Deployment{}
				o.deployments, into = append(o.deployments, v), v
			case "v1 Service":
				v := &corev1.Service{}
				o.services, into = append(o.services, v), v
			case "v1 ConfigMap":
				v := &corev1.ConfigMap{}
				o.configMaps, into = append(o.configMaps, v), v
			case "v1 Secret":
				v := &corev1.Secret{}
				o.secrets, into = append(o.secrets, v), v
			case "v1 ServiceAccount":
				v := &corev1.ServiceAccount{}
				o.serviceAccounts, into = append(o.serviceAccounts, v), v
			case "v1 PersistentVolumeClaim":
				v := &corev1.PersistentVolumeClaim{}
				o.pvcs, into = append(o.pvcs, v), v
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				v := &rbacv1.ClusterRoleBinding{}
				o.bindings, into = append(o.bindings, v), v
			case "policy/v1 PodDisruptionBudget":
				v := &policyv1.PodDisruptionBudget{}
				o.pdbs, into = append(o.pdbs, v), v
			case "networking.k8s.io/v1 Ingress":
				v := &networkingv1.Ingress{}
				o.ingresses, into = append(o.ingresses, v), v
			case "cert-manager.io/v1 Certificate":
				v := &certificate{}
				o.certificates, into = append(o.certificates, v), v
			case "monitoring.coreos.com/v1 ServiceMonitor":
				v := &serviceMonitor{}
				o.serviceMonitors, into = append(o.serviceMonitors, v), v
			default:
				t.Fatalf("%s: unexpected object %q %q", where, tm.APIVersion, tm.Kind)
			}
			decodeStrict(t, where, []byte(doc), into)
		}
	}
	return o
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func mustRender(t *testing.T, vals map[string]any) objects {
	t.Helper()
	files, err := render(t, vals, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decode(t, files)
}

// mode is a documented way to install the chart (docs/deployment.md).
type mode struct {
	name string
	vals map[string]any
	// what the invariants depend on
	postgres    bool
	replicas    int32
	tls         bool
	tlsSecret   string // the Secret the pod mounts
	certManager bool
	ingress     bool
	monitor     bool
	ownKey      string // encryptionKey.existingSecret
	replicaURL  string // GATEHOUSE_REPLICA_URL ("" = none)
}

var modes = []mode{
	{name: "default", vals: nil, replicas: 1},
	{name: "sqlite", vals: map[string]any{
		"storage": map[string]any{"mode": "sqlite", "sqlite": map[string]any{"size": "5Gi", "storageClassName": "fast"}},
	}, replicas: 1},
	{name: "postgres-3-replicas", vals: map[string]any{
		"replicaCount": 3,
		"storage":      map[string]any{"mode": "postgres", "postgres": map[string]any{"existingSecret": "gatehouse-db", "secretKey": "url"}},
	}, postgres: true, replicas: 3},
	{name: "postgres-own-key", vals: map[string]any{
		"replicaCount":  2,
		"storage":       map[string]any{"mode": "postgres", "postgres": map[string]any{"existingSecret": "gatehouse-db"}},
		"encryptionKey": map[string]any{"existingSecret": "my-key", "secretKey": "k"},
	}, postgres: true, replicas: 2, ownKey: "my-key"},
	{name: "postgres-tls-replicas", vals: map[string]any{
		"replicaCount": 3,
		"storage":      map[string]any{"mode": "postgres", "postgres": map[string]any{"existingSecret": "gatehouse-db"}},
		"tls": map[string]any{"enabled": true, "certManager": map[string]any{
			"enabled": true, "issuerRef": map[string]any{"kind": "ClusterIssuer", "name": "internal-ca"},
			"dnsNames": []any{"gatehouse.example.com"},
		}},
	}, postgres: true, replicas: 3, tls: true, tlsSecret: fullname + "-tls", certManager: true, replicaURL: "https://$(POD_IP):8080"},
	{name: "postgres-tls-ipv6", vals: map[string]any{
		"replicaCount":      2,
		"storage":           map[string]any{"mode": "postgres", "postgres": map[string]any{"existingSecret": "gatehouse-db"}},
		"tls":               map[string]any{"enabled": true, "existingSecret": "gatehouse-tls"},
		"replicaForwarding": map[string]any{"url": "https://[$(POD_IP)]:8080"},
	}, postgres: true, replicas: 2, tls: true, tlsSecret: "gatehouse-tls", replicaURL: "https://[$(POD_IP)]:8080"},
	{name: "postgres-tls-no-forwarding", vals: map[string]any{
		"replicaCount":      2,
		"storage":           map[string]any{"mode": "postgres", "postgres": map[string]any{"existingSecret": "gatehouse-db"}},
		"tls":               map[string]any{"enabled": true, "existingSecret": "gatehouse-tls"},
		"replicaForwarding": map[string]any{"enabled": false},
	}, postgres: true, replicas: 2, tls: true, tlsSecret: "gatehouse-tls"},
	{name: "tls-secret", vals: map[string]any{
		"tls": map[string]any{"enabled": true, "existingSecret": "gatehouse-tls"},
	}, replicas: 1, tls: true, tlsSecret: "gatehouse-tls"},
	{name: "tls-cert-manager", vals: map[string]any{
		"tls": map[string]any{"enabled": true, "certManager": map[string]any{
			"enabled": true, "issuerRef": map[string]any{"kind": "ClusterIssuer", "name": "internal-ca"},
			"dnsNames": []any{"gatehouse.example.com"},
		}},
	}, replicas: 1, tls: true, tlsSecret: fullname + "-tls", certManager: true},
	{name: "ingress", vals: map[string]any{
		"ingress": map[string]any{
			"enabled": true, "className": "nginx",
			"hosts": []any{map[string]any{"host": "gatehouse.example.com", "paths": []any{map[string]any{"path": "/", "pathType": "Prefix"}}}},
			"tls":   []any{map[string]any{"secretName": "gatehouse-ingress-tls", "hosts": []any{"gatehouse.example.com"}}},
		},
		"config": map[string]any{"log-format": "json", "trusted-proxies": "10.0.0.0/8"},
	}, replicas: 1, ingress: true},
	{name: "service-monitor", vals: map[string]any{
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}},
	}, replicas: 1, monitor: true},
}

func TestChartModes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			o := mustRender(t, m.vals)
			checkInvariants(t, m, o)
		})
	}
}

func one[T any](t *testing.T, what string, s []T) T {
	t.Helper()
	if len(s) != 1 {
		t.Fatalf("%d %s rendered, want 1", len(s), what)
	}
	return s[0]
}

func checkInvariants(t *testing.T, m mode, o objects) {
	d := one(t, "Deployments", o.deployments)
	pod := d.Spec.Template.Spec
	c := one(t, "containers", pod.Containers)
	podLabels := d.Spec.Template.Labels

	// Replicas and storage.
	if d.Spec.Replicas == nil || *d.Spec.Replicas != m.replicas {
		t.Errorf("replicas %v, want %d", d.Spec.Replicas, m.replicas)
	}
	if !m.postgres && *d.Spec.Replicas > 1 {
		t.Errorf("%d replicas on SQLite", *d.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector, podLabels)
	}
	args := strings.Join(c.Args, " ")
	if !strings.HasPrefix(args, "server ") || !strings.Contains(args, "--listen=0.0.0.0:8080") {
		t.Errorf("args %q: want `server --listen=0.0.0.0:8080 ...`", args)
	}
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
			t.Errorf("mount %s uses volume %q, which the pod does not declare", path, name)
		}
	}
	if v, ok := volumes[mounts["/tmp"]]; !ok || v.EmptyDir == nil {
		t.Error("no emptyDir on /tmp (the root filesystem is read-only)")
	}
	if m.postgres {
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("strategy %q with PostgreSQL, want RollingUpdate", d.Spec.Strategy.Type)
		}
		if strings.Contains(args, "--storage") {
			t.Errorf("args %q: the PostgreSQL URL must come from its Secret, not a flag", args)
		}
		if len(o.pvcs) != 0 {
			t.Errorf("%d PersistentVolumeClaims with PostgreSQL", len(o.pvcs))
		}
		if !strings.Contains(args, "--root-token-file=/run/gatehouse/root-token") {
			t.Errorf("args %q: want the root token on the /run/gatehouse emptyDir", args)
		}
	} else {
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("strategy %q with SQLite, want Recreate (one process holds the store)", d.Spec.Strategy.Type)
		}
		if !strings.Contains(args, "--storage=sqlite:///data/gatehouse.db") || !strings.Contains(args, "--root-token-file=/data/root-token") {
			t.Errorf("args %q: want the SQLite store and the root token on /data", args)
		}
		pvc := one(t, "PersistentVolumeClaims", o.pvcs)
		if v := volumes[mounts["/data"]]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
			t.Errorf("/data is %+v, want the claim %s", v.VolumeSource, pvc.Name)
		}
		if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Error("the data claim would be deleted with the release (no helm.sh/resource-policy: keep)")
		}
	}

	// Replicas > 1: a disruption budget and anti-affinity.
	if m.replicas > 1 {
		pdb := one(t, "PodDisruptionBudgets", o.pdbs)
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !s.Matches(labels.Set(podLabels)) {
			t.Errorf("PodDisruptionBudget selector %v does not select the pods", pdb.Spec.Selector)
		}
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() < 1 || pdb.Spec.MaxUnavailable.IntValue() >= int(m.replicas) {
			t.Errorf("PodDisruptionBudget maxUnavailable %v with %d replicas", pdb.Spec.MaxUnavailable, m.replicas)
		}
		aa := pod.Affinity
		if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Fatalf("no pod anti-affinity with %d replicas", m.replicas)
		}
		term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
		s, err = metav1.LabelSelectorAsSelector(term.LabelSelector)
		if term.TopologyKey != "kubernetes.io/hostname" || err != nil || !s.Matches(labels.Set(podLabels)) {
			t.Errorf("anti-affinity term %+v does not spread the pods over nodes", term)
		}
	} else if len(o.pdbs) != 0 {
		t.Errorf("a PodDisruptionBudget with one replica would block every node drain")
	}

	// Probes.
	scheme := corev1.URISchemeHTTP
	if m.tls {
		scheme = corev1.URISchemeHTTPS
	}
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{
		"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}, "startup": {c.StartupProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
			continue
		}
		if g := p.probe.HTTPGet; g.Path != p.path || g.Port.String() != "http" || g.Scheme != scheme {
			t.Errorf("%s probe %s %s %s, want %s on port http over %s", name, g.Scheme, g.Path, g.Port.String(), p.path, scheme)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("container ports %+v, want http 8080", c.Ports)
	}

	checkHardened(t, pod, c)
	checkReplicaForwarding(t, m, c, o.notes)

	// RBAC: the pod runs as the chart's ServiceAccount, bound to
	// system:auth-delegator.
	sa := one(t, "ServiceAccounts", o.serviceAccounts)
	if pod.ServiceAccountName != sa.Name || sa.Namespace != namespace {
		t.Errorf("pod runs as %q, the chart's ServiceAccount is %s/%s", pod.ServiceAccountName, sa.Namespace, sa.Name)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("the pod does not mount its service-account token (it reviews tokens with it)")
	}
	crb := one(t, "ClusterRoleBindings", o.bindings)
	if crb.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"}) {
		t.Errorf("ClusterRoleBinding roleRef %+v, want the ClusterRole system:auth-delegator", crb.RoleRef)
	}
	if want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: namespace}}; !slices.Equal(crb.Subjects, want) {
		t.Errorf("ClusterRoleBinding subjects %+v, want %+v", crb.Subjects, want)
	}

	// Secrets: every one the pod uses is referenced by name, never inlined.
	wantKeySecret := keySecret
	if m.ownKey != "" {
		wantKeySecret = m.ownKey
	}
	refs := map[string]string{} // env var → Secret
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = e.ValueFrom.SecretKeyRef.Name
		} else if up := strings.ToUpper(e.Name); strings.Contains(up, "KEY") || strings.Contains(up, "STORAGE") || strings.Contains(up, "TOKEN") {
			t.Errorf("env %s is set inline, not from a Secret", e.Name)
		}
	}
	if refs["GATEHOUSE_ENCRYPTION_KEY"] != wantKeySecret {
		t.Errorf("GATEHOUSE_ENCRYPTION_KEY from Secret %q, want %q", refs["GATEHOUSE_ENCRYPTION_KEY"], wantKeySecret)
	}
	if m.postgres && refs["GATEHOUSE_STORAGE"] != "gatehouse-db" {
		t.Errorf("GATEHOUSE_STORAGE from Secret %q, want gatehouse-db", refs["GATEHOUSE_STORAGE"])
	}
	if !m.postgres && refs["GATEHOUSE_STORAGE"] != "" {
		t.Error("GATEHOUSE_STORAGE set with SQLite")
	}
	var keyValue string
	if m.ownKey != "" {
		if len(o.secrets) != 0 {
			t.Errorf("%d Secrets rendered with encryptionKey.existingSecret", len(o.secrets))
		}
	} else {
		s := one(t, "Secrets", o.secrets)
		if s.Name != keySecret || s.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("Secret %s annotations %v: want %s kept on uninstall", s.Name, s.Annotations, keySecret)
		}
		keyValue = string(s.Data["key"])
		if k, err := base64.StdEncoding.DecodeString(keyValue); err != nil || len(k) != 32 {
			t.Errorf("generated encryption key is not 32 bytes of base64 (%d bytes, %v)", len(k), err)
		}
	}
	if m.tls {
		v := volumes[mounts["/etc/gatehouse/tls"]]
		if v.Secret == nil || v.Secret.SecretName != m.tlsSecret {
			t.Errorf("TLS volume %+v, want Secret %s", v.VolumeSource, m.tlsSecret)
		}
		if !strings.Contains(args, "--tls-cert=/etc/gatehouse/tls/tls.crt") || !strings.Contains(args, "--tls-key=/etc/gatehouse/tls/tls.key") {
			t.Errorf("args %q: want --tls-cert/--tls-key from the mounted Secret", args)
		}
	} else if strings.Contains(args, "--tls") {
		t.Errorf("args %q: TLS flags without tls.enabled", args)
	}
	if m.certManager {
		cert := one(t, "Certificates", o.certificates)
		if cert.Spec.SecretName != m.tlsSecret || cert.Spec.IssuerRef.Name != "internal-ca" || cert.Spec.IssuerRef.Kind != "ClusterIssuer" {
			t.Errorf("Certificate %+v", cert.Spec)
		}
		for _, n := range []string{fullname + "." + namespace + ".svc", "gatehouse.example.com"} {
			if !slices.Contains(cert.Spec.DNSNames, n) {
				t.Errorf("Certificate DNS names %v lack %s", cert.Spec.DNSNames, n)
			}
		}
	} else if len(o.certificates) != 0 {
		t.Error("a Certificate without tls.certManager.enabled")
	}

	// ConfigMaps hold no secret: no store URL, no key, nothing the chart
	// takes from a Secret.
	cm := one(t, "ConfigMaps", o.configMaps)
	found := false
	for _, f := range c.EnvFrom {
		found = found || (f.ConfigMapRef != nil && f.ConfigMapRef.Name == cm.Name)
		if f.SecretRef != nil {
			t.Errorf("envFrom a whole Secret %s", f.SecretRef.Name)
		}
	}
	if !found {
		t.Errorf("the container does not take its settings from ConfigMap %s", cm.Name)
	}
	for k, v := range cm.Data {
		if !strings.HasPrefix(k, "GATEHOUSE_") {
			t.Errorf("ConfigMap key %s is not a GATEHOUSE_ setting", k)
		}
		if _, fromSecret := refs[k]; fromSecret || strings.Contains(k, "ENCRYPTION") || k == "GATEHOUSE_STORAGE" || strings.Contains(k, "TOKEN") {
			t.Errorf("ConfigMap holds %s, a secret setting", k)
		}
		if strings.Contains(v, "postgres://") || strings.Contains(v, "postgresql://") || (keyValue != "" && strings.Contains(v, keyValue)) {
			t.Errorf("ConfigMap value of %s holds a secret", k)
		}
	}

	// Service, Ingress, ServiceMonitor point at the pods and at each other.
	svc := one(t, "Services", o.services)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	sp := one(t, "Service ports", svc.Spec.Ports)
	if sp.TargetPort.String() != "http" {
		t.Errorf("Service targets %s, want the container port http", sp.TargetPort.String())
	}
	if m.ingress {
		ing := one(t, "Ingresses", o.ingresses)
		b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
		if b == nil || b.Name != svc.Name || b.Port.Number != sp.Port {
			t.Errorf("Ingress backend %+v, want Service %s port %d", b, svc.Name, sp.Port)
		}
		if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "gatehouse-ingress-tls" {
			t.Errorf("Ingress TLS %+v", ing.Spec.TLS)
		}
	} else if len(o.ingresses) != 0 {
		t.Error("an Ingress without ingress.enabled")
	}
	if m.monitor {
		sm := one(t, "ServiceMonitors", o.serviceMonitors)
		s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || !s.Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector, svc.Labels)
		}
		if ep := one(t, "ServiceMonitor endpoints", sm.Spec.Endpoints); ep.Port != sp.Name || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %+v, want port %s path /metrics", ep, sp.Name)
		}
	} else if len(o.serviceMonitors) != 0 {
		t.Error("a ServiceMonitor without serviceMonitor.enabled")
	}

	// NOTES.txt says how to get the root token.
	if m.postgres {
		if !strings.Contains(o.notes, "operator generate-root") {
			t.Errorf("NOTES.txt does not say how to get a root token:\n%s", o.notes)
		}
	} else if !strings.Contains(o.notes, "/data/root-token") {
		t.Errorf("NOTES.txt does not say where the root token is:\n%s", o.notes)
	}
}

// checkHardened asserts the pod and container security contexts and
// resources every Deployment of the chart shares.
func checkHardened(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want non-root, a non-zero UID and seccomp RuntimeDefault", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext %+v: want no privilege escalation, read-only root, non-root, drop ALL, seccomp RuntimeDefault", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
}

// TestChartRefuses checks the combinations the chart refuses to render.
func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"sqlite-replicas", map[string]any{"replicaCount": 3}, "needs storage.mode=postgres"},
		{"postgres-without-secret", map[string]any{"storage": map[string]any{"mode": "postgres"}}, "existingSecret"},
		{"unknown-mode", map[string]any{"storage": map[string]any{"mode": "mysql"}}, "value must be one of 'sqlite', 'postgres'"},
		{"tls-without-secret", map[string]any{"tls": map[string]any{"enabled": true}}, "tls.existingSecret or tls.certManager.enabled"},
		{"cert-manager-without-issuer", map[string]any{"tls": map[string]any{"enabled": true, "certManager": map[string]any{"enabled": true}}}, "issuerRef.name"},
		{"storage-in-config", map[string]any{"config": map[string]any{"storage": "postgres://u:p@db/gh"}}, "config.storage is set by the chart"},
		{"key-in-config", map[string]any{"config": map[string]any{"encryption-key": "x"}}, "config.encryption-key"},
		{"replica-url-in-config", map[string]any{"config": map[string]any{"replica-url": "https://x:8080"}}, "config.replica-url is set by the chart"},
		{"plain-replica-url", map[string]any{"replicaForwarding": map[string]any{"url": "http://$(POD_IP):8080"}}, "/replicaForwarding/url"},
		{"misspelt-value", map[string]any{"replicas": 3}, "additional properties 'replicas' not allowed"},
		{"misspelt-nested-value", map[string]any{"tls": map[string]any{"enable": true}}, "additional properties 'enable' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.vals, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestEncryptionKeyKeptOnUpgrade renders against a cluster that already
// holds the key Secret (an upgrade): the key is reused, never replaced.
func TestEncryptionKeyKeptOnUpgrade(t *testing.T) {
	existing := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cluster := dynfake.NewSimpleDynamicClient(scheme, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: keySecret, Namespace: namespace},
		Data:       map[string][]byte{"key": []byte(existing)},
	})
	files, err := render(t, nil, cluster)
	if err != nil {
		t.Fatal(err)
	}
	s := one(t, "Secrets", decode(t, files).secrets)
	if got := string(s.Data["key"]); got != existing {
		t.Fatalf("upgrade replaced the encryption key (%d bytes)", len(got))
	}

	// A fresh install makes a new random key each time.
	a := one(t, "Secrets", mustRender(t, nil).secrets)
	b := one(t, "Secrets", mustRender(t, nil).secrets)
	if string(a.Data["key"]) == string(b.Data["key"]) || string(a.Data["key"]) == existing {
		t.Fatal("two fresh installs got the same key")
	}
}

// TestChartLint is `helm lint --strict` through the SDK, for each mode
// and each gateway mode.
func TestChartLint(t *testing.T) {
	all := slices.Clone(modes)
	for _, g := range gatewayModes {
		all = append(all, mode{name: "gateway-" + g.name, vals: g.vals})
	}
	for _, m := range all {
		t.Run(m.name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			res := lint.Run([]string{chartDir}, m.vals)
			for _, msg := range res.Messages {
				t.Logf("lint: %s", msg)
			}
			if len(res.Errors) > 0 || res.TotalChartsLinted != 1 {
				t.Fatalf("lint: %d charts linted, errors %v", res.TotalChartsLinted, res.Errors)
			}
		})
	}
}
