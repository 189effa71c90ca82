package kernels

import (
	"fmt"
	"math"
)

// Buffer is a backend's storage (host bytes, device memory). Backends
// type-assert it to their own concrete type; a tensor from another backend
// is a programming error.
type Buffer interface {
	// Bytes is the size of the storage in bytes.
	Bytes() int
}

// Tensor is a 2-D view (Rows, Cols) into a Buffer, starting Off bytes in.
// It is a small value: copying it copies the view, not the data.
type Tensor struct {
	DType DType
	Rows  int
	Cols  int
	Buf   Buffer
	Off   int // byte offset of row 0 in Buf
}

// RowBytes is the byte size of one row.
func (t Tensor) RowBytes() int { return t.DType.RowBytes(t.Cols) }

// Bytes is the byte size of the view.
func (t Tensor) Bytes() int { return t.Rows * t.RowBytes() }

// Slice returns rows [start, start+n) as a view of the same storage.
func (t Tensor) Slice(start, n int) Tensor {
	if start < 0 || n < 0 || start+n > t.Rows {
		panic(fmt.Sprintf("kernels: Slice(%d, %d) of a tensor with %d rows", start, n, t.Rows))
	}
	v := t
	v.Off += start * t.RowBytes()
	v.Rows = n
	return v
}

// String describes the view for error messages.
func (t Tensor) String() string {
	return fmt.Sprintf("%s(%d, %d)", t.DType, t.Rows, t.Cols)
}

// KVSpec sizes a paged KV cache: NumBlocks blocks of BlockSize token slots,
// for every layer, K and V each (NumKVHeads·HeadDim) wide.
type KVSpec struct {
	NumLayers  int
	NumBlocks  int
	BlockSize  int
	NumKVHeads int
	HeadDim    int
	DType      DType // F16 (default), BF16 or F32
}

// Bytes is the memory the cache takes: every layer's K and V.
func (s KVSpec) Bytes() int64 {
	return 2 * int64(s.NumLayers) * int64(s.NumBlocks) * int64(s.BlockSize) *
		int64(s.DType.RowBytes(s.NumKVHeads*s.HeadDim))
}

// Slots is the number of token slots per layer.
func (s KVSpec) Slots() int { return s.NumBlocks * s.BlockSize }

// KVCache is a paged pool of token slots. Slot s of layer l lives in row s of
// K[l] and V[l], each (NumBlocks·BlockSize, NumKVHeads·HeadDim); block b owns
// slots [b·BlockSize, (b+1)·BlockSize).
type KVCache struct {
	Spec KVSpec
	K, V []Tensor // per layer
}

// AttnBatch describes, for one Attention call, which rows of q belong to
// which sequence and where each sequence's keys and values are.
//
// Sequence i owns query rows [QStart[i], QStart[i+1]). Its context holds
// CtxLen[i] tokens (cached prefix plus this step's tokens, already stored
// with StoreKV); its queries are the last QStart[i+1]-QStart[i] of them, so
// query j sits at position CtxLen[i]-nq+j and attends causally to positions
// [max(0, p-Window+1), p]. Token position p of sequence i lives in slot
// BlockTables[i][p/BlockSize]·BlockSize + p%BlockSize.
type AttnBatch struct {
	QStart      []int32   // (nseq+1,)
	CtxLen      []int32   // (nseq,)
	BlockTables [][]int32 // nseq tables of block ids
	NumHeads    int
	NumKVHeads  int // query head h reads kv head h/(NumHeads/NumKVHeads)
	HeadDim     int
	Scale       float32 // usually 1/sqrt(HeadDim)
	Window      int     // sliding window in tokens; 0 = unlimited
}

// NumSeqs is the number of sequences in the batch.
func (b *AttnBatch) NumSeqs() int { return len(b.CtxLen) }

// Validate checks the batch against q's row count and the cache, so that a
// bad batch fails with a message instead of reading out of bounds.
func (b *AttnBatch) Validate(qRows int, c *KVCache) error {
	n := len(b.CtxLen)
	if len(b.QStart) != n+1 || len(b.BlockTables) != n {
		return fmt.Errorf("attention batch: %d sequences but %d query starts and %d block tables", n, len(b.QStart), len(b.BlockTables))
	}
	if b.NumKVHeads <= 0 || b.NumHeads%b.NumKVHeads != 0 {
		return fmt.Errorf("attention batch: %d heads not a multiple of %d kv heads", b.NumHeads, b.NumKVHeads)
	}
	if b.QStart[0] != 0 || int(b.QStart[n]) != qRows {
		return fmt.Errorf("attention batch: query rows span [%d, %d), q has %d", b.QStart[0], b.QStart[n], qRows)
	}
	bs := c.Spec.BlockSize
	for i := 0; i < n; i++ {
		nq := b.QStart[i+1] - b.QStart[i]
		if nq < 0 || b.CtxLen[i] < nq {
			return fmt.Errorf("attention batch: sequence %d has %d queries but context %d", i, nq, b.CtxLen[i])
		}
		need := (int(b.CtxLen[i]) + bs - 1) / bs
		if len(b.BlockTables[i]) < need {
			return fmt.Errorf("attention batch: sequence %d needs %d blocks, table has %d", i, need, len(b.BlockTables[i]))
		}
		for _, blk := range b.BlockTables[i][:need] {
			if blk < 0 || int(blk) >= c.Spec.NumBlocks {
				return fmt.Errorf("attention batch: sequence %d uses block %d of %d", i, blk, c.Spec.NumBlocks)
			}
		}
	}
	return nil
}

func pow(x, y float64) float64 { return math.Pow(x, y) }
