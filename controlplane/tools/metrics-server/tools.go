//go:build tools

// Package tools pins metrics-server, which serves the resource metrics API (metrics.k8s.io) that
// HorizontalPodAutoscalers on CPU and `kubectl top` read, from the real node's kubelet.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
