//go:build cgo

package cuda

import (
	"fmt"
	"math"

	"spillway/kernels"
)

// Launch shapes of the element-wise kernels.
const (
	ewThreads  = 256
	rowThreads = 256 // Embed: one block per row
)

// launch runs kernel name; a failure is kept for Sync.
func (b *Backend) launch(name string, grid, block [3]int, smem int, a *argv) {
	f, ok := b.g.fns[name]
	if !ok {
		b.fail(fmt.Errorf("kernel %s not loaded", name))
		return
	}
	if err := b.g.launch(f, grid, block, smem, a); err != nil {
		b.fail(fmt.Errorf("%s: %w", name, err))
	}
}

// launchFlat runs a grid-stride kernel over n elements.
func (b *Backend) launchFlat(name string, n int64, a *argv) {
	if n == 0 {
		return
	}
	b.launch(name, [3]int{gridFor(n, ewThreads, b.g.info.sms), 1, 1}, [3]int{ewThreads, 1, 1}, 0, a)
}

// Embed: out (T, d) = dequant(table (V, d))[ids[t]].
func (b *Backend) Embed(out, table kernels.Tensor, ids []int32) {
	const op = "Embed"
	float(op, "out", out)
	weight(op, "table", table)
	if out.Rows != len(ids) || out.Cols != table.Cols {
		shapePanic(op, "out %v, table %v, %d ids", out, table, len(ids))
	}
	po, pt := b.ptr(op, "out", out), b.ptr(op, "table", table)
	checkAlias(op, "table", out, table, false)
	checkAlign(op, "table", table, pt)
	if len(ids) == 0 {
		return
	}
	rows := table.Rows
	dids := b.stage(stIDs, 4*len(ids), func(dst []byte) error {
		if len(dst) != 4*len(ids) {
			return fmt.Errorf("%s: %d ids, staged %d", op, len(ids), len(dst)/4)
		}
		for t, id := range ids {
			if id < 0 || int(id) >= rows {
				return fmt.Errorf("%s: id %d (row %d) outside table %v", op, id, t, table)
			}
		}
		putInt32s(dst, ids)
		return nil
	})
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(pt).i32(int(table.DType)).ptr(dids).i32(table.Cols)
	b.launch("sw_embed", [3]int{len(ids), 1, 1}, [3]int{rowThreads, 1, 1}, 0, &a)
	written(out)
}

// RMSNorm: out (T, d) = x (T, d) / sqrt(mean(x²) + eps) · w (1, d); out
// may alias x. Decode-sized outputs are also quantized for the MatMul that
// follows (see q8Out).
func (b *Backend) RMSNorm(out, x, w kernels.Tensor, eps float32) {
	b.rmsnorm("RMSNorm", out, x, nil, w, eps)
}

// rmsnorm runs RMSNorm, or AddRMSNorm when r is set.
func (b *Backend) rmsnorm(op string, out, x kernels.Tensor, r *kernels.Tensor, w kernels.Tensor, eps float32) {
	float(op, "out", out)
	float(op, "x", x)
	float(op, "w", w)
	if out.Rows != x.Rows || out.Cols != x.Cols || w.Rows != 1 || w.Cols != x.Cols {
		shapePanic(op, "out %v, x %v, w %v", out, x, w)
	}
	po, px, pw := b.ptr(op, "out", out), b.ptr(op, "x", x), b.ptr(op, "w", w)
	var pr uint64
	rdt := 0
	if r != nil {
		float(op, "r", *r)
		if r.Rows != x.Rows || r.Cols != x.Cols {
			shapePanic(op, "x %v, r %v", x, *r)
		}
		pr, rdt = b.ptr(op, "r", *r), int(r.DType)
		checkAlias(op, "x", out, x, false)
		checkAlias(op, "r", out, *r, false)
		checkAlias(op, "r", x, *r, false)
	} else {
		checkAlias(op, "x", out, x, true)
	}
	checkAlias(op, "w", out, w, false)
	if x.Rows == 0 {
		return
	}
	qx, ds, q8 := b.q8Out(out)
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(px).i32(int(x.DType)).ptr(pr).i32(rdt).ptr(pw).i32(int(w.DType))
	a.i32(x.Cols).f32(eps).ptr(qx).ptr(ds)
	b.launch("sw_rmsnorm", [3]int{x.Rows, 1, 1}, [3]int{normThreads(x.Cols), 1, 1}, 0, &a)
	if r != nil {
		written(x)
	}
	written(out)
	if q8 {
		b.q8 = q8Key(out)
	}
}

// normThreads is RMSNorm's block size for rows of d: eight elements a
// thread where whole warps take the row exactly (d a multiple of 256 up to
// 8192: the 16-byte loads of rms_row8 in norm.cu), else about four (whole
// warps, 64 to 1024), so that a row's loads are in flight together.
func normThreads(d int) int {
	if d%256 == 0 && d <= 8*1024 {
		return d / 8
	}
	return min(1024, max(64, (d/4+31)&^31))
}

// Add: out (T, d) = a (T, d) + b (T, d), or b (1, d) broadcast; out may
// alias a.
func (b *Backend) Add(out, x, y kernels.Tensor) {
	const op = "Add"
	float(op, "out", out)
	float(op, "a", x)
	float(op, "b", y)
	if out.Rows != x.Rows || out.Cols != x.Cols || y.Cols != x.Cols || (y.Rows != x.Rows && y.Rows != 1) {
		shapePanic(op, "out %v, a %v, b %v", out, x, y)
	}
	po, px, py := b.ptr(op, "out", out), b.ptr(op, "a", x), b.ptr(op, "b", y)
	checkAlias(op, "a", out, x, true)
	checkAlias(op, "b", out, y, false)
	bcast := 0
	if y.Rows == 1 && x.Rows != 1 {
		bcast = 1
	}
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(px).i32(int(x.DType)).ptr(py).i32(int(y.DType)).i32(bcast).i32(x.Cols)
	a.i64(x.Rows * x.Cols)
	b.launchFlat("sw_add", int64(x.Rows)*int64(x.Cols), &a)
	written(out)
}

// SiLUMul: out (T, d) = silu(gate) · up; out may alias gate.
func (b *Backend) SiLUMul(out, gate, up kernels.Tensor) {
	const op = "SiLUMul"
	float(op, "out", out)
	float(op, "gate", gate)
	float(op, "up", up)
	if out.Rows != gate.Rows || out.Cols != gate.Cols || up.Rows != gate.Rows || up.Cols != gate.Cols {
		shapePanic(op, "out %v, gate %v, up %v", out, gate, up)
	}
	po, pg, pu := b.ptr(op, "out", out), b.ptr(op, "gate", gate), b.ptr(op, "up", up)
	checkAlias(op, "gate", out, gate, true)
	checkAlias(op, "up", out, up, false)
	qx, ds, q8 := b.q8Out(out)
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(pg).i32(int(gate.DType)).ptr(pu).i32(int(up.DType))
	a.i64(gate.Rows * gate.Cols).ptr(qx).ptr(ds)
	b.launchFlat("sw_silumul", int64(gate.Rows)*int64(gate.Cols), &a)
	written(out)
	if q8 {
		b.q8 = q8Key(out)
	}
}

// RoPE rotates x (T, nHeads·HeadDim) in place; see kernels.RoPEParams.
func (b *Backend) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	const op = "RoPE"
	float(op, "x", x)
	checkRoPE(op, x, pos, p)
	px := b.ptr(op, "x", x)
	if x.Rows == 0 {
		return
	}
	dpos, dinv := b.stageRoPE(op, pos, p)
	var a argv
	a.ptr(px).i32(int(x.DType)).ptr(dpos).ptr(dinv).i32(x.Rows).i32(x.Cols).i32(p.HeadDim).i32(p.NDims).i32(neox(p))
	b.launchFlat("sw_rope", int64(x.Rows)*int64(x.Cols/p.HeadDim)*int64(p.NDims/2), &a)
	written(x)
}

// stageRoPE stages the positions and the inverse frequencies of a RoPE.
func (b *Backend) stageRoPE(op string, pos []int32, p kernels.RoPEParams) (dpos, dinv uint64) {
	dpos = b.stage(stPos, 4*len(pos), func(dst []byte) error {
		if len(dst) != 4*len(pos) {
			return fmt.Errorf("%s: %d positions, staged %d", op, len(pos), len(dst)/4)
		}
		putInt32s(dst, pos)
		return nil
	})
	half := p.NDims / 2
	dinv = b.stage(stInvFreq, 4*half, func(dst []byte) error {
		if len(dst) != 4*half {
			return fmt.Errorf("%s: %d frequencies, staged %d", op, half, len(dst)/4)
		}
		for i := 0; i < half; i++ {
			// Theta(pos, i) = pos · Theta(1, i): the float64 angle at
			// position 1 is every position's inverse frequency.
			f := float32(p.Theta(1, i))
			putFloat(dst[4*i:], f)
		}
		return nil
	})
	return dpos, dinv
}

func neox(p kernels.RoPEParams) int {
	if p.Style == kernels.RoPENeoX {
		return 1
	}
	return 0
}

// StoreKV writes k, v (T, nKV·HeadDim) into cache slots[t] of layer.
func (b *Backend) StoreKV(c *kernels.KVCache, layer int, k, v kernels.Tensor, slots []int32) {
	const op = "StoreKV"
	kc, vc := cacheLayer(op, c, layer)
	checkStoreKV(op, kc, vc, k, v, slots)
	pkc, pvc := b.ptr(op, "cache K", kc), b.ptr(op, "cache V", vc)
	pk, pv := b.ptr(op, "k", k), b.ptr(op, "v", v)
	if k.Rows == 0 {
		return
	}
	dslots := b.stageSlots(op, slots, kc.Rows)
	var a argv
	a.ptr(pkc).ptr(pvc).i32(int(kc.DType)).ptr(pk).ptr(pv).i32(int(k.DType)).ptr(dslots).i32(k.Cols)
	a.i64(k.Rows * k.Cols)
	b.launchFlat("sw_store_kv", int64(k.Rows)*int64(k.Cols), &a)
	written(kc)
	written(vc)
}

// checkStoreKV panics unless k and v fit cache rows kc, vc with a slot
// per row.
func checkStoreKV(op string, kc, vc, k, v kernels.Tensor, slots []int32) {
	float(op, "k", k)
	float(op, "v", v)
	if k.Cols != kc.Cols || v.Cols != vc.Cols || v.Rows != k.Rows || len(slots) != k.Rows || k.DType != v.DType {
		shapePanic(op, "k %v, v %v, %d slots into cache rows of %d", k, v, len(slots), kc.Cols)
	}
}

// stageSlots stages cache slots, each checked against the nslots rows of
// the cache.
func (b *Backend) stageSlots(op string, slots []int32, nslots int) uint64 {
	return b.stage(stSlots, 4*len(slots), func(dst []byte) error {
		if len(dst) != 4*len(slots) {
			return fmt.Errorf("%s: %d slots, staged %d", op, len(slots), len(dst)/4)
		}
		for t, s := range slots {
			if s < 0 || int(s) >= nslots {
				return fmt.Errorf("%s: slot %d (row %d) outside the cache's %d slots", op, s, t, nslots)
			}
		}
		putInt32s(dst, slots)
		return nil
	})
}

func putFloat(dst []byte, f float32) {
	u := math.Float32bits(f)
	dst[0], dst[1], dst[2], dst[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
}
