// The Prometheus Operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) the chart's monitoring objects are
// validated against: build-tools.sh prometheus-operator-crds.
module sextant.local/controlplane/prometheus-operator-crds

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
