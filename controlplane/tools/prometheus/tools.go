//go:build tools

// Package tools pins Prometheus and promtool: the monitoring tests scrape the model servers on the real node
// with a real Prometheus, and check and unit-test the chart's alerting rules with promtool.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
