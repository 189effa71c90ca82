package ref

import (
	"fmt"
	"math"

	"spillway/kernels"
)

// StoreKV writes k, v (T, nKV·HeadDim) into slots[t] of layer's K and V,
// rounding to the cache type.
func (b *Backend) StoreKV(c *kernels.KVCache, layer int, k, v kernels.Tensor, slots []int32) {
	const op = "StoreKV"
	kc, vc := cacheLayer(op, c, layer)
	if k.Cols != kc.Cols || v.Cols != vc.Cols || v.Rows != k.Rows || len(slots) != k.Rows {
		shapePanic(op, "k %v, v %v, %d slots into cache rows of %d", k, v, len(slots), kc.Cols)
	}
	kd, vd := mustBytes(op, "k", k), mustBytes(op, "v", v)
	kcd, vcd := mustBytes(op, "cache K", kc), mustBytes(op, "cache V", vc)
	tmp := make([]float32, k.Cols) // (nKV·HeadDim,)
	row := make([]float64, k.Cols) // (nKV·HeadDim,)
	for t, s := range slots {
		if s < 0 || int(s) >= kc.Rows {
			panic(fmt.Sprintf("ref: %s: slot %d (row %d) outside the cache's %d slots", op, s, t, kc.Rows))
		}
		readRow64(k, kd, t, tmp, row)
		writeRow(kc, kcd, int(s), row)
		readRow64(v, vd, t, tmp, row)
		writeRow(vc, vcd, int(s), row)
	}
}

// cacheLayer returns layer's K and V tensors, panicking when they do not
// exist or disagree with the spec.
func cacheLayer(op string, c *kernels.KVCache, layer int) (k, v kernels.Tensor) {
	if c == nil || layer < 0 || layer >= len(c.K) || layer >= len(c.V) {
		panic(fmt.Sprintf("ref: %s: layer %d outside the KV cache", op, layer))
	}
	k, v = c.K[layer], c.V[layer]
	s := c.Spec
	w := s.NumKVHeads * s.HeadDim
	if k.Rows != s.Slots() || k.Cols != w || v.Rows != s.Slots() || v.Cols != w {
		shapePanic(op, "cache layer %d has K %v and V %v, spec says (%d, %d)", layer, k, v, s.Slots(), w)
	}
	return k, v
}

// Attention: out (T, nHeads·HeadDim) = softmax(q kᵀ·Scale + mask) v for
// every sequence of ab, reading keys and values through the block tables.
// Query j of sequence i (nq queries, context CtxLen[i]) sits at position
// p = CtxLen[i]-nq+j and sees positions [max(0, p-Window+1), p].
func (b *Backend) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, ab *kernels.AttnBatch) {
	const op = "Attention"
	kc, vc := cacheLayer(op, c, layer)
	checkOut(op, "out", out)
	checkAttention(op, out, q, c, ab)
	od, qd := mustBytes(op, "out", out), mustBytes(op, "q", q)
	kcd, vcd := mustBytes(op, "cache K", kc), mustBytes(op, "cache V", vc)
	checkAlias(op, "q", out, q, false)
	tmp := make([]float32, q.Cols)  // (nHeads·HeadDim,)
	qrow := make([]float64, q.Cols) // (nHeads·HeadDim,)
	orow := make([]float64, q.Cols) // (nHeads·HeadDim,)
	for i := 0; i < ab.NumSeqs(); i++ {
		ctx := int(ab.CtxLen[i])
		q0, q1 := int(ab.QStart[i]), int(ab.QStart[i+1])
		keys := gather(kc, kcd, ab.BlockTables[i], ctx, c.Spec.BlockSize) // (ctx, nKV·HeadDim)
		vals := gather(vc, vcd, ab.BlockTables[i], ctx, c.Spec.BlockSize) // (ctx, nKV·HeadDim)
		for r := q0; r < q1; r++ {
			p := ctx - (q1 - q0) + (r - q0)
			lo := 0
			if ab.Window > 0 {
				lo = max(0, p-ab.Window+1)
			}
			readRow64(q, qd, r, tmp, qrow)
			attendRow(orow, qrow, keys[lo:p+1], vals[lo:p+1], ab)
			writeRow(out, od, r, orow)
		}
	}
}

// checkAttention panics unless out, q, the cache and the batch agree.
func checkAttention(op string, out, q kernels.Tensor, c *kernels.KVCache, ab *kernels.AttnBatch) {
	if err := ab.CheckAttention(out, q, c); err != nil {
		shapePanic(op, "%v", err)
	}
}

// gather reads positions [0, ctx) of one sequence from the paged cache
// tensor t: position p lives in slot table[p/bs]·bs + p%bs.
func gather(t kernels.Tensor, data []byte, table []int32, ctx, bs int) [][]float64 {
	tmp := make([]float32, t.Cols)
	rows := make([][]float64, ctx) // (ctx, nKV·HeadDim)
	for p := range rows {
		rows[p] = make([]float64, t.Cols)
		readRow64(t, data, int(table[p/bs])*bs+p%bs, tmp, rows[p])
	}
	return rows
}

// attendRow computes one query row: for each head h (kv head h/group),
// out_h = Σ_j softmax_j(q_h·k_j·Scale) v_j over the visible keys and vals.
func attendRow(out, q []float64, keys, vals [][]float64, ab *kernels.AttnBatch) {
	hd := ab.HeadDim
	group := ab.NumHeads / ab.NumKVHeads
	w := make([]float64, len(keys)) // (visible,)
	for h := 0; h < ab.NumHeads; h++ {
		qh := q[h*hd : (h+1)*hd]
		kv := (h / group) * hd
		m := math.Inf(-1)
		for j, k := range keys {
			s := 0.0
			for d, qv := range qh {
				s += qv * k[kv+d]
			}
			w[j] = s * float64(ab.Scale)
			m = max(m, w[j])
		}
		sum := 0.0
		for j := range w {
			w[j] = math.Exp(w[j] - m)
			sum += w[j]
		}
		oh := out[h*hd : (h+1)*hd]
		clear(oh)
		for j, v := range vals {
			for d := range oh {
				oh[d] += w[j] / sum * v[kv+d]
			}
		}
	}
}
