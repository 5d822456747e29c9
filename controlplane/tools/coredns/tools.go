//go:build tools

// Package tools pins CoreDNS, the local cluster's DNS (Service and pod names, as every real cluster has).
package tools

import _ "github.com/coredns/coredns"
