package vaultauth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
)

// AnnotationPrefix marks the service-account annotations that
// use_annotations_as_alias_metadata copies, without the prefix, into a
// login's token metadata (Vault: into its entity alias metadata).
const AnnotationPrefix = "vault.hashicorp.com/alias-metadata-"

// Bounds on what annotations add to a token's metadata (Kubernetes allows
// 256 KiB of annotations; a token's metadata is stored with it).
const (
	MaxAliasMetadataKeys  = 64
	MaxAliasMetadataBytes = 16 << 10
)

// reservedMetadataKeys are the token metadata keys a login sets itself:
// Vault's four service-account keys, which it refuses in annotations too,
// and Gatehouse's own (role, mount, policies, pod name and uid).
var reservedMetadataKeys = []string{
	kubeauth.MetaUID, kubeauth.MetaName, kubeauth.MetaNamespace, MetaSecretName,
	MetaRole, MetaMount, MetaPolicies, kubeauth.MetaPodName, kubeauth.MetaPodUID,
}

// aliasMetadata reads the logged-in service account's annotations and
// returns those prefixed AnnotationPrefix, without it. A reserved key is
// Vault's 400; too many or too large is a 400 too.
func (s *Service) aliasMetadata(ctx context.Context, c kubeauth.Cluster, jwt kubeauth.JWT, sa kubeauth.ServiceAccount) (map[string]string, error) {
	annotations, err := s.kube.ServiceAccountAnnotations(ctx, c, jwt, sa.Namespace, sa.Name)
	if err != nil {
		e := errs.As(err)
		return nil, &errs.Error{Code: e.Code, Err: err,
			Message: "use_annotations_as_alias_metadata: reading the service account's annotations failed: " + e.Message}
	}
	out := map[string]string{}
	var reserved []string
	size := 0
	for k, v := range annotations {
		key, ok := strings.CutPrefix(k, AnnotationPrefix)
		if !ok {
			continue
		}
		if slices.Contains(reservedMetadataKeys, key) {
			reserved = append(reserved, key)
			continue
		}
		out[key] = v
		size += len(key) + len(v)
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		return nil, errs.New(errs.BadRequest, "entity alias metadata keys for only internal use found from the client token's associated service account annotations: keys=%s", fmt.Sprintf("%+q", reserved))
	}
	if len(out) > MaxAliasMetadataKeys || size > MaxAliasMetadataBytes {
		return nil, errs.New(errs.BadRequest, "the service account's %s annotations are too many or too large for token metadata: at most %d keys and %d bytes in all (it has %d keys, %d bytes)",
			AnnotationPrefix+"*", MaxAliasMetadataKeys, MaxAliasMetadataBytes, len(out), size)
	}
	return out, nil
}
