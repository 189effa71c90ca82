package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"spillway/kernels"
)

// CheckRow returns an error naming the problem when n elements of type dt
// cannot live in nbytes bytes: an unknown type, n not a multiple of the
// block size, or a byte count that is not dt.RowBytes(n). n = 0 with
// nbytes = 0 is an empty row and allowed.
func CheckRow(dt kernels.DType, n, nbytes int) error {
	if err := checkLength(dt, n); err != nil {
		return err
	}
	if want := dt.RowBytes(n); nbytes != want {
		return fmt.Errorf("a %s row of %d elements takes %d bytes, got %d", dt, n, want, nbytes)
	}
	return nil
}

// checkLength is CheckRow without the byte count.
func checkLength(dt kernels.DType, n int) error {
	if !dt.Known() {
		return fmt.Errorf("unsupported tensor type %s", dt)
	}
	if n < 0 || n%dt.BlockSize() != 0 {
		return fmt.Errorf("row length %d is not a multiple of the %s block size %d", n, dt, dt.BlockSize())
	}
	return nil
}

// DequantizeRow converts one row: dst (n,) = src (dt.RowBytes(n) bytes).
// It is bit-exact with ggml's to_float for every type. Any byte content is
// accepted (NaN and Inf scales come out as NaN and Inf); a length that does
// not fit the type is a programming error and panics with CheckRow's
// message, like an out-of-range slice would.
func DequantizeRow(dt kernels.DType, dst []float32, src []byte) {
	if err := CheckRow(dt, len(dst), len(src)); err != nil {
		panic("quant: DequantizeRow: " + err.Error())
	}
	switch dt {
	case kernels.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case kernels.F16:
		for i := range dst {
			h := src[2*i : 2*i+2 : 2*i+2]
			dst[i] = f16Table[uint16(h[0])|uint16(h[1])<<8]
		}
	case kernels.BF16:
		for i := range dst {
			h := src[2*i : 2*i+2 : 2*i+2]
			dst[i] = BF16ToF32(uint16(h[0]) | uint16(h[1])<<8)
		}
	default:
		blockDequantizers[dt](dst, src)
	}
}

// QuantizeRow converts one row: dst (dt.RowBytes(n) bytes) = quantize(src
// (n,)). Block types use ggml's reference quantizers (quantize_row_*_ref:
// the same scale searches and rounding), so the bytes match what
// llama-quantize writes without an importance matrix, up to the float
// contraction a C compiler may apply. Lengths that do not fit the type
// panic, as in DequantizeRow.
func QuantizeRow(dt kernels.DType, dst []byte, src []float32) {
	if err := CheckRow(dt, len(src), len(dst)); err != nil {
		panic("quant: QuantizeRow: " + err.Error())
	}
	switch dt {
	case kernels.F32:
		for i, f := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
		}
	case kernels.F16:
		for i, f := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(f))
		}
	case kernels.BF16:
		for i, f := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(f))
		}
	default:
		blockQuantizers[dt](dst, src)
	}
}

// VecDotType is the activation type ggml's CPU matmul quantizes the input
// vector to before a dot product with weights of type w: Q8_0 for Q4_0,
// Q5_0 and Q8_0, Q8_1 for the "_1" types (their dot product needs the
// block sum s), Q8_K for the k-quants, and the weight's own type for the
// float types (F32 activations are converted to F16/BF16 first).
func VecDotType(w kernels.DType) kernels.DType {
	switch w {
	case kernels.Q4_0, kernels.Q5_0, kernels.Q8_0:
		return kernels.Q8_0
	case kernels.Q4_1, kernels.Q5_1, kernels.Q8_1:
		return kernels.Q8_1
	case kernels.Q2_K, kernels.Q3_K, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K, kernels.Q8_K:
		return kernels.Q8_K
	}
	return w
}

// Every block type, both directions. Each function walks whole blocks:
// dst and src have already been checked against each other.
var (
	blockDequantizers = map[kernels.DType]func(dst []float32, src []byte){
		kernels.Q4_0: dequantQ4_0, kernels.Q4_1: dequantQ4_1,
		kernels.Q5_0: dequantQ5_0, kernels.Q5_1: dequantQ5_1,
		kernels.Q8_0: dequantQ8_0, kernels.Q8_1: dequantQ8_1,
		kernels.Q2_K: dequantQ2K, kernels.Q3_K: dequantQ3K,
		kernels.Q4_K: dequantQ4K, kernels.Q5_K: dequantQ5K,
		kernels.Q6_K: dequantQ6K, kernels.Q8_K: dequantQ8K,
	}
	blockQuantizers = map[kernels.DType]func(dst []byte, src []float32){
		kernels.Q4_0: quantQ4_0, kernels.Q4_1: quantQ4_1,
		kernels.Q5_0: quantQ5_0, kernels.Q5_1: quantQ5_1,
		kernels.Q8_0: quantQ8_0, kernels.Q8_1: quantQ8_1,
		kernels.Q2_K: quantQ2K, kernels.Q3_K: quantQ3K,
		kernels.Q4_K: quantQ4K, kernels.Q5_K: quantQ5K,
		kernels.Q6_K: quantQ6K, kernels.Q8_K: quantQ8K,
	}
)

// f16At reads the little-endian half at b[0:2] as a float32.
func f16At(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// putF16 stores f rounded to a half at b[0:2] and returns the value that
// was stored, which is what dequantization will see.
func putF16(b []byte, f float32) float32 {
	h := F32ToF16(f)
	binary.LittleEndian.PutUint16(b, h)
	return f16Table[h]
}

// nearestInt is ggml's nearest_int: adding 1.5·2^23 in float32 leaves the
// integer in the low mantissa bits, rounded half to even. The same bit
// trick is kept (rather than math.RoundToEven) so inputs beyond ±2^22,
// which ggml only guards with an assert, land where ggml's do. Callers pass
// products (nearestInt(iscale*x)); the float32 conversion keeps the
// inlined product from fusing with the addition.
func nearestInt(f float32) int {
	v := float32(f) + 12582912
	i := int32(math.Float32bits(v))
	return int(i&0x007fffff - 0x00400000)
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// clampInt limits v to [lo, hi].
func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }
