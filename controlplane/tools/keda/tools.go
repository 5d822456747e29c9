//go:build tools

// Package tools pins KEDA: its operator (ScaledObjects to HPAs, the Prometheus scaler) and its metrics adapter
// (the external metrics API the HPA controller reads), for the InferenceService autoscaling tests.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
