//go:build cgo

package cuda

import (
	"fmt"

	"spillway/kernels"
)

// Attention: out (T, nHeads·HeadDim) = softmax(q kᵀ·Scale + mask) v over
// the paged cache, for every sequence of ab (see kernels.AttnBatch).
func (b *Backend) Attention(out, q kernels.Tensor, c *kernels.KVCache, layer int, ab *kernels.AttnBatch) {
	const op = "Attention"
	kc, vc := cacheLayer(op, c, layer)
	float(op, "out", out)
	float(op, "q", q)
	checkAttention(op, out, q, c, ab)
	po, pq := b.ptr(op, "out", out), b.ptr(op, "q", q)
	pk, pv := b.ptr(op, "cache K", kc), b.ptr(op, "cache V", vc)
	checkAlias(op, "q", out, q, false)
	p := planAttention(ab, c.Spec.BlockSize, b.g.info.sms)
	if p.T == 0 || p.ntiles == 0 {
		return
	}
	size, offPos, offTab := p.metaBytes()
	qRows := q.Rows
	meta := b.stage(stAttn, size, func(dst []byte) error { return p.fillMeta(dst, ab, qRows, c, b.g.info.sms) })
	var part, pml, cnt uint64
	if p.nsplit > 1 {
		n := p.T * ab.NumHeads * p.nsplit
		base, err := b.scr.get(b, &b.scr.attn, n*8+n*ab.HeadDim*4)
		if err != nil {
			panic(fmt.Sprintf("cuda: %s: scratch for %d splits: %v", op, p.nsplit, err))
		}
		pml, part = base, base+uint64(n*8)
		if b.attnMerge {
			if p.counters() > b.scr.cnt.n {
				panic(fmt.Sprintf("cuda: %s: %d split counters, %d allocated", op, p.counters(), b.scr.cnt.n))
			}
			cnt = b.scr.cnt.ptr
		}
	}
	var qx, ds uint64
	q8 := false
	if ab.HeadDim%32 == 0 { // a head's output is whole blocks of 32
		qx, ds, q8 = b.q8Out(out)
	}
	var a argv
	a.ptr(po).i32(int(out.DType)).ptr(pq).i32(int(q.DType)).ptr(pk).ptr(pv).i32(int(kc.DType))
	a.ptr(meta).ptr(meta + uint64(offPos)).ptr(meta + uint64(offTab)).i32(p.W).i32(c.Spec.BlockSize)
	a.i32(ab.NumHeads).i32(ab.NumKVHeads).i32(ab.HeadDim).i32(p.hc).f32(ab.Scale).i32(ab.Window)
	a.ptr(part).ptr(pml).ptr(cnt).ptr(qx).ptr(ds)
	b.launch("sw_attn", [3]int{p.ntiles, p.ny, p.nsplit}, [3]int{attnThreads, 1, 1}, attnSmem(ab.HeadDim), &a)
	if p.nsplit > 1 && cnt == 0 { // the splits left partials
		var m argv
		m.ptr(po).i32(int(out.DType)).ptr(part).ptr(pml).i32(ab.HeadDim).i32(p.nsplit).ptr(qx).ptr(ds)
		b.launch("sw_attn_combine", [3]int{p.T * ab.NumHeads, 1, 1}, [3]int{128, 1, 1}, 0, &m)
	}
	written(out)
	if q8 {
		b.q8 = q8Key(out)
	}
}
