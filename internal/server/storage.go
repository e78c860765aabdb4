package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/store/tokencache"
)

// DefaultStorage is the embedded default store.
const DefaultStorage = "sqlite://./gatehouse-data/gatehouse.db"

// storageKind tells SQLite from PostgreSQL by the URL's scheme and returns
// the SQLite file path for the former.
func storageKind(url string) (kind, path string, err error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path = strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			return "", "", fmt.Errorf("storage %q: no file path after sqlite://", url)
		}
		return "sqlite", path, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "postgres", "", nil
	}
	return "", "", fmt.Errorf("storage %q: want sqlite://<path> or postgres://...", RedactStorageURL(url))
}

// openServerStore opens the server's store (retrying while it is
// unavailable, see openWithRetry), bounds every call to it in time and
// watches it for outages (internal/store/bounded), and caches token checks
// (internal/store/tokencache). With SQLite, whose file this one server
// owns, every write goes through the cache, so it is never stale. With
// PostgreSQL, shared by replicas, each replica announces its writes
// (NOTIFY) and applies the others' as they arrive (LISTEN); while that
// feed is down the replica caches nothing, and a lost announcement is
// bounded by the cache's 1 s TTL (README: "Several replicas").
func openServerStore(ctx context.Context, cfg Config) (store.Store, *bounded.Store, error) {
	logger := cfg.Logger
	st, err := openWithRetry(ctx, cfg.Storage, cfg.StoreConnectTimeout, logger, OpenStore)
	if err != nil {
		return nil, nil, err
	}
	var base store.Store = st
	if cfg.wrapStore != nil {
		base = cfg.wrapStore(st)
	}
	bs := bounded.New(base, bounded.Config{Timeout: cfg.StoreTimeout, Logger: logger, Now: cfg.Now})
	pg, ok := st.(*postgres.Store)
	if !ok {
		return tokencache.New(bs, tokencache.MaxTTL, tokencache.DefaultSize, nil), bs, nil
	}
	c := tokencache.NewShared(bs, tokencache.MaxTTL, tokencache.DefaultSize, nil, pg)
	down := false // only the follower's goroutine touches it
	pg.Follow(postgres.Feed{
		Up: func() {
			c.SetLive(true)
			if down {
				logger.Info("token-check cache on again: following other replicas' writes")
			}
			down = false
		},
		Down: func(err error) {
			c.SetLive(false)
			if !down && !errors.Is(err, context.Canceled) {
				logger.Warn("token-check cache off: not following other replicas' writes; every check reads the store until it is back", "err", err)
			}
			down = true
		},
		Forget: c.Forget,
	})
	return c, bs, nil
}

// Backoff between attempts to open an unavailable store.
const (
	openBackoffMin = 250 * time.Millisecond
	openBackoffMax = 10 * time.Second
)

// openWithRetry opens the store with open, retrying while it answers
// store.ErrUnavailable (PostgreSQL down or refusing connections) with
// capped exponential backoff and jitter, for up to patience (0 = no
// retry), so that a replica started during an outage comes up by itself
// once the database is back. Each retry is logged (WARN) with the URL's
// passwords redacted. Any other error (a bad URL, a failed migration)
// ends it at once.
func openWithRetry(ctx context.Context, storage string, patience time.Duration, logger *slog.Logger,
	open func(context.Context, string) (store.Store, error)) (store.Store, error) {
	start := time.Now()
	wait := openBackoffMin
	for attempt := 1; ; attempt++ {
		st, err := open(ctx, storage)
		if err == nil {
			if attempt > 1 {
				logger.Info("store reached", "storage", RedactStorageURL(storage), "attempts", attempt)
			}
			return st, nil
		}
		left := patience - time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) || left <= 0 {
			return nil, err
		}
		// Full jitter over the upper half: replicas restarted together
		// do not retry in step.
		d := min(wait/2+rand.N(wait/2+1), left)
		logger.Warn("store unavailable; retrying", "storage", RedactStorageURL(storage), "attempt", attempt,
			"retry_in", d.Round(time.Millisecond).String(), "gives_up_in", left.Round(time.Second).String(), "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, openBackoffMax)
	}
}

// OpenStore opens (and migrates) the store the URL names.
func OpenStore(ctx context.Context, url string) (store.Store, error) {
	kind, path, err := storageKind(url)
	if err != nil {
		return nil, err
	}
	if kind == "sqlite" {
		return sqlite.Open(ctx, path)
	}
	return postgres.Open(ctx, url)
}

// loadKey finds the server's sealing key: the key given in the config, the
// key file given, or (SQLite only) a key file generated beside the database
// on the first start. Several replicas sharing one PostgreSQL must be given
// the same key.
func loadKey(cfg Config) (key seal.Key, generatedAt string, err error) {
	if cfg.EncryptionKey != "" {
		key, err = seal.ParseKey(cfg.EncryptionKey)
		if err != nil {
			return seal.Key{}, "", fmt.Errorf("GATEHOUSE_ENCRYPTION_KEY: %w", err)
		}
		return key, "", nil
	}
	if cfg.EncryptionKeyFile != "" {
		key, err = seal.LoadKeyFile(cfg.EncryptionKeyFile)
		return key, "", err
	}
	kind, path, err := storageKind(cfg.Storage)
	if err != nil {
		return seal.Key{}, "", err
	}
	if kind != "sqlite" {
		return seal.Key{}, "", fmt.Errorf("a PostgreSQL store needs an encryption key shared by every replica: set --encryption-key-file or GATEHOUSE_ENCRYPTION_KEY (generate one with `gatehouse operator generate-key`)")
	}
	file := filepath.Join(filepath.Dir(path), "encryption.key")
	key, created, err := seal.LoadOrCreateKeyFile(file)
	if err != nil {
		return seal.Key{}, "", err
	}
	if created {
		return key, file, nil
	}
	return key, "", nil
}

// checkKey makes sure the store was sealed with this key: the first start
// records the key's fingerprint, later starts compare.
func checkKey(ctx context.Context, s store.Store, key seal.Key) error {
	const metaKey = "encryption_key_fingerprint"
	fp := key.Fingerprint()
	if _, err := s.PutMetaIfAbsent(ctx, metaKey, fp); err != nil {
		return err
	}
	stored, err := s.GetMeta(ctx, metaKey)
	if err != nil {
		return err
	}
	if stored != fp {
		return fmt.Errorf("the encryption key (fingerprint %s) is not the one this store was sealed with (fingerprint %s): start with the original key", fp, stored)
	}
	return nil
}

// RedactStorageURL hides the passwords a storage URL may carry, in its
// user info and in a password query parameter, for logs and errors. A URL
// that does not parse is shown by its scheme alone.
func RedactStorageURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		scheme, _, _ := strings.Cut(s, "://")
		return scheme + "://REDACTED"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
