package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// strictDecode decodes a YAML document into v, refusing unknown fields.
func strictDecode(t *testing.T, doc string, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v in:\n%s", err, doc)
	}
}

// TestAgentSidecarExample: deploy/examples/agent-sidecar.yaml decodes
// strictly into its Kubernetes types, and each agent container's arguments
// are flags gatehouse agent accepts, with the JWT file on a mounted
// projected token and the sink on a volume the app mounts. README.md's
// Infisical-API variant (the same file through sed) is checked too.
func TestAgentSidecarExample(t *testing.T) {
	b, err := os.ReadFile("../../deploy/examples/agent-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// README.md: sed -e 's/--api=vault/--api=infisical/' -e "s/--role=web/--identity-id=$ID/"
	infisical := strings.NewReplacer("--api=vault", "--api=infisical", "--role=web", "--identity-id=6f1c")
	for api, raw := range map[string]string{"vault": string(b), "infisical": infisical.Replace(string(b))} {
		t.Run(api, func(t *testing.T) { checkSidecarExample(t, api, raw) })
	}
}

func checkSidecarExample(t *testing.T, api, raw string) {
	var dep *appsv1.Deployment
	for _, doc := range strings.Split(raw, "\n---\n") {
		var meta struct{ Kind string }
		strictDecode(t, doc, &struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
			Metadata   any    `json:"metadata"`
			Spec       any    `json:"spec"`
		}{})
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ServiceAccount":
			strictDecode(t, doc, &corev1.ServiceAccount{})
		case "Deployment":
			dep = &appsv1.Deployment{}
			strictDecode(t, doc, dep)
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	spec := dep.Spec.Template.Spec
	agents := 0
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if len(c.Args) == 0 || c.Args[0] != "agent" {
			continue
		}
		agents++
		var f agentFlags
		fl := pflag.NewFlagSet("agent", pflag.ContinueOnError)
		f.registerAgent(fl)
		if err := fl.Parse(c.Args[1:]); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if err := f.validate(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if f.api != api || (api == "infisical") != (f.identityID != "") || (api == "vault") != (f.role != "") {
			t.Errorf("%s: --api=%s --identity-id=%q --role=%q, want the %s API", c.Name, f.api, f.identityID, f.role, api)
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s: root filesystem not read-only", c.Name)
		}
		mounted := map[string]bool{}
		for _, m := range c.VolumeMounts {
			mounted[m.MountPath] = true
		}
		for _, p := range append([]string{f.jwtFile, f.caCert}, f.sinks...) {
			dir := p[:strings.LastIndex(p, "/")]
			if !mounted[dir] {
				t.Errorf("%s: %s is on no mounted volume", c.Name, p)
			}
		}
	}
	if agents != 2 || len(spec.InitContainers) != 1 {
		t.Errorf("want an init container and a sidecar running the agent; found %d", agents)
	}
}
