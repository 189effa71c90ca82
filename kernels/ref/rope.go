package ref

import (
	"math"

	"spillway/kernels"
)

// RoPE rotates x (T, nHeads·HeadDim) in place: in every head, pair i of the
// first NDims dimensions turns by p.Theta(pos[t], i). RoPENorm pairs
// dimensions (2i, 2i+1), RoPENeoX pairs (i, i+NDims/2); dimensions past
// NDims pass through unchanged.
func (b *Backend) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	const op = "RoPE"
	checkOut(op, "x", x)
	checkRoPE(op, x, pos, p)
	xd := mustBytes(op, "x", x)
	half := p.NDims / 2
	theta := make([]float64, half) // (NDims/2,)
	tmp := make([]float32, x.Cols) // (nHeads·HeadDim,)
	row := make([]float64, x.Cols) // (nHeads·HeadDim,)
	for t := 0; t < x.Rows; t++ {
		for i := range theta {
			theta[i] = p.Theta(pos[t], i)
		}
		readRow64(x, xd, t, tmp, row)
		for h := 0; h < x.Cols; h += p.HeadDim {
			for i, th := range theta {
				i0, i1 := h+2*i, h+2*i+1
				if p.Style == kernels.RoPENeoX {
					i0, i1 = h+i, h+i+half
				}
				c, s := math.Cos(th), math.Sin(th)
				x0, x1 := row[i0], row[i1]
				row[i0] = x0*c - x1*s
				row[i1] = x0*s + x1*c
			}
		}
		writeRow(x, xd, t, row)
	}
}

// checkRoPE panics unless x, pos and p describe a rotation RoPE can do.
func checkRoPE(op string, x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	if err := p.CheckRoPE(x, pos); err != nil {
		shapePanic(op, "%v", err)
	}
}
