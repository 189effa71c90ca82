//go:build cgo

package cpu

import (
	"fmt"
	"runtime"
	"unsafe"

	"spillway/kernels"
)

// run executes one C op under the backend's lock, keeping the Go memory
// it reads (aliased host tensors, index slices) reachable for the call and
// recording a scratch failure for Sync.
func (b *Backend) run(op string, f func() error, keep ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		panic("cpu: " + op + " after Close")
	}
	if err := f(); err != nil && b.err == nil {
		b.err = fmt.Errorf("%s: %w", op, err)
	}
	runtime.KeepAlive(keep)
}

// Embed: out (T, d) = dequant(table (V, d))[ids[t]].
func (b *Backend) Embed(out, table kernels.Tensor, ids []int32) {
	const op = "Embed"
	checkFloat(op, "out", out)
	if out.Rows != len(ids) || out.Cols != table.Cols {
		shapePanic(op, "out %v, table %v, %d ids", out, table, len(ids))
	}
	ov, tv := mustView(op, "out", out), mustView(op, "table", table)
	checkAlias(op, "table", out, table, false)
	for t, id := range ids {
		if id < 0 || int(id) >= table.Rows {
			panic(fmt.Sprintf("cpu: %s: id %d (row %d) outside table %v", op, id, t, table))
		}
	}
	if len(ids) == 0 || out.Cols == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.embed(ov, tv, ids) }, out.Buf, table.Buf, ids)
}

// RMSNorm: out (T, d) = x (T, d) / sqrt(mean(x²) + eps) * w (1, d). out may
// alias x.
func (b *Backend) RMSNorm(out, x, w kernels.Tensor, eps float32) {
	const op = "RMSNorm"
	checkFloat(op, "out", out)
	checkFloat(op, "x", x)
	checkFloat(op, "w", w)
	if out.Rows != x.Rows || out.Cols != x.Cols || w.Rows != 1 || w.Cols != x.Cols {
		shapePanic(op, "out %v, x %v, w %v", out, x, w)
	}
	ov, xv, wv := mustView(op, "out", out), mustView(op, "x", x), mustView(op, "w", w)
	checkAlias(op, "x", out, x, true)
	checkAlias(op, "w", out, w, false)
	if x.Rows == 0 || x.Cols == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.rmsnorm(ov, xv, wv, eps) }, out.Buf, x.Buf, w.Buf)
}

// MatMul: out (T, n) = x (T, k) @ w (n, k)ᵀ for every weight type of
// weightTypes; quantized w meets x quantized to 8 bits once per call.
func (b *Backend) MatMul(out, x, w kernels.Tensor) {
	b.MatMulN([]kernels.Tensor{out}, x, []kernels.Tensor{w})
}

// MatMulN: outs[i] = x @ ws[i]ᵀ (kernels.MultiMatMuler). Weights of one
// packed type share one activation quantization and one pass of the pool;
// anything else runs as separate MatMuls.
func (b *Backend) MatMulN(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	const op = "MatMul"
	if len(outs) != len(ws) {
		shapePanic(op, "%d outputs for %d weights", len(outs), len(ws))
	}
	checkFloat(op, "x", x)
	xv := mustView(op, "x", x)
	ovs, wvs := make([]view, len(ws)), make([]view, len(ws))
	for i, w := range ws {
		out := outs[i]
		checkFloat(op, "out", out)
		if !weightTypes[w.DType] {
			shapePanic(op, "w %v: %s is not a weight type", w, w.DType)
		}
		if x.Cols != w.Cols || out.Rows != x.Rows || out.Cols != w.Rows {
			shapePanic(op, "out %v = x %v @ w %vᵀ", out, x, w)
		}
		ovs[i], wvs[i] = mustView(op, "out", out), mustView(op, "w", w)
		checkAlias(op, "x", out, x, false)
		checkAlias(op, "w", out, w, false)
		for j := range i {
			checkAlias(op, "another output", out, outs[j], false)
		}
	}
	if x.Rows == 0 {
		return
	}
	keep := []any{x.Buf}
	for i := range ws {
		keep = append(keep, outs[i].Buf, ws[i].Buf)
	}
	b.run(op, func() error { return b.matmulLocked(ovs, xv, ws, wvs) }, keep...)
}

// matmulLocked runs the packed weights of the first weight's type together
// and every other weight on its own. b.mu is held.
func (b *Backend) matmulLocked(ovs []view, xv view, ws []kernels.Tensor, wvs []view) error {
	var po, pw []view
	var pp []unsafe.Pointer
	for i, w := range ws {
		if w.Rows == 0 {
			continue
		}
		packed, err := b.twinLocked(w, wvs[i])
		if err != nil {
			return err
		}
		if packed != nil && xv.rows < b.ctx.packMinT(w.DType) {
			packed = nil
		}
		if packed == nil || len(pp) == maxMulti || (len(pw) > 0 && pw[0].dt != w.DType) {
			if err := b.ctx.matmul(ovs[i], xv, wvs[i], packed); err != nil {
				return err
			}
			continue
		}
		po, pw, pp = append(po, ovs[i]), append(pw, wvs[i]), append(pp, packed)
	}
	if len(pp) == 0 {
		return nil
	}
	return b.ctx.matmulPacked(po, xv, pw, pp)
}

// Add: out (T, d) = a (T, d) + b (T, d) or b (1, d) broadcast. out may
// alias a.
func (b *Backend) Add(out, a, bt kernels.Tensor) {
	const op = "Add"
	checkFloat(op, "out", out)
	checkFloat(op, "a", a)
	checkFloat(op, "b", bt)
	if out.Rows != a.Rows || out.Cols != a.Cols || bt.Cols != a.Cols || (bt.Rows != a.Rows && bt.Rows != 1) {
		shapePanic(op, "out %v, a %v, b %v", out, a, bt)
	}
	ov, av, bv := mustView(op, "out", out), mustView(op, "a", a), mustView(op, "b", bt)
	checkAlias(op, "a", out, a, true)
	checkAlias(op, "b", out, bt, false)
	if a.Rows == 0 || a.Cols == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.add(ov, av, bv) }, out.Buf, a.Buf, bt.Buf)
}

// SiLUMul: out (T, d) = silu(gate) * up. out may alias gate.
func (b *Backend) SiLUMul(out, gate, up kernels.Tensor) {
	const op = "SiLUMul"
	checkFloat(op, "out", out)
	checkFloat(op, "gate", gate)
	checkFloat(op, "up", up)
	if out.Rows != gate.Rows || out.Cols != gate.Cols || up.Rows != gate.Rows || up.Cols != gate.Cols {
		shapePanic(op, "out %v, gate %v, up %v", out, gate, up)
	}
	ov, gv, uv := mustView(op, "out", out), mustView(op, "gate", gate), mustView(op, "up", up)
	checkAlias(op, "gate", out, gate, true)
	checkAlias(op, "up", out, up, false)
	if gate.Rows == 0 || gate.Cols == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.silumul(ov, gv, uv) }, out.Buf, gate.Buf, up.Buf)
}

// RoPE rotates x (T, nHeads·HeadDim) in place; see kernels.RoPEParams.
func (b *Backend) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	const op = "RoPE"
	checkFloat(op, "x", x)
	checkRoPE(op, x, pos, p)
	xv := mustView(op, "x", x)
	if x.Rows == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.rope(xv, pos, p) }, x.Buf, pos, p.FreqFactors)
}

// StoreKV writes k, v (T, nKV·HeadDim) into cache slots[t] of layer,
// rounding to the cache type.
func (b *Backend) StoreKV(c *kernels.KVCache, layer int, k, v kernels.Tensor, slots []int32) {
	const op = "StoreKV"
	kc, vc := cacheLayer(op, c, layer)
	checkFloat(op, "k", k)
	checkFloat(op, "v", v)
	if k.Cols != kc.Cols || v.Cols != vc.Cols || v.Rows != k.Rows || len(slots) != k.Rows {
		shapePanic(op, "k %v, v %v, %d slots into cache rows of %d", k, v, len(slots), kc.Cols)
	}
	kcv, vcv := mustView(op, "cache K", kc), mustView(op, "cache V", vc)
	kv, vv := mustView(op, "k", k), mustView(op, "v", v)
	for t, s := range slots {
		if s < 0 || int(s) >= kc.Rows {
			panic(fmt.Sprintf("cpu: %s: slot %d (row %d) outside the cache's %d slots", op, s, t, kc.Rows))
		}
	}
	if k.Rows == 0 {
		return
	}
	b.run(op, func() error { return b.ctx.storekv(kcv, vcv, kv, vv, slots) }, k.Buf, v.Buf, slots)
}

// Attention: out (T, nHeads·HeadDim) = softmax(q kᵀ·Scale + mask) v over
// the paged cache for every sequence of ab; see kernels.AttnBatch.
func (b *Backend) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, ab *kernels.AttnBatch) {
	const op = "Attention"
	kc, vc := cacheLayer(op, c, layer)
	checkFloat(op, "out", out)
	checkFloat(op, "q", q)
	checkAttention(op, out, q, c, ab)
	ov, qv := mustView(op, "out", out), mustView(op, "q", q)
	kcv, vcv := mustView(op, "cache K", kc), mustView(op, "cache V", vc)
	checkAlias(op, "q", out, q, false)
	if q.Rows == 0 {
		return
	}
	a := &attnArgs{qstart: ab.QStart, ctxlen: ab.CtxLen, b: ab, blockSize: c.Spec.BlockSize}
	a.toff = make([]int32, ab.NumSeqs())
	for i, t := range ab.BlockTables {
		a.toff[i] = int32(len(a.tables))
		need := (int(ab.CtxLen[i]) + c.Spec.BlockSize - 1) / c.Spec.BlockSize
		a.tables = append(a.tables, t[:need]...)
	}
	if len(a.tables) == 0 {
		a.tables = []int32{0} // keep the pointer valid; no sequence reads it
	}
	b.run(op, func() error { return b.ctx.attention(ov, qv, kcv, vcv, a) }, out.Buf, q.Buf, a)
}
