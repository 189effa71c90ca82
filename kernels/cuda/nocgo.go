//go:build !cgo

package cuda

import (
	"errors"

	"spillway/kernels"
)

// Without cgo there is no way to call the driver; the name stays
// registered so that --device cuda says why it cannot run.
func init() {
	kernels.Register("cuda", func(kernels.Options) (kernels.Backend, error) {
		return nil, errors.New("cuda: built without cgo (CGO_ENABLED=0): the CUDA backend needs a C compiler at build time")
	})
}
