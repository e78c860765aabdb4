package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// mountNestingTests: a mount may not be inside or around another, by
// whole path segments, and the rule holds under concurrent creates.
var mountNestingTests = []test{
	{"Nesting", testMountNesting},
	{"NestingConcurrent", testMountNestingConcurrent},
}

// testMountNesting: with "kubernetes" and "Team-A/k8s" mounted, a path
// inside or around either is ErrAlreadyExists and changes nothing; paths
// that only share a prefix of characters, not of segments, are separate.
func testMountNesting(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildMountWorld(t, s)
	before := w.snapshot(t, s)
	for _, p := range []string{"kubernetes/role", "kubernetes/a/b", "Team-A", "Team-A/k8s/x"} {
		wantErr(t, "CreateMount "+p, s.CreateMount(ctx, newMount(p, at(100))), store.ErrAlreadyExists)
		before.check(t, "after CreateMount "+p, w.snapshot(t, s))
	}
	for _, p := range []string{"kube", "kubernetes2", "kubernetes-2/x", "Team-A/k8", "Team-A/k8s2", "team-a", "Team-A/other"} {
		must(t, s.CreateMount(ctx, newMount(p, at(100))))
	}
}

// testMountNestingConcurrent: rounds of concurrent creates of paths that
// all overlap ("r/a", "r/a/b", "r/a/b/c", ...): exactly one may win each
// round, the others are ErrAlreadyExists.
func testMountNestingConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range 5 {
		base := "r" + strings.Repeat("x", round)
		paths := []string{base, base + "/a", base + "/a/b", base + "/a/b/c", base + "/a/b/c/d", base + "/a/b/c/d/e"}
		errs := concurrently(len(paths), func(i int) error {
			return s.CreateMount(ctx, newMount(paths[(i+round)%len(paths)], at(100)))
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Fatalf("round %d: CreateMount: %v", round, err)
			}
		}
		ms, err := s.ListMounts(ctx)
		must(t, err)
		var got []string
		for _, m := range ms {
			if m.Path == base || strings.HasPrefix(m.Path, base+"/") {
				got = append(got, m.Path)
			}
		}
		if won != 1 || len(got) != 1 || !slices.Contains(paths, got[0]) {
			t.Fatalf("round %d: %d creates succeeded, mounts %v; want exactly one of %v", round, won, got, paths)
		}
	}
}
