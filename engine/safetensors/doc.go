// Package safetensors loads Hugging Face model directories: safetensors
// weight files (one model.safetensors, or model.safetensors.index.json and
// its shards), config.json, generation_config.json and tokenizer_config.json.
// It reads and validates; converting names and layouts to Spillway's model
// description (GGUF-style names, Q/K row permutation) is engine/model's job.
//
// Invariants:
//   - A safetensors file is an 8-byte little-endian header length N, N bytes
//     of JSON, then the data area. N is at most MaxHeaderSize and never more
//     than the file holds; nothing is allocated from a length before it was
//     checked against the bytes actually present.
//   - Every tensor that a File or Checkpoint hands out has passed these
//     checks: a known dtype, non-negative dims, data_offsets inside the data
//     area with end-begin == dtype size × product(shape), no byte shared
//     with another tensor, a unique non-empty name. Gaps between tensors are
//     allowed (they are harmless to a reader).
//   - TensorInfo.Data is a read-only view into the file's mapping (OpenFile
//     mmaps with PROT_READ) or into the caller's buffer (Parse). It is valid
//     until the owning File, Checkpoint or Model is closed; writing to it
//     faults. Copy what must outlive Close.
//   - Errors name the file and, where there is one, the tensor or the JSON
//     field. Bad input gives an error, never a panic.
//   - __metadata__ entries that map a missing tensor name to a stored one are
//     aliases (safetensors' record of de-duplicated shared tensors, e.g. tied
//     embeddings); Tensor follows them, Tensors lists stored tensors only.
//   - A sharded checkpoint trusts its index: every listed tensor must be in
//     the shard the index names, shard file names must be plain names inside
//     the directory, and each shard is opened exactly once.
//   - Config values are validated on read (positive sizes, heads dividing
//     the hidden size unless head_dim is given, KV heads dividing heads,
//     supported rope scaling); the engine may rely on them.
//
// This package imports the standard library only.
package safetensors
