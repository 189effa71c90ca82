package ref

import (
	"encoding/binary"
	"math"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// isFloat: see kernels.DType.Float.
func isFloat(dt kernels.DType) bool { return dt.Float() }

// checkOut panics unless t is a type an op can store results in.
func checkOut(op, name string, t kernels.Tensor) {
	if !isFloat(t.DType) {
		shapePanic(op, "%s %v must be F32, F16 or BF16", name, t)
	}
}

// readRow dequantizes row r of t (whose bytes are data) into dst (t.Cols,).
func readRow(t kernels.Tensor, data []byte, r int, dst []float32) {
	rb := t.RowBytes()
	quant.DequantizeRow(t.DType, dst[:t.Cols], data[r*rb:(r+1)*rb])
}

// readRow64 is readRow widened to float64, which every op computes in.
func readRow64(t kernels.Tensor, data []byte, r int, tmp []float32, dst []float64) {
	readRow(t, data, r, tmp)
	for i, v := range tmp[:t.Cols] {
		dst[i] = float64(v)
	}
}

// readAll dequantizes every row of t: (t.Rows, t.Cols) in float64.
func readAll(t kernels.Tensor, data []byte) [][]float64 {
	tmp := make([]float32, t.Cols)
	out := make([][]float64, t.Rows)
	for r := range out {
		out[r] = make([]float64, t.Cols)
		readRow64(t, data, r, tmp, out[r])
	}
	return out
}

// writeRow stores src (t.Cols,) into row r of a float tensor t.
func writeRow(t kernels.Tensor, data []byte, r int, src []float64) {
	for c, v := range src[:t.Cols] {
		setElem(t, data, r, c, v)
	}
}

// setElem stores v at (r, c) of a float tensor t. The value is rounded to
// float32 first and then to t's type, as a float32 kernel would store it.
func setElem(t kernels.Tensor, data []byte, r, c int, v float64) {
	f := float32(v)
	switch t.DType {
	case kernels.F32:
		binary.LittleEndian.PutUint32(data[(r*t.Cols+c)*4:], math.Float32bits(f))
	case kernels.F16:
		binary.LittleEndian.PutUint16(data[(r*t.Cols+c)*2:], quant.F32ToF16(f))
	case kernels.BF16:
		binary.LittleEndian.PutUint16(data[(r*t.Cols+c)*2:], quant.F32ToBF16(f))
	default:
		panic("ref: store into non-float tensor " + t.String())
	}
}

// checkAlias panics when out overlaps the input in (kernels.CheckAlias).
func checkAlias(op, name string, out, in kernels.Tensor, allowSame bool) {
	if err := kernels.CheckAlias(out, in, name, allowSame); err != nil {
		panic("ref: " + op + ": " + err.Error())
	}
}
