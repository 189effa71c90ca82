// Package batching holds the data the scheduler and the engine share: the
// Sequence, the BlockManager of the paged KV cache, and the Batch of one
// step. Standard library only; vocabulary after nano-vllm.
//
// The scheduler asks before it acts: CanAllocate/Allocate at admission,
// CanAppend/Append before a decode step needs a new block, CanFork/Fork
// for the n > 1 choices of a request. An act whose question would have
// said no returns ErrNoFreeBlocks and changes nothing. After a step ran,
// Commit(seq, n) records the n tokens computed; Free gives everything back
// (finish, cancel, preempt).
//
// Invariants (checked after every operation by the property test):
//   - No leak: every block is in exactly one of used (ref > 0), free, or
//     the LRU of cached blocks; the three counts add up to NumBlocks.
//   - A block's ref count equals the number of block-table entries that
//     name it.
//   - A block is cached (findable by hash) only once it is full and its
//     keys and values are computed: Commit seals blocks, Allocate does not.
//     A cached hash maps to a block that holds exactly the tokens it was
//     hashed from: hash = chain(parent block's hash, salt, token ids).
//   - A sequence's computed tokens sit in the slots its block table names,
//     and no block is written by two sequences: only full computed blocks
//     are shared (prefix hits, Fork), and a prefix hit never covers a
//     sequence's last token, which must be computed for its logits.
//   - Cached blocks without users are evicted least recently used first,
//     and only when the free list is empty.
//   - Batch rows of sequence i are contiguous, slot = table[p/BlockSize]·
//     BlockSize + p%BlockSize (kernels.KVCache's layout), and the context
//     of sequence i is its computed tokens plus its rows, exactly what
//     kernels.AttnBatch and Backend.StoreKV expect.
package batching
