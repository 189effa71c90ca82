package cuda

import (
	"encoding/binary"
	"fmt"

	"spillway/kernels"
)

// The host half of Attention: how a batch is cut into blocks of work and
// the metadata the kernel reads (pure Go, so it is tested without a GPU).

const (
	maxHeadDim  = 256 // AT_DPL·32 in attention.cu
	attnUnits   = 16  // (row, head) units per block: AT_UPW · AT_WARPS
	attnKeys    = 32  // AT_KT
	attnThreads = 128
	maxSplits   = 16
)

// attnSmem is the dynamic shared memory of sw_attn for head dim hd: q
// (16, hd), k (32, hd+1) and v (32, hd) floats.
func attnSmem(hd int) int { return 4 * (attnUnits*hd + attnKeys*(hd+1) + attnKeys*hd) }

// attnPlan is the launch layout of one Attention call, fixed by the
// batch's shape (not its contents), so a captured graph stays valid while
// the shape does.
type attnPlan struct {
	G, hc, nhc, qr int // group size, query heads per block, head chunks, rows per tile
	ny             int // the grid's y: kv heads · head chunks
	ntiles, W      int // tiles; block-table width
	nsplit         int // key splits (the kernel shares each tile's own keys among them)
	T, nseq        int
}

// planAttention lays out ab for a device with sms multiprocessors and a
// cache of block size bs.
func planAttention(ab *kernels.AttnBatch, bs, sms int) attnPlan {
	// Never divides by zero or indexes out of range, even for a batch that
	// Validate rejects (fillMeta validates before it trusts the plan).
	p := attnPlan{G: max(1, ab.NumHeads/max(1, ab.NumKVHeads)), nseq: min(ab.NumSeqs(), len(ab.QStart)-1, len(ab.BlockTables))}
	if len(ab.QStart) > 0 {
		p.T = int(ab.QStart[len(ab.QStart)-1])
	}
	p.hc = min(p.G, attnUnits)
	p.nhc = (p.G + p.hc - 1) / p.hc
	p.qr = max(1, attnUnits/p.hc)
	for i := 0; i < p.nseq; i++ {
		nq := max(0, int(ab.QStart[i+1]-ab.QStart[i]))
		p.ntiles += (nq + p.qr - 1) / p.qr
		p.W = max(p.W, len(ab.BlockTables[i]))
	}
	p.W = max(p.W, 1)
	// Split the keys when the batch alone would leave most SMs idle (a
	// few long decodes): each split then reads a share of the context.
	keys := p.W * max(bs, 1)
	p.ny = max(ab.NumKVHeads, 1) * p.nhc
	blocks := p.ntiles * p.ny
	p.nsplit = 1
	if want := 2 * sms; blocks > 0 && blocks < want {
		p.nsplit = min((want+blocks-1)/blocks, (keys+255)/256, maxSplits)
		p.nsplit = max(p.nsplit, 1)
	}
	// As many splits as whole 32-key shares of a full table fill.
	share := ((keys+p.nsplit-1)/p.nsplit + attnKeys - 1) / attnKeys * attnKeys
	p.nsplit = (keys + share - 1) / share
	return p
}

// counters is how many split counters sw_attn needs (attn_merge): one a
// (tile, head chunk), and keys are split only below 2·sms of those.
func (p attnPlan) counters() int {
	if p.nsplit == 1 {
		return 0
	}
	return p.ntiles * p.ny
}

// metaBytes is the size of the staged metadata: tiles (ntiles, 4), rowpos
// (T,) and tables (nseq, W), int32, each part 16-byte aligned.
func (p attnPlan) metaBytes() (size, offPos, offTab int) {
	offPos = 16 * p.ntiles
	offTab = offPos + (4*p.T+15)&^15
	return offTab + 4*p.nseq*p.W, offPos, offTab
}

// fillMeta writes the metadata of ab, which must still have plan p's shape.
func (p attnPlan) fillMeta(dst []byte, ab *kernels.AttnBatch, qRows int, c *kernels.KVCache, sms int) error {
	if err := ab.Validate(qRows, c); err != nil {
		return err
	}
	if q := planAttention(ab, c.Spec.BlockSize, sms); q != p {
		return fmt.Errorf("Attention: batch layout changed (%d tiles, table width %d; recorded %d, %d)", q.ntiles, q.W, p.ntiles, p.W)
	}
	size, offPos, offTab := p.metaBytes()
	if len(dst) != size {
		return fmt.Errorf("Attention: %d metadata bytes, staged %d", size, len(dst))
	}
	clear(dst)
	le := binary.LittleEndian
	tile := 0
	for i := 0; i < p.nseq; i++ {
		q0, nq, ctx := int(ab.QStart[i]), int(ab.QStart[i+1]-ab.QStart[i]), int(ab.CtxLen[i])
		for r := 0; r < nq; r += p.qr {
			o := 16 * tile
			le.PutUint32(dst[o:], uint32(i))
			le.PutUint32(dst[o+4:], uint32(q0+r))
			le.PutUint32(dst[o+8:], uint32(min(p.qr, nq-r)))
			// The sequence's first position computed in this step: the
			// kernel reads the cache below it before its PDL wait.
			le.PutUint32(dst[o+12:], uint32(ctx-nq))
			tile++
		}
		for j := 0; j < nq; j++ {
			le.PutUint32(dst[offPos+4*(q0+j):], uint32(ctx-nq+j))
		}
		putInt32s(dst[offTab+4*p.W*i:], ab.BlockTables[i])
	}
	return nil
}

// putInt32s writes src as little-endian bytes into dst.
func putInt32s(dst []byte, src []int32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], uint32(v))
	}
}
