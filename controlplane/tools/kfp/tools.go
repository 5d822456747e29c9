//go:build tools

// Package tools pins the Kubeflow Pipelines backend (API server, persistence agent) built for the tests.
package tools

import (
	_ "github.com/kubeflow/pipelines/backend/src/apiserver"
	_ "github.com/kubeflow/pipelines/backend/src/agent/persistence"
)
