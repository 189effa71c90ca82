//go:build cgo

package main

import (
	_ "spillway/kernels/cpu"
	_ "spillway/kernels/cuda"
)
