package cuda

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
)

// The directory always holds README.md, so the pattern matches in a
// checkout where `make cuda` never ran; spillway.fatbin joins it when it did.
//
//go:embed fatbin
var fatbinFS embed.FS

const fatbinPath = "fatbin/spillway.fatbin"

var errNoKernels = errors.New("built without kernels: run make cuda")

// fatbinMagic starts every CUDA fat binary (a little-endian uint32).
const fatbinMagic = 0xBA55ED50

// kernelImage returns the embedded fatbin, or errNoKernels when the build
// had none, or an error naming what is wrong with it.
func kernelImage(fsys fs.FS) ([]byte, error) {
	b, err := fs.ReadFile(fsys, fatbinPath)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return nil, errNoKernels
	}
	if err != nil {
		return nil, fmt.Errorf("reading the embedded kernels: %w", err)
	}
	if len(b) < 16 || binary.LittleEndian.Uint32(b) != fatbinMagic {
		return nil, fmt.Errorf("embedded %s is not a CUDA fatbin (%d bytes): rebuild with make cuda", fatbinPath, len(b))
	}
	return b, nil
}

// HasKernels reports whether this binary embeds compiled kernels.
func HasKernels() bool {
	_, err := kernelImage(fatbinFS)
	return err == nil
}
