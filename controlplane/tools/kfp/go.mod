module sextant.local/controlplane/kfp

go 1.24.2

// Kubeflow Pipelines 2.14.3 (the repository's tags have no leading v, so the proxy serves it by commit).
require github.com/kubeflow/pipelines v0.0.0-20250902140602-fc3214d4b4d3

// The two generated protobuf submodules at the versions the proxy serves predate 2.14.3 (no
// pipelinespec.WorkspaceConfig); build-tools.sh regenerates them under gen/ from the 2.14.3 PyPI wheels'
// descriptors (descriptor_set.py), on top of these base versions.
require (
	github.com/kubeflow/pipelines/api v0.0.0-20250102152816-873e9dedd766
	github.com/kubeflow/pipelines/kubernetes_platform v0.0.0-20240725205754-d911c8b73b49
)

replace (
	github.com/kubeflow/pipelines/api => ./gen/api
	github.com/kubeflow/pipelines/kubernetes_platform => ./gen/kubernetes_platform
)
