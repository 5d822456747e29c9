//go:build tools

// Package tools pins what executes a Kubeflow Pipelines run on the real node: Argo's workflow controller and
// executor, KFP's driver and launcher.
package tools

import (
	_ "github.com/argoproj/argo-workflows/v3/cmd/argoexec"
	_ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
	_ "github.com/kubeflow/pipelines/backend/src/v2/cmd/driver"
	_ "github.com/kubeflow/pipelines/backend/src/v2/cmd/launcher-v2"
)
