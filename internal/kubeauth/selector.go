package kubeauth

import (
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// MaxSelectorLen bounds a namespace selector as written.
const MaxSelectorLen = 4096

// ParseNamespaceSelector reads a namespace label selector written in JSON
// or YAML (Vault's bound_service_account_namespace_selector), e.g.
// {"matchLabels":{"team":"a"}} or "matchLabels:\n  team: a". As in Vault
// only matchLabels is supported. Stricter than Vault: unknown fields (a
// misspelt "matchLabel" would select every namespace) and a selector that
// selects every namespace are refused.
func ParseNamespaceSelector(text string) (labels.Selector, error) {
	if len(text) > MaxSelectorLen {
		return nil, fmt.Errorf("must be at most %d characters", MaxSelectorLen)
	}
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("is empty")
	}
	var ls metav1.LabelSelector
	if err := yaml.UnmarshalStrict([]byte(text), &ls); err != nil {
		return nil, fmt.Errorf("is not a label selector in JSON or YAML (%s)", clip(lastCause(err), 200))
	}
	if len(ls.MatchExpressions) > 0 {
		return nil, errors.New("uses matchExpressions, which are not supported: use matchLabels")
	}
	if len(ls.MatchLabels) == 0 {
		return nil, errors.New(`has no matchLabels, so it would select every namespace (use "*" in the namespaces list for that)`)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("is not a valid label selector (%s)", clip(err.Error(), 200))
	}
	return sel, nil
}
