//go:build cgo

package engine_test

import (
	_ "spillway/kernels/cpu"
	_ "spillway/kernels/cuda"
)
