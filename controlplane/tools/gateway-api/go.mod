// The Gateway API CRDs (standard channel) the local cluster installs: build-tools.sh gateway-api-crds.
module sextant.local/controlplane/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.3
