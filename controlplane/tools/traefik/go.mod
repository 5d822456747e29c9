// Traefik Proxy, the Gateway API implementation of the local cluster (docs/serving.md). Not built with
// `go build` from here: build-tools.sh builds it inside a patched copy of this module (see build_traefik).
module sextant.local/controlplane/traefik

go 1.26.0

require github.com/traefik/traefik/v3 v3.7.13
