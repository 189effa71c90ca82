package ref

import (
	"fmt"
	"math"

	"spillway/kernels"
)

// Embed: out (T, d) = dequant(table (V, d))[ids[t]].
func (b *Backend) Embed(out, table kernels.Tensor, ids []int32) {
	const op = "Embed"
	checkOut(op, "out", out)
	if out.Rows != len(ids) || out.Cols != table.Cols {
		shapePanic(op, "out %v, table %v, %d ids", out, table, len(ids))
	}
	od, td := mustBytes(op, "out", out), mustBytes(op, "table", table)
	checkAlias(op, "table", out, table, false)
	tmp := make([]float32, table.Cols) // (d,)
	row := make([]float64, table.Cols) // (d,)
	for t, id := range ids {
		if id < 0 || int(id) >= table.Rows {
			panic(fmt.Sprintf("ref: %s: id %d (row %d) outside table %v", op, id, t, table))
		}
		readRow64(table, td, int(id), tmp, row)
		writeRow(out, od, t, row)
	}
}

// RMSNorm: out (T, d) = x (T, d) / sqrt(mean(x²) + eps) * w (1, d).
// out may alias x.
func (b *Backend) RMSNorm(out, x, w kernels.Tensor, eps float32) {
	const op = "RMSNorm"
	checkOut(op, "out", out)
	if out.Rows != x.Rows || out.Cols != x.Cols || w.Rows != 1 || w.Cols != x.Cols {
		shapePanic(op, "out %v, x %v, w %v", out, x, w)
	}
	od, xd, wd := mustBytes(op, "out", out), mustBytes(op, "x", x), mustBytes(op, "w", w)
	checkAlias(op, "x", out, x, true)
	checkAlias(op, "w", out, w, false)
	d := x.Cols
	tmp := make([]float32, d) // (d,)
	ws := make([]float64, d)  // (d,)
	xs := make([]float64, d)  // (d,)
	readRow64(w, wd, 0, tmp, ws)
	for t := 0; t < x.Rows; t++ {
		readRow64(x, xd, t, tmp, xs)
		ss := 0.0
		for _, v := range xs {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(d)+float64(eps))
		for i := range xs {
			xs[i] *= inv * ws[i]
		}
		writeRow(out, od, t, xs)
	}
}

// Add: out (T, d) = a (T, d) + b (T, d), or b (1, d) broadcast over rows.
// out may alias a.
func (b *Backend) Add(out, a, bt kernels.Tensor) {
	const op = "Add"
	checkOut(op, "out", out)
	if out.Rows != a.Rows || out.Cols != a.Cols || bt.Cols != a.Cols || (bt.Rows != a.Rows && bt.Rows != 1) {
		shapePanic(op, "out %v, a %v, b %v", out, a, bt)
	}
	od, ad, bd := mustBytes(op, "out", out), mustBytes(op, "a", a), mustBytes(op, "b", bt)
	checkAlias(op, "a", out, a, true)
	checkAlias(op, "b", out, bt, false)
	tmp := make([]float32, a.Cols) // (d,)
	as := make([]float64, a.Cols)  // (d,)
	bs := make([]float64, a.Cols)  // (d,)
	for t := 0; t < a.Rows; t++ {
		readRow64(a, ad, t, tmp, as)
		if t == 0 || bt.Rows > 1 {
			readRow64(bt, bd, t%bt.Rows, tmp, bs)
		}
		for i := range as {
			as[i] += bs[i]
		}
		writeRow(out, od, t, as)
	}
}

// SiLUMul: out (T, d) = silu(gate) * up, silu(g) = g / (1 + e^-g).
// out may alias gate.
func (b *Backend) SiLUMul(out, gate, up kernels.Tensor) {
	const op = "SiLUMul"
	checkOut(op, "out", out)
	if out.Rows != gate.Rows || out.Cols != gate.Cols || up.Rows != gate.Rows || up.Cols != gate.Cols {
		shapePanic(op, "out %v, gate %v, up %v", out, gate, up)
	}
	od, gd, ud := mustBytes(op, "out", out), mustBytes(op, "gate", gate), mustBytes(op, "up", up)
	checkAlias(op, "gate", out, gate, true)
	checkAlias(op, "up", out, up, false)
	tmp := make([]float32, gate.Cols) // (d,)
	gs := make([]float64, gate.Cols)  // (d,)
	us := make([]float64, gate.Cols)  // (d,)
	for t := 0; t < gate.Rows; t++ {
		readRow64(gate, gd, t, tmp, gs)
		readRow64(up, ud, t, tmp, us)
		for i, g := range gs {
			gs[i] = g / (1 + math.Exp(-g)) * us[i]
		}
		writeRow(out, od, t, gs)
	}
}
