package cluster

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CreateNamespace creates a namespace named prefix plus a random suffix, with
// the given labels, and its `default` ServiceAccount (no controller-manager
// runs to create it, and the ServiceAccount admission plugin rejects Pods
// without it). It returns the namespace's name. Namespaces cannot really be
// deleted here (no namespace controller), so there is nothing to clean up.
func (c *Cluster) CreateNamespace(ctx context.Context, prefix string, labels map[string]string) (string, error) {
	prefix = strings.TrimSuffix(prefix, "-")
	if prefix == "" {
		prefix = "e2e"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels}}
	created, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create namespace %s-*: %w", prefix, err)
	}
	if err := c.createDefaultServiceAccount(ctx, created.Name); err != nil {
		return "", err
	}
	return created.Name, nil
}

func (c *Cluster) createDefaultServiceAccount(ctx context.Context, namespace string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	_, err := c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ServiceAccount %s/default: %w", namespace, err)
	}
	return nil
}
