//go:build tools

// Package tools pins the commands this wrapper module builds, so `go mod tidy` keeps them.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
