package kernels

import "fmt"

// DType is the element type of a tensor. Its numeric values equal ggml's
// type ids (the ones stored in GGUF tensor tables), so a GGUF type converts
// with DType(t) and no lookup table can drift out of sync.
type DType uint32

// The weight and activation types Spillway knows. Block-quantized types
// store BlockSize() elements in BlockBytes() bytes.
const (
	F32  DType = 0
	F16  DType = 1
	Q4_0 DType = 2
	Q4_1 DType = 3
	Q5_0 DType = 6
	Q5_1 DType = 7
	Q8_0 DType = 8
	Q8_1 DType = 9
	Q2_K DType = 10
	Q3_K DType = 11
	Q4_K DType = 12
	Q5_K DType = 13
	Q6_K DType = 14
	Q8_K DType = 15
	BF16 DType = 30
)

// QK_K is the super-block size of the k-quants.
const QK_K = 256

type dtypeInfo struct {
	name       string
	blockSize  int // elements per block
	blockBytes int // bytes per block
}

var dtypes = map[DType]dtypeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 2 + 16},
	Q4_1: {"Q4_1", 32, 2 + 2 + 16},
	Q5_0: {"Q5_0", 32, 2 + 4 + 16},
	Q5_1: {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0: {"Q8_0", 32, 2 + 32},
	Q8_1: {"Q8_1", 32, 2 + 2 + 32},
	Q2_K: {"Q2_K", QK_K, QK_K/16 + QK_K/4 + 2 + 2},
	Q3_K: {"Q3_K", QK_K, QK_K/8 + QK_K/4 + 12 + 2},
	Q4_K: {"Q4_K", QK_K, 2 + 2 + 12 + QK_K/2},
	Q5_K: {"Q5_K", QK_K, 2 + 2 + 12 + QK_K/8 + QK_K/2},
	Q6_K: {"Q6_K", QK_K, QK_K/2 + QK_K/4 + QK_K/16 + 2},
	Q8_K: {"Q8_K", QK_K, 4 + QK_K + QK_K/16*2},
}

// Known reports whether Spillway has a layout for d.
func (d DType) Known() bool { _, ok := dtypes[d]; return ok }

// String returns ggml's name for the type ("Q4_K"), or "DType(N)".
func (d DType) String() string {
	if i, ok := dtypes[d]; ok {
		return i.name
	}
	return fmt.Sprintf("DType(%d)", uint32(d))
}

// BlockSize is the number of elements in one block (1 for plain floats).
func (d DType) BlockSize() int { return dtypes[d].blockSize }

// BlockBytes is the size of one block in bytes.
func (d DType) BlockBytes() int { return dtypes[d].blockBytes }

// Quantized reports whether d is block-quantized.
func (d DType) Quantized() bool { return d.BlockSize() > 1 }

// RowBytes is the byte size of a row of n elements. n must be a multiple of
// BlockSize(); CheckRow says whether it is.
func (d DType) RowBytes(n int) int { return n / d.BlockSize() * d.BlockBytes() }

// CheckRow returns an error naming the problem when a row of n elements
// cannot be stored in type d.
func (d DType) CheckRow(n int) error {
	if !d.Known() {
		return fmt.Errorf("unsupported tensor type %s", d)
	}
	if n <= 0 || n%d.BlockSize() != 0 {
		return fmt.Errorf("row length %d is not a positive multiple of the %s block size %d", n, d, d.BlockSize())
	}
	return nil
}

// ParseDType maps a case-insensitive ggml type name ("q4_k", "F16") to its DType.
func ParseDType(s string) (DType, error) {
	for d, i := range dtypes {
		if equalFold(i.name, s) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
