package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyBytes are the fixed bytes 1, 2, ..., 32.
func keyBytes() []byte {
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustKey(t)
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", nil, nil},
		{"empty non-nil", []byte{}, []byte{}},
		{"short", []byte("x"), nil},
		{"jwt with ad", []byte(strings.Repeat("eyJhbGciOi", 100)), []byte("auth-method/1234")},
		{"binary", []byte{0, 1, 2, 255}, []byte{0}},
		{"large", bytes.Repeat([]byte{7}, 1<<20), []byte("big")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != len(tt.plaintext)+Overhead {
				t.Errorf("len(sealed) = %d, want %d", len(sealed), len(tt.plaintext)+Overhead)
			}
			if sealed[0] != version1 {
				t.Errorf("version byte = %#x", sealed[0])
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed, tt.plaintext[:8]) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := k.Open(sealed, tt.ad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) || got == nil {
				t.Errorf("Open = %q (nil: %v), want %q", got, got == nil, tt.plaintext)
			}
			again, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again, sealed) {
				t.Error("two seals of the same plaintext are equal (nonce reused)")
			}
		})
	}
}

func TestOpenTampered(t *testing.T) {
	t.Parallel()
	k := mustKey(t)
	plaintext, ad := []byte("reviewer-jwt"), []byte("am-1")
	sealed, err := k.Seal(plaintext, ad)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string][2]int{
		"version":    {0, 1},
		"nonce":      {1, 1 + nonceSize},
		"ciphertext": {1 + nonceSize, len(sealed) - tagSize},
		"tag":        {len(sealed) - tagSize, len(sealed)},
	}
	for name, r := range regions {
		for i := r[0]; i < r[1]; i++ {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(sealed)
				bad[i] ^= bit
				if got, err := k.Open(bad, ad); !errors.Is(err, ErrOpen) || got != nil {
					t.Errorf("%s byte %d ^ %#x: Open = %q, %v; want ErrOpen", name, i, bit, got, err)
				}
			}
		}
	}

	other := mustKey(t)
	cases := map[string]struct {
		key    Key
		sealed []byte
		ad     []byte
	}{
		"wrong key":        {other, sealed, ad},
		"wrong ad":         {k, sealed, []byte("am-2")},
		"missing ad":       {k, sealed, nil},
		"extra ad":         {k, sealed, []byte("am-1\x00")},
		"empty":            {k, nil, ad},
		"version only":     {k, sealed[:1], ad},
		"truncated":        {k, sealed[:len(sealed)-1], ad},
		"header only":      {k, sealed[:Overhead-1], ad},
		"extended":         {k, append(bytes.Clone(sealed), 0), ad},
		"version 2":        {k, append([]byte{2}, sealed[1:]...), ad},
		"version 0":        {k, append([]byte{0}, sealed[1:]...), ad},
		"nonce moved":      {k, append(append([]byte{1}, sealed[2:]...), sealed[1]), ad},
		"prefix of sealed": {k, sealed[:Overhead], ad},
	}
	for name, c := range cases {
		if got, err := c.key.Open(c.sealed, c.ad); !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
}

func TestVersionIsAuthenticated(t *testing.T) {
	t.Parallel()
	// A version-1 value sealed without the version in the additional data
	// must not open: the version byte is bound to the ciphertext.
	k := mustKey(t)
	nonce := make([]byte, nonceSize)
	box := k.aead.Seal(nil, nonce, []byte("p"), []byte("ad"))
	forged := append(append([]byte{version1}, nonce...), box...)
	if _, err := k.Open(forged, []byte("ad")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open(unbound version) = %v, want ErrOpen", err)
	}
}

func TestZeroKey(t *testing.T) {
	t.Parallel()
	var k Key
	if !k.IsZero() || k.Encode() != "" || k.Fingerprint() != "" {
		t.Error("zero Key does not look zero")
	}
	if _, err := k.Seal([]byte("p"), nil); err == nil {
		t.Error("Seal with zero Key: no error")
	}
	if _, err := k.Open(make([]byte, 64), nil); err == nil || errors.Is(err, ErrOpen) {
		t.Errorf("Open with zero Key = %v, want a zero-key error", err)
	}
	if got := fmt.Sprint(k); got != "seal.Key(zero)" {
		t.Errorf("Sprint(zero Key) = %q", got)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := keyBytes()
	want, err := newKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes whose base64 has '+' and '/' (std) or '-' and '_' (URL).
	special := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:KeySize]
	wantSpecial, err := newKey(special)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    Key
		wantErr string
	}{
		{"std base64", base64.StdEncoding.EncodeToString(raw), want, ""},
		{"raw std base64", base64.RawStdEncoding.EncodeToString(raw), want, ""},
		{"url base64", base64.URLEncoding.EncodeToString(raw), want, ""},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(raw), want, ""},
		{"std special", base64.StdEncoding.EncodeToString(special), wantSpecial, ""},
		{"raw url special", base64.RawURLEncoding.EncodeToString(special), wantSpecial, ""},
		{"hex lower", hex.EncodeToString(raw), want, ""},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw)), want, ""},
		{"whitespace", " \t" + base64.StdEncoding.EncodeToString(raw) + "\n", want, ""},
		{"hex with newline", hex.EncodeToString(raw) + "\r\n", want, ""},
		{"Encode output", want.Encode(), want, ""},
		{"empty", "", Key{}, "key is empty"},
		{"spaces", "   ", Key{}, "key is empty"},
		{"31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), Key{}, "(31 bytes)"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), Key{}, "(33 bytes)"},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), Key{}, "(16 bytes)"},
		{"hex 63", hex.EncodeToString(raw)[:63], Key{}, "got 63 characters"},
		{"hex 66", hex.EncodeToString(append(raw, 1)), Key{}, "got 66 characters"},
		{"bad hex", strings.Repeat("g", 64), Key{}, "(48 bytes)"},
		{"garbage", "not a key!", Key{}, "10 characters that are neither"},
		{"inner space", base64.StdEncoding.EncodeToString(raw)[:20] + " " + base64.StdEncoding.EncodeToString(raw)[20:], Key{}, "45 characters that are neither"},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, KeySize)), Key{}, "all zero"},
		{"all zero hex", strings.Repeat("0", 64), Key{}, "all zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey error = %v, want one containing %q", err, tt.wantErr)
				}
				if !got.IsZero() {
					t.Error("key returned with an error")
				}
				if trimmed := strings.TrimSpace(tt.in); len(trimmed) > 4 && strings.Contains(err.Error(), trimmed) {
					t.Errorf("error %q contains the input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tt.want.Encode() {
				t.Errorf("ParseKey = %s, want %s", got.Encode(), tt.want.Encode())
			}
		})
	}
}

func TestEncodeParseRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustKey(t)
	enc := k.Encode()
	if len(enc) != 44 {
		t.Errorf("Encode length = %d, want 44", len(enc))
	}
	back, err := ParseKey(enc)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal([]byte("p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.Open(sealed, nil); err != nil {
		t.Errorf("parsed key does not open what the original sealed: %v", err)
	}
	if back.Fingerprint() != k.Fingerprint() {
		t.Error("fingerprints differ")
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	k, err := newKey(keyBytes())
	if err != nil {
		t.Fatal(err)
	}
	fp := k.Fingerprint()
	if len(fp) != 16 {
		t.Errorf("Fingerprint length = %d, want 16", len(fp))
	}
	if _, err := hex.DecodeString(fp); err != nil {
		t.Errorf("Fingerprint %q is not hex", fp)
	}
	// Pinned: the fingerprint is stored, so its definition must not change.
	// HMAC-SHA256(key 0x01..0x20, "gatehouse key check")[:8].
	if want := pinnedFingerprint; fp != want {
		t.Errorf("Fingerprint = %s, want %s", fp, want)
	}
	if mustKey(t).Fingerprint() == fp {
		t.Error("different keys, same fingerprint")
	}
	if strings.Contains(k.Encode(), fp) || strings.Contains(hex.EncodeToString(keyBytes()), fp) {
		t.Error("fingerprint contains key material")
	}
}

func TestKeyRedaction(t *testing.T) {
	t.Parallel()
	k, err := newKey(keyBytes())
	if err != nil {
		t.Fatal(err)
	}
	type config struct {
		Addr string
		Key  Key
	}
	var jsonBuf, textBuf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&jsonBuf, nil), slog.NewTextHandler(&textBuf, nil)} {
		slog.New(h).Info("start", "key", k, "config", config{"x", k})
	}
	outputs := map[string]string{
		"%v":         fmt.Sprintf("%v", k),
		"%s":         fmt.Sprintf("%s", k),
		"%+v":        fmt.Sprintf("%+v", k),
		"%#v":        fmt.Sprintf("%#v", k),
		"%x":         fmt.Sprintf("%x", k),
		"%d":         fmt.Sprintf("%d", k),
		"%q":         fmt.Sprintf("%q", k),
		"pointer":    fmt.Sprintf("%+v", &k),
		"struct %+v": fmt.Sprintf("%+v", config{"x", k}),
		"struct %#v": fmt.Sprintf("%#v", config{"x", k}),
		"slog JSON":  jsonBuf.String(),
		"slog text":  textBuf.String(),
	}
	raw := keyBytes()
	leaks := []string{
		k.Encode()[:20],
		base64.RawURLEncoding.EncodeToString(raw)[:20],
		hex.EncodeToString(raw)[:20],
		fmt.Sprint(raw[:8])[1:15], // decimal bytes "1 2 3 4 5 ..."
		fmt.Sprintf("%x", raw[:8]),
	}
	for name, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("%s leaks key material %q: %s", name, leak, out)
			}
		}
		if !strings.Contains(out, k.Fingerprint()) {
			t.Errorf("%s = %q, want the fingerprint", name, out)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "sub", "gatehouse.key")

	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || k1.IsZero() {
		t.Fatalf("created = %v, zero = %v", created, k1.IsZero())
	}
	checkMode(t, path, 0o600)
	checkMode(t, filepath.Dir(path), 0o700)
	checkMode(t, filepath.Join(dir, "new"), 0o700)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != k1.Encode()+"\n" {
		t.Errorf("file content = %q", content)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temporary file left?)", len(entries))
	}

	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || k2.Encode() != k1.Encode() {
		t.Errorf("second call: created = %v, same key = %v", created, k2.Encode() == k1.Encode())
	}
	k3, err := LoadKeyFile(path)
	if err != nil || k3.Encode() != k1.Encode() {
		t.Errorf("LoadKeyFile = %v, same key = %v", err, k3.Encode() == k1.Encode())
	}
}

func TestLoadOrCreateKeyFileLeavesExistingDirAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "k")
	if _, _, err := LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	checkMode(t, dir, 0o755)
	checkMode(t, path, 0o600)
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k")
	const n = 16
	keys := make([]string, n)
	createdCount := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, created, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i], createdCount[i] = k.Encode(), created
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if keys[i] != keys[0] {
			t.Fatal("concurrent callers got different keys")
		}
		if createdCount[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d callers report creating the key, want 1", nCreated)
	}
}

func TestWriteExclusive(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k")
	k := mustKey(t)
	if err := writeExclusive(path, []byte(k.Encode())); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path, 0o600)
	if got, err := LoadKeyFile(path); err != nil || got.Encode() != k.Encode() {
		t.Errorf("LoadKeyFile = %v", err)
	}
	if err := writeExclusive(path, []byte("x")); !errors.Is(err, os.ErrExist) {
		t.Errorf("second writeExclusive = %v, want ErrExist", err)
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	good := base64.StdEncoding.EncodeToString(keyBytes())
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string // "" = loads
	}{
		{"0600", good, 0o600, ""},
		{"0400", good, 0o400, ""},
		{"0440 (Kubernetes fsGroup)", good, 0o440, ""},
		{"0640", good, 0o640, ""},
		{"hex", hex.EncodeToString(keyBytes()), 0o600, ""},
		{"world readable", good, 0o644, "mode 0644"},
		{"world writable", good, 0o602, "mode 0602"},
		{"group writable", good, 0o620, "mode 0620"},
		{"0666", good, 0o666, "chmod 600"},
		{"executable by group", good, 0o610, "mode 0610"},
		{"empty", "", 0o600, "key is empty"},
		{"short key", base64.StdEncoding.EncodeToString(keyBytes()[:16]), 0o600, "(16 bytes)"},
		{"too large", strings.Repeat("A", maxKeyFileSize+1), 0o600, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "k")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKeyFile(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if k.IsZero() {
					t.Fatal("zero key")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadKeyFile error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), good[:20]) {
				t.Errorf("error %q contains the key", err)
			}
			// LoadOrCreateKeyFile must not replace a file it cannot use.
			if _, created, err := LoadOrCreateKeyFile(path); err == nil || created {
				t.Errorf("LoadOrCreateKeyFile = created %v, %v; want the same error", created, err)
			}
		})
	}
}

func TestLoadKeyFileMissingAndDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	if _, err := LoadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, _, err := LoadOrCreateKeyFile(dir); err == nil {
		t.Error("LoadOrCreateKeyFile(directory): no error")
	}
}

func TestLoadKeyFileFollowsSymlink(t *testing.T) {
	t.Parallel()
	// Kubernetes Secret volumes expose files as symbolic links.
	dir := t.TempDir()
	k := mustKey(t)
	target := filepath.Join(dir, "..data-key")
	if err := os.WriteFile(target, []byte(k.Encode()), 0o400); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "key")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	got, err := LoadKeyFile(link)
	if err != nil || got.Encode() != k.Encode() {
		t.Errorf("LoadKeyFile(symlink) = %v", err)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

func FuzzOpen(f *testing.F) {
	k, err := newKey(keyBytes())
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"", "x", "reviewer-jwt"} {
		sealed, err := k.Seal([]byte(p), []byte("ad"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed, []byte("ad"))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte(nil))
	f.Add(make([]byte, Overhead), []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		got, err := k.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("Open = %q, %v", got, err)
			}
			return
		}
		// Whatever opens must have the format Seal writes and survive a
		// fresh seal.
		if len(sealed) != len(got)+Overhead || sealed[0] != version1 {
			t.Fatalf("opened a value of length %d holding %d bytes", len(sealed), len(got))
		}
		again, err := k.Seal(got, ad)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := k.Open(again, ad); err != nil || !bytes.Equal(back, got) {
			t.Fatalf("re-seal round trip: %v", err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	k := mustKey(b)
	p := bytes.Repeat([]byte("j"), 1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(p, []byte("am-1")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustKey(b)
	sealed, err := k.Seal(bytes.Repeat([]byte("j"), 1024), []byte("am-1"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(sealed, []byte("am-1")); err != nil {
			b.Fatal(err)
		}
	}
}

// pinnedFingerprint was computed independently (Python hmac) for the key
// 0x01..0x20.
const pinnedFingerprint = "c09061cb83cb15a7"

func TestDerive(t *testing.T) {
	k1, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseKey(k1.Encode())
	if err != nil {
		t.Fatal(err)
	}
	a := k1.Derive("replica")
	if len(a) != 32 || !bytes.Equal(a, again.Derive("replica")) {
		t.Error("the same key and purpose should give the same 32-byte subkey")
	}
	if bytes.Equal(a, k1.Derive("other")) || bytes.Equal(a, k2.Derive("replica")) {
		t.Error("another purpose or key should give another subkey")
	}
	if bytes.Equal(a, k1.k[:]) {
		t.Error("the subkey is the key itself")
	}
}
