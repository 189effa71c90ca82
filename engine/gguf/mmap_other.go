//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// mapFile reads the whole file where mmap is not available.
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s is empty", path)
	}
	return data, func() error { return nil }, nil
}
