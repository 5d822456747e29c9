"""The kubeflow training backend: the one module family that talks to the Kubeflow Pipelines API."""
