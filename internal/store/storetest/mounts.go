package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var mountTests = []test{
	{"RoundTrip", testMountRoundTrip},
	{"List", testMountList},
	{"Uniqueness", testMountUniqueness},
	{"NotFound", testMountNotFound},
	{"Update", testMountUpdate},
	{"UpdaterError", testMountUpdaterError},
	{"CreateIdentityWithAuthMethod", testCreateIdentityWithAuthMethod},
	{"CreateIdentityWithAuthMethodRefused", testCreateIdentityWithAuthMethodRefused},
	{"RoleMountPath", testRoleMountPath},
	{"ListAuthMethodsByMount", testListAuthMethodsByMount},
	{"Delete", testDeleteMountCascade},
	{"DeleteFreesKeys", testDeleteMountFreesKeys},
}

// newMount returns a configured Kubernetes mount at path.
func newMount(path string, created time.Time) store.Mount {
	return store.Mount{
		Path:         path,
		Type:         "kubernetes",
		Accessor:     "auth_kubernetes_" + newID(),
		Description:  "cluster " + path,
		Config:       json.RawMessage(`{"kubernetes_host": "https://10.0.0.1:443", "disable_local_ca_jwt": true}`),
		SealedSecret: []byte{0, 's', 'e', 'a', 'l', 'e', 'd', 0xff},
		CreatedAt:    created,
		UpdatedAt:    created.Add(time.Minute),
	}
}

// newRole returns the auth method of role on mount, owned by identityID.
func newRole(identityID string, mount store.Mount, role string, created time.Time) store.AuthMethod {
	m := newAuthMethod(identityID, store.AuthMethodVaultKubernetes, created)
	m.LookupKey = mount.Path + "/" + role
	m.MountPath = mount.Path
	m.Config = json.RawMessage(`{"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["default"]}`)
	return m
}

func createMount(t *testing.T, s store.Store, m store.Mount) store.Mount {
	t.Helper()
	must(t, s.CreateMount(t.Context(), m))
	return m
}

// createRole creates a role of mount and the identity it belongs to, and
// returns both.
func createRole(t *testing.T, s store.Store, mount store.Mount, role string, created time.Time) (store.Identity, store.AuthMethod) {
	t.Helper()
	id := newIdentity(created)
	id.Name = "vault-role-" + role
	m := newRole(id.ID, mount, role, created)
	must(t, s.CreateIdentityWithAuthMethod(t.Context(), id, m))
	return id, m
}

// mountWorld is the world (see world.go) with Vault auth mounts added:
//
//	mount k8s ("kubernetes"): role k8sA, of identity k8sA (tokens k8sA, k8sARevoked);
//	                          identity k8sA also has method k8sAUA
//	                          secret k8sASecret (token k8sAUA)
//	                          role k8sB, of identity k8sB (token k8sB)
//	mount team ("Team-A/k8s"): role teamX, of identity teamX (token teamX)
//	mount empty ("empty"): no roles
//
// Role identities and methods go in the world's maps under the names above,
// so the world's snapshot covers them.
type mountWorld struct {
	*world
	mounts map[string]store.Mount
}

func buildMountWorld(t *testing.T, s store.Store) *mountWorld {
	t.Helper()
	w := &mountWorld{world: buildWorld(t, s), mounts: map[string]store.Mount{}}
	w.mounts["k8s"] = createMount(t, s, newMount("kubernetes", at(60)))
	w.mounts["team"] = createMount(t, s, newMount("Team-A/k8s", at(61)))
	w.mounts["empty"] = createMount(t, s, newMount("empty", at(62)))

	role := func(name, mount, role string, created time.Time) {
		w.identities[name], w.methods[name] = createRole(t, s, w.mounts[mount], role, created)
	}
	role("k8sB", "k8s", "b-role", at(70)) // created first, listed second
	role("k8sA", "k8s", "a-role", at(71))
	role("teamX", "team", "x", at(72))
	w.methods["k8sAUA"] = createAuthMethod(t, s, newAuthMethod(w.identities["k8sA"].ID, store.AuthMethodUniversal, at(73)))
	w.secrets["k8sASecret"] = createClientSecret(t, s, newClientSecret(w.methods["k8sAUA"].ID, at(74)))

	tok := func(name, method, secret string, created time.Time, revoked bool) {
		var secretID string
		if secret != "" {
			secretID = w.secrets[secret].ID
		}
		tk := newAccessToken(w.methods[method], secretID, created)
		if revoked {
			tk.RevokedAt = revokedEarly
		}
		w.tokens[name] = createAccessToken(t, s, tk)
	}
	tok("k8sA", "k8sA", "", at(80), false)
	tok("k8sARevoked", "k8sA", "", at(81), true)
	tok("k8sB", "k8sB", "", at(82), false)
	tok("k8sAUA", "k8sAUA", "k8sASecret", at(83), false)
	tok("teamX", "teamX", "", at(84), false)
	return w
}

// snapshot is the world's snapshot plus every mount, by GetMount and
// ListMounts, and every mount's roles.
func (w *mountWorld) snapshot(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	sn := w.world.snapshot(t, s)
	for name, m := range w.mounts {
		sn["mount/"+name] = result[store.Mount](t, name)(s.GetMount(ctx, m.Path))
		roles, err := s.ListAuthMethodsByMount(ctx, m.Path)
		must(t, err)
		sn["roles-of/"+name] = nonNil(roles)
	}
	ms, err := s.ListMounts(ctx)
	must(t, err)
	sn["mounts"] = nonNil(ms)
	return sn
}

// mountGone: the mount is gone and has no roles.
func (sn snapshot) mountGone(w *mountWorld, name string) {
	sn["mount/"+name] = notFound{}
	sn["roles-of/"+name] = []store.AuthMethod{}
	if ms, ok := sn["mounts"].([]store.Mount); ok {
		sn["mounts"] = slices.DeleteFunc(slices.Clone(ms), func(m store.Mount) bool { return m.Path == w.mounts[name].Path })
	}
}

func testMountRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newMount("team-a/kubernetes", at(0))
	full.Description = "ünï \"cluster\" ✓"
	full.Config = json.RawMessage(`{ "kubernetes_host": "https://k8s:6443", "pem_keys": [],
		"n": 1.5, "nested": {"x": null, "y": true} }`)
	full.SealedSecret = []byte{0, 1, 2, 0xff, 0, 0x80, 'x', 0}
	minimal := store.Mount{ // nil Config, nil SealedSecret, zero UpdatedAt
		Path:      "kubernetes",
		Type:      "kubernetes",
		Accessor:  "auth_kubernetes_" + newID(),
		CreatedAt: at(1),
	}
	for _, m := range []store.Mount{full, minimal} {
		createMount(t, s, m)
		got, err := s.GetMount(ctx, m.Path)
		must(t, err)
		checkEqual(t, "GetMount", got, m)
		if m.Config == nil && got.Config != nil {
			t.Errorf("GetMount: Config = %q, want nil", got.Config)
		}
		if m.SealedSecret == nil && got.SealedSecret != nil {
			t.Errorf("GetMount: SealedSecret = %x, want nil", got.SealedSecret)
		}
	}
	got, err := s.ListMounts(ctx)
	must(t, err)
	checkEqual(t, "ListMounts", got, []store.Mount{minimal, full})
}

func testMountList(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListMounts(ctx)
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Errorf("ListMounts of an empty store = %#v, want a non-nil empty slice", got)
	}
	// Created out of order; the list is in byte order of the path (upper
	// case before lower case, "-" before "/" before "_"), whatever the
	// database's collation.
	var want []store.Mount
	for i, p := range []string{"b", "a_x", "B", "a/x", "kubernetes", "a-x", "ab", "Z"} {
		want = append(want, createMount(t, s, newMount(p, at(i))))
	}
	slices.SortFunc(want, func(a, b store.Mount) int { return strings.Compare(a.Path, b.Path) })
	got, err = s.ListMounts(ctx)
	must(t, err)
	checkEqual(t, "ListMounts", got, want)
}

// testMountUniqueness: a taken path or accessor is ErrAlreadyExists and
// changes nothing.
func testMountUniqueness(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildMountWorld(t, s)
	before := w.snapshot(t, s)

	dupPath := newMount(w.mounts["k8s"].Path, at(100))
	wantErr(t, "CreateMount with a taken path", s.CreateMount(ctx, dupPath), store.ErrAlreadyExists)
	before.check(t, "after CreateMount with a taken path", w.snapshot(t, s))

	dupAccessor := newMount("other", at(100))
	dupAccessor.Accessor = w.mounts["team"].Accessor
	wantErr(t, "CreateMount with a taken accessor", s.CreateMount(ctx, dupAccessor), store.ErrAlreadyExists)
	_, err := s.GetMount(ctx, dupAccessor.Path)
	wantErr(t, "GetMount of the refused mount", err, store.ErrNotFound)
	before.check(t, "after CreateMount with a taken accessor", w.snapshot(t, s))
}

// testMountNotFound calls every mount operation for a mount that is not
// there, in a populated store, and checks that each says ErrNotFound and
// that none changes anything.
func testMountNotFound(t *testing.T, s store.Store) {
	w := buildMountWorld(t, s)
	before := w.snapshot(t, s)
	missing := newMount("missing", at(100))
	orphanIdentity := newIdentity(at(100))
	orphanRole := newRole(orphanIdentity.ID, missing, "r", at(100))
	roleOfMissing := newRole(w.identities["c"].ID, missing, "r", at(100))
	updaterCalled := false
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"GetMount", func(ctx context.Context) error { _, err := s.GetMount(ctx, missing.Path); return err }},
		{"GetMountOtherCase", func(ctx context.Context) error { _, err := s.GetMount(ctx, "team-a/k8s"); return err }},
		{"UpdateMount", func(ctx context.Context) error {
			_, err := s.UpdateMount(ctx, missing.Path, func(*store.Mount) error { updaterCalled = true; return nil })
			return err
		}},
		{"DeleteMount", func(ctx context.Context) error { return s.DeleteMount(ctx, missing.Path, at(100)) }},
		{"CreateAuthMethodOnMissingMount", func(ctx context.Context) error { return s.CreateAuthMethod(ctx, roleOfMissing) }},
		{"CreateIdentityWithAuthMethodOnMissingMount", func(ctx context.Context) error {
			return s.CreateIdentityWithAuthMethod(ctx, orphanIdentity, orphanRole)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(t.Context()), store.ErrNotFound)
			before.check(t, "after "+tc.name, w.snapshot(t, s))
		})
	}
	if updaterCalled {
		t.Error("the updater was called for a missing mount")
	}
	// The refused creates left nothing behind.
	ctx := t.Context()
	_, err := s.GetIdentity(ctx, orphanIdentity.ID)
	wantErr(t, "GetIdentity after a refused create", err, store.ErrNotFound)
	for _, m := range []store.AuthMethod{orphanRole, roleOfMissing} {
		_, err = s.GetAuthMethod(ctx, m.ID)
		wantErr(t, "GetAuthMethod after a refused create", err, store.ErrNotFound)
	}
	roles, err := s.ListAuthMethodsByMount(ctx, missing.Path)
	must(t, err)
	if roles == nil || len(roles) != 0 {
		t.Errorf("ListAuthMethodsByMount of a missing mount = %#v, want a non-nil empty slice", roles)
	}
}

func testMountUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := createMount(t, s, newMount("kubernetes", at(0)))
	other := createMount(t, s, newMount("other", at(1)))

	want := orig
	want.Description = "updated"
	want.Config = json.RawMessage(`{"kubernetes_host": "https://new:6443", "b": [1, 2]}`)
	want.SealedSecret = []byte("sealed-v2")
	want.UpdatedAt = at(100)
	calls := 0
	got, err := s.UpdateMount(ctx, orig.Path, func(cur *store.Mount) error {
		calls++
		checkEqual(t, "mount passed to the updater", *cur, orig)
		cur.Description, cur.Config, cur.SealedSecret, cur.UpdatedAt = want.Description, want.Config, want.SealedSecret, want.UpdatedAt
		// None of these can change.
		cur.Path, cur.Type, cur.Accessor, cur.CreatedAt = "moved", "jwt", other.Accessor, at(99)
		return nil
	})
	must(t, err)
	if calls != 1 {
		t.Errorf("updater called %d times, want 1", calls)
	}
	checkEqual(t, "UpdateMount result", got, want)
	read, err := s.GetMount(ctx, orig.Path)
	must(t, err)
	checkEqual(t, "GetMount after update", read, want)
	_, err = s.GetMount(ctx, "moved")
	wantErr(t, "GetMount of the path the updater tried to move to", err, store.ErrNotFound)
	read, err = s.GetMount(ctx, other.Path)
	must(t, err)
	checkEqual(t, "the other mount after update", read, other)

	// Removing the config and the sealed secret.
	want.Config, want.SealedSecret = nil, nil
	got, err = s.UpdateMount(ctx, orig.Path, func(cur *store.Mount) error {
		cur.Config, cur.SealedSecret = nil, nil
		return nil
	})
	must(t, err)
	checkEqual(t, "UpdateMount clearing", got, want)
	read, err = s.GetMount(ctx, orig.Path)
	must(t, err)
	checkEqual(t, "GetMount after clearing", read, want)
	if read.Config != nil || read.SealedSecret != nil {
		t.Errorf("Config = %q, SealedSecret = %x after clearing, want nil", read.Config, read.SealedSecret)
	}
}

func testMountUpdaterError(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := createMount(t, s, newMount("kubernetes", at(0)))
	_, err := s.UpdateMount(ctx, orig.Path, func(cur *store.Mount) error {
		cur.Description = "half-written"
		cur.Config = json.RawMessage(`{"half":"written"}`)
		cur.SealedSecret = nil
		return errUpdater
	})
	if err != errUpdater {
		t.Errorf("UpdateMount with a failing updater: got error %v, want the updater's error as is", err)
	}
	got, err := s.GetMount(ctx, orig.Path)
	must(t, err)
	checkEqual(t, "mount after a failed update", got, orig)
}

func testCreateIdentityWithAuthMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	mount := createMount(t, s, newMount("kubernetes", at(0)))
	id := newIdentity(at(1))
	m := newRole(id.ID, mount, "ci", at(1))
	m.SealedSecret = []byte("role secret")
	must(t, s.CreateIdentityWithAuthMethod(ctx, id, m))

	gotID, err := s.GetIdentity(ctx, id.ID)
	must(t, err)
	checkEqual(t, "GetIdentity", gotID, id)
	got, err := s.GetAuthMethod(ctx, m.ID)
	must(t, err)
	checkEqual(t, "GetAuthMethod", got, m)
	got, err = s.GetAuthMethodByIdentity(ctx, id.ID, m.Type)
	must(t, err)
	checkEqual(t, "GetAuthMethodByIdentity", got, m)
	got, err = s.GetAuthMethodByLookupKey(ctx, m.Type, m.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey", got, m)
	list, err := s.ListAuthMethods(ctx, id.ID)
	must(t, err)
	checkEqual(t, "ListAuthMethods", list, []store.AuthMethod{m})
	list, err = s.ListAuthMethodsByMount(ctx, mount.Path)
	must(t, err)
	checkEqual(t, "ListAuthMethodsByMount", list, []store.AuthMethod{m})

	// A method outside any mount can be created the same way.
	plainID := newIdentity(at(2))
	plain := newAuthMethod(plainID.ID, store.AuthMethodUniversal, at(2))
	must(t, s.CreateIdentityWithAuthMethod(ctx, plainID, plain))
	got, err = s.GetAuthMethodByLookupKey(ctx, plain.Type, plain.LookupKey)
	must(t, err)
	checkEqual(t, "GetAuthMethodByLookupKey of a method outside any mount", got, plain)
	_, total, err := s.ListIdentities(ctx, 0, 0)
	must(t, err)
	if total != 2 {
		t.Errorf("ListIdentities total = %d, want 2", total)
	}
}

// testCreateIdentityWithAuthMethodRefused: every refusal leaves neither
// the identity nor the method, and changes nothing else.
func testCreateIdentityWithAuthMethodRefused(t *testing.T, s store.Store) {
	w := buildMountWorld(t, s)
	before := w.snapshot(t, s)
	_, identities, err := s.ListIdentities(t.Context(), 0, 1)
	must(t, err)
	k8s := w.mounts["k8s"]
	for _, tc := range []struct {
		name string
		// change turns a new, valid identity and role into the case.
		change func(id *store.Identity, m *store.AuthMethod)
		want   error // nil: any error
		// identityAbsent is false when the identity ID is the world's own.
		identityAbsent bool
	}{
		{"DuplicateLookupKey", func(_ *store.Identity, m *store.AuthMethod) {
			m.LookupKey = w.methods["k8sA"].LookupKey
		}, store.ErrAlreadyExists, true},
		{"DuplicateLookupKeyOtherMount", func(_ *store.Identity, m *store.AuthMethod) {
			m.MountPath = w.mounts["team"].Path
			m.LookupKey = w.methods["k8sA"].LookupKey
		}, store.ErrAlreadyExists, true},
		{"UnknownMount", func(_ *store.Identity, m *store.AuthMethod) {
			m.MountPath = "missing"
			m.LookupKey = "missing/new-role"
		}, store.ErrNotFound, true},
		{"DuplicateIdentityID", func(id *store.Identity, m *store.AuthMethod) {
			id.ID = w.identities["c"].ID // c has no methods: only the identity clashes
			m.IdentityID = id.ID
		}, store.ErrAlreadyExists, false},
		{"DuplicateAuthMethodID", func(_ *store.Identity, m *store.AuthMethod) {
			m.ID = w.methods["teamX"].ID
		}, store.ErrAlreadyExists, true},
		{"MethodOfAnotherIdentity", func(_ *store.Identity, m *store.AuthMethod) {
			m.IdentityID = w.identities["c"].ID
		}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			id := newIdentity(at(100))
			m := newRole(id.ID, k8s, "new-role", at(100))
			tc.change(&id, &m)
			err := s.CreateIdentityWithAuthMethod(ctx, id, m)
			if tc.want == nil {
				if err == nil {
					t.Errorf("%s: CreateIdentityWithAuthMethod succeeded", tc.name)
				}
			} else {
				wantErr(t, tc.name, err, tc.want)
			}
			if tc.identityAbsent {
				_, err = s.GetIdentity(ctx, id.ID)
				wantErr(t, "GetIdentity of the refused identity", err, store.ErrNotFound)
			}
			if m.ID != w.methods["teamX"].ID {
				_, err = s.GetAuthMethod(ctx, m.ID)
				wantErr(t, "GetAuthMethod of the refused method", err, store.ErrNotFound)
			}
			_, err = s.GetAuthMethodByLookupKey(ctx, m.Type, "kubernetes/new-role")
			wantErr(t, "GetAuthMethodByLookupKey of the refused role", err, store.ErrNotFound)
			before.check(t, "after "+tc.name, w.snapshot(t, s))
		})
	}
	_, n, err := s.ListIdentities(t.Context(), 0, 1)
	must(t, err)
	if n != identities {
		t.Errorf("ListIdentities total = %d after refused creates, want %d", n, identities)
	}
}

// testRoleMountPath: MountPath is stored by CreateAuthMethod, read back by
// every read and kept by UpdateAuthMethod whatever the updater does.
func testRoleMountPath(t *testing.T, s store.Store) {
	ctx := t.Context()
	mount := createMount(t, s, newMount("kubernetes", at(0)))
	other := createMount(t, s, newMount("other", at(1)))
	id := createIdentity(t, s, newIdentity(at(2)))
	plain := createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(3)))
	role := createAuthMethod(t, s, newRole(id.ID, mount, "r", at(4)))

	check := func(what string, want store.AuthMethod) {
		t.Helper()
		got, err := s.GetAuthMethod(ctx, want.ID)
		must(t, err)
		checkEqual(t, what+": GetAuthMethod", got, want)
		got, err = s.GetAuthMethodByIdentity(ctx, want.IdentityID, want.Type)
		must(t, err)
		checkEqual(t, what+": GetAuthMethodByIdentity", got, want)
		got, err = s.GetAuthMethodByLookupKey(ctx, want.Type, want.LookupKey)
		must(t, err)
		checkEqual(t, what+": GetAuthMethodByLookupKey", got, want)
		list, err := s.ListAuthMethods(ctx, want.IdentityID)
		must(t, err)
		found := false
		for _, m := range list {
			if m.ID == want.ID {
				found = true
				checkEqual(t, what+": ListAuthMethods", m, want)
			}
		}
		if !found {
			t.Errorf("%s: ListAuthMethods of its identity does not hold it", what)
		}
	}
	check("role", role)
	check("method outside any mount", plain)
	list, err := s.ListAuthMethodsByMount(ctx, mount.Path)
	must(t, err)
	checkEqual(t, "ListAuthMethodsByMount", list, []store.AuthMethod{role})

	// The updater moves each method; the store keeps it where it was.
	cur := map[string]store.AuthMethod{role.ID: role, plain.ID: plain}
	for i, tc := range []struct {
		name      string
		id        string
		mountPath string
	}{
		{"RoleToOtherMount", role.ID, other.Path},
		{"RoleOutOfMount", role.ID, ""},
		{"RoleToMissingMount", role.ID, "missing"},
		{"PlainIntoMount", plain.ID, mount.Path},
	} {
		want := cur[tc.id]
		want.TokenPolicy.TTL = int64(100 + i)
		want.UpdatedAt = at(100 + i)
		got, err := s.UpdateAuthMethod(ctx, tc.id, func(m *store.AuthMethod) error {
			m.MountPath = tc.mountPath
			m.TokenPolicy.TTL, m.UpdatedAt = want.TokenPolicy.TTL, want.UpdatedAt
			return nil
		})
		must(t, err)
		checkEqual(t, tc.name+": UpdateAuthMethod result", got, want)
		check(tc.name, want)
		cur[tc.id] = want
	}
	for _, tc := range []struct {
		path string
		want []store.AuthMethod
	}{
		{mount.Path, []store.AuthMethod{cur[role.ID]}},
		{other.Path, []store.AuthMethod{}},
	} {
		got, err := s.ListAuthMethodsByMount(ctx, tc.path)
		must(t, err)
		checkEqual(t, "ListAuthMethodsByMount("+tc.path+") after the updates", got, tc.want)
	}
}

func testListAuthMethodsByMount(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createMount(t, s, newMount("kubernetes", at(0)))
	b := createMount(t, s, newMount("kubernetes-2", at(1)))
	empty := createMount(t, s, newMount("empty", at(2)))
	// Roles created out of order and interleaved between the mounts; each
	// list is in byte order of the lookup key, whatever the database's
	// collation.
	var wantA, wantB []store.AuthMethod
	for i, r := range []string{"b", "a_1", "B", "a-2", "Z", "a", "a.3"} {
		_, m := createRole(t, s, a, r, at(10+i))
		wantA = append(wantA, m)
		if i%2 == 0 {
			_, m := createRole(t, s, b, r, at(20+i))
			wantB = append(wantB, m)
		}
	}
	// Methods outside any mount are in no mount's list.
	id := createIdentity(t, s, newIdentity(at(30)))
	createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodUniversal, at(30)))
	createAuthMethod(t, s, newAuthMethod(id.ID, store.AuthMethodKubernetes, at(31)))

	byKey := func(x, y store.AuthMethod) int { return strings.Compare(x.LookupKey, y.LookupKey) }
	slices.SortFunc(wantA, byKey)
	slices.SortFunc(wantB, byKey)
	for _, tc := range []struct {
		path string
		want []store.AuthMethod
	}{
		{a.Path, wantA},
		{b.Path, wantB},
		{empty.Path, []store.AuthMethod{}},
		{"missing", []store.AuthMethod{}},
		{"", []store.AuthMethod{}},
	} {
		got, err := s.ListAuthMethodsByMount(ctx, tc.path)
		must(t, err)
		if got == nil {
			t.Errorf("ListAuthMethodsByMount(%q) = nil, want a non-nil slice", tc.path)
		}
		checkEqual(t, "ListAuthMethodsByMount("+tc.path+")", got, tc.want)
	}
}

func testDeleteMountCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildMountWorld(t, s)
	want := w.snapshot(t, s)
	now := at(1000)
	must(t, s.DeleteMount(ctx, w.mounts["k8s"].Path, now))
	// The mount and its roles' identities are gone, with everything of
	// theirs (k8sA's Universal Auth method and its secret too); the live
	// tokens of those identities are revoked now, the revoked one keeps its
	// time. The other mounts, their roles and tokens, the world's
	// identities and their tokens, and the root token are untouched.
	want.mountGone(w, "k8s")
	want.identityGone(w.world, "k8sA")
	want.identityGone(w.world, "k8sB")
	want.tokensRevoked(now, "k8sA", "k8sB", "k8sAUA")
	want.check(t, "after DeleteMount", w.snapshot(t, s))

	err := s.DeleteMount(ctx, w.mounts["k8s"].Path, at(1001))
	wantErr(t, "DeleteMount twice", err, store.ErrNotFound)
	want.check(t, "after DeleteMount twice", w.snapshot(t, s))

	// A mount without roles goes alone.
	must(t, s.DeleteMount(ctx, w.mounts["empty"].Path, at(1002)))
	want.mountGone(w, "empty")
	want.check(t, "after DeleteMount of a mount without roles", w.snapshot(t, s))
}

// testDeleteMountFreesKeys checks that deleting really removes the rows:
// the mount's path and accessor, and its roles' identity IDs and lookup
// keys, can be used again.
func testDeleteMountFreesKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := buildMountWorld(t, s)
	old := w.mounts["k8s"]
	must(t, s.DeleteMount(ctx, old.Path, at(1000)))
	m := newMount(old.Path, at(1001))
	m.Accessor = old.Accessor
	createMount(t, s, m)
	got, err := s.GetMount(ctx, m.Path)
	must(t, err)
	checkEqual(t, "new mount with the old path and accessor", got, m)

	id := newIdentity(at(1002))
	id.ID = w.identities["k8sA"].ID
	role := newRole(id.ID, m, "a-role", at(1002))
	if role.LookupKey != w.methods["k8sA"].LookupKey {
		t.Fatalf("role lookup key %q, want the old %q", role.LookupKey, w.methods["k8sA"].LookupKey)
	}
	must(t, s.CreateIdentityWithAuthMethod(ctx, id, role))
	roles, err := s.ListAuthMethodsByMount(ctx, m.Path)
	must(t, err)
	checkEqual(t, "roles of the new mount", roles, []store.AuthMethod{role})
}
