//go:build tools

// Package tools pins KServe's controller manager (the InferenceService controller), the anchor the operator's
// scale benchmark compares against (tests/bench/operator, docs/scale.md). Not part of `make tools`.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
