package kubeauth

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

func TestParseNamespaceSelector(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		`{"matchLabels":{"team":"a"}}`:                        "team=a",
		"matchLabels:\n  team: a\n  env: prod\n":              "env=prod,team=a",
		`{"matchLabels":{"kubernetes.io/metadata.name":"x"}}`: "kubernetes.io/metadata.name=x",
	}
	for in, want := range ok {
		sel, err := ParseNamespaceSelector(in)
		if err != nil || sel.String() != want {
			t.Errorf("ParseNamespaceSelector(%q) = %v, %v; want %s", in, sel, err, want)
		}
	}
	bad := map[string]string{
		"":                                 "is empty",
		"  ":                               "is empty",
		`{}`:                               "would select every namespace",
		`{"matchLabels":{}}`:               "would select every namespace",
		`{"matchLabel":{"team":"a"}}`:      "not a label selector",
		`{"matchLabels":{"team":1}}`:       "", // YAML turns 1 into "1": accepted
		`{"matchLabels":{"team":["a"]}}`:   "not a label selector",
		`[1,2]`:                            "not a label selector",
		`matchLabels: [`:                   "not a label selector",
		`{"matchLabels":{"bad key!":"a"}}`: "not a valid label selector",
		`{"matchLabels":{"team":"a b"}}`:   "not a valid label selector",
		`{"matchExpressions":[{"key":"team","operator":"In","values":["a"]}]}`: "matchExpressions",
		strings.Repeat(" ", MaxSelectorLen+1):                                  "at most",
	}
	for in, why := range bad {
		_, err := ParseNamespaceSelector(in)
		if why == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseNamespaceSelector(%.60q) = %v, want an error about %q", in, err, why)
		}
	}
}

// TestLoginNamespaceSelector: a namespace the patterns do not allow is
// allowed when its labels (read with the reviewer JWT, only after the
// review and the name check) match the selector; what cannot be read is
// refused with what to fix.
func TestLoginNamespaceSelector(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	c.CreateNamespace("apps", map[string]string{"team": "a"})
	c.CreateNamespace("other", map[string]string{"team": "b"})
	c.GrantRead("kube-system", "gatehouse-reviewer", kubetest.ResourceNamespaces)
	teamA, err := ParseNamespaceSelector(`{"matchLabels":{"team":"a"}}`)
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{Names: Patterns{"web"}, NamespaceSelector: teamA}
	login := func(cl Cluster, r Rules, ns, name string) (ServiceAccount, error) {
		return s.Login(context.Background(), Config{Cluster: cl, Rules: r}, mustJWT(t, c.Token(ns, name)))
	}
	requests := func(f func()) int {
		before := c.RequestCount()
		f()
		return c.RequestCount() - before
	}

	var sa ServiceAccount
	if n := requests(func() { sa, err = login(clusterOf(c), rules, "apps", "web") }); err != nil || sa.Namespace != "apps" || n != 2 {
		t.Fatalf("selected namespace: %+v, %v after %d requests (want a review and a namespace read)", sa, err, n)
	}
	_, err = login(clusterOf(c), rules, "other", "web")
	checkErr(t, err, errs.Unauthenticated, nil, `namespace "other" is not allowed, and its labels do not match the namespace selector "team=a"`)
	if !errors.Is(err, ErrNamespaceNotAllowed) {
		t.Errorf("err %v is not ErrNamespaceNotAllowed", err)
	}
	if n := requests(func() { _, err = login(clusterOf(c), rules, "apps", "admin") }); n != 1 || !errors.Is(err, ErrNameNotAllowed) {
		t.Errorf("name refused: %v after %d requests, want the name refusal and no namespace read", err, n)
	}
	// The patterns first: an allowed namespace needs no read.
	withList := rules
	withList.Namespaces = Patterns{"oth*"}
	if n := requests(func() { _, err = login(clusterOf(c), withList, "other", "web") }); err != nil || n != 1 {
		t.Errorf("namespace in the list: %v after %d requests", err, n)
	}
	// Labels are read at each login: relabelling takes effect at once.
	c.LabelNamespace("other", map[string]string{"team": "a"})
	if _, err := login(clusterOf(c), rules, "other", "web"); err != nil {
		t.Errorf("relabelled namespace: %v", err)
	}

	// The reviewer may not read namespaces.
	c.RevokeRead("kube-system", "gatehouse-reviewer", kubetest.ResourceNamespaces)
	_, err = login(clusterOf(c), rules, "apps", "web")
	checkErr(t, err, errs.Unauthenticated, ErrObjectRead, `namespace not authorized: "apps" is not an allowed namespace, and its labels could not be read to match the namespace selector: the token reviewer may not read namespace "apps": the API server answered HTTP 403`)
	if !strings.Contains(err.Error(), "grant it get on namespaces") || errors.Is(err, ErrNamespaceNotAllowed) {
		t.Errorf("err = %v", err)
	}
	// No reviewer JWT: Vault's refusal (the login JWT is never used to
	// read namespaces).
	c.GrantAuthDelegator("apps", "web")
	noReviewer := clusterOf(c)
	noReviewer.ReviewerJWT = ""
	_, err = login(noReviewer, rules, "apps", "web")
	checkErr(t, err, errs.Unauthenticated, ErrObjectRead, "TokenReviewer JWT needs to be configured to use namespace selectors")
}

// TestLoginLocalNamespaceSelector: local mode judges the verified claims
// with the selector too.
func TestLoginLocalNamespaceSelector(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	c.CreateNamespace("apps", map[string]string{"team": "a"})
	c.GrantRead("kube-system", "gatehouse-reviewer", kubetest.ResourceNamespaces)
	sel, _ := ParseNamespaceSelector("matchLabels: {team: a}")
	cl := clusterOf(c)
	cl.ReviewMode, cl.PEMKeys, cl.Issuer = ReviewLocal, []string{c.SigningKeyPEM()}, c.Issuer()
	rules := Rules{NamespaceSelector: sel}
	if _, err := s.Login(context.Background(), Config{Cluster: cl, Rules: rules}, mustJWT(t, c.Token("apps", "web"))); err != nil {
		t.Fatalf("selected: %v", err)
	}
	_, err := s.Login(context.Background(), Config{Cluster: cl, Rules: rules}, mustJWT(t, c.Token("prod", "web")))
	if !errors.Is(err, ErrNamespaceNotAllowed) {
		t.Errorf("not selected: %v", err)
	}
	if c.TokenReviewCount() != 0 {
		t.Error("local mode made a TokenReview")
	}
}

// TestServiceAccountAnnotations: read with the reviewer JWT, else the
// login JWT; a missing right says which.
func TestServiceAccountAnnotations(t *testing.T) {
	t.Parallel()
	c := kubetest.New(t)
	s := testService(5 * time.Second)
	want := map[string]string{"vault.hashicorp.com/alias-metadata-env": "prod", "other": "x"}
	c.AnnotateServiceAccount("apps", "web", want)
	jwt := mustJWT(t, c.Token("apps", "web"))
	cl := clusterOf(c)

	_, err := s.ServiceAccountAnnotations(context.Background(), cl, jwt, "apps", "web")
	checkErr(t, err, errs.Unauthenticated, ErrObjectRead, `the token reviewer may not read service account "apps/web"`)
	if !strings.Contains(err.Error(), "grant it get on serviceaccounts") {
		t.Errorf("err = %v", err)
	}
	c.GrantRead("kube-system", "gatehouse-reviewer", kubetest.ResourceServiceAccounts)
	got, err := s.ServiceAccountAnnotations(context.Background(), cl, jwt, "apps", "web")
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("annotations = %v, %v", got, err)
	}
	_, err = s.ServiceAccountAnnotations(context.Background(), cl, jwt, "apps", "gone")
	checkErr(t, err, errs.Unauthenticated, ErrObjectRead, `service account "apps/gone" does not exist`)

	noReviewer := cl
	noReviewer.ReviewerJWT = ""
	_, err = s.ServiceAccountAnnotations(context.Background(), noReviewer, jwt, "apps", "web")
	checkErr(t, err, errs.Unauthenticated, ErrObjectRead, "the login JWT's service account (no token reviewer JWT is configured) may not read")
	c.GrantRead("apps", "web", kubetest.ResourceServiceAccounts)
	if got, err := s.ServiceAccountAnnotations(context.Background(), noReviewer, jwt, "apps", "web"); err != nil || !maps.Equal(got, want) {
		t.Errorf("with the login JWT: %v, %v", got, err)
	}
	c.CreateServiceAccount("apps", "bare")
	if got, err := s.ServiceAccountAnnotations(context.Background(), cl, jwt, "apps", "bare"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no annotations: %v, %v", got, err)
	}
}

// FuzzParseNamespaceSelector: never panics; what it accepts selects some
// label set but not every one (not labels.Everything), and the labels it
// asks for match it.
func FuzzParseNamespaceSelector(f *testing.F) {
	for _, s := range []string{`{"matchLabels":{"team":"a"}}`, "matchLabels:\n  team: a\n", `{}`, "matchLabels: [", `{"matchExpressions":[]}`, "- a", "\"x\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sel, err := ParseNamespaceSelector(in)
		if err != nil {
			if sel != nil {
				t.Fatalf("error with a selector")
			}
			return
		}
		if sel.Empty() {
			t.Fatalf("ParseNamespaceSelector(%q) selects every namespace", in)
		}
		reqs, _ := sel.Requirements()
		want := labels.Set{}
		for _, r := range reqs {
			v, _ := r.Values().PopAny()
			want[r.Key()] = v
		}
		if !sel.Matches(want) || sel.Matches(labels.Set{}) {
			t.Fatalf("ParseNamespaceSelector(%q) = %s: does not match its own labels %v, or matches none", in, sel, want)
		}
	})
}
