//go:build cgo

package engine_test

import (
	"spillway/engine"
	"spillway/engine/model"
	_ "spillway/kernels/cpu"
	"spillway/kernels/cuda"
)

// The CUDA backend reports device memory, so --gpu-memory-utilization
// sizes its KV pool (TestGPUMemoryUtilization runs that path on a stand-in).
var _ engine.DeviceMemory = (*cuda.Backend)(nil)

// It records decode steps as CUDA graphs (TestDecodeGraphs runs the engine's
// side of that on a stand-in).
var _ model.GraphCapturer = (*cuda.Backend)(nil)
