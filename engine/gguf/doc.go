// Package gguf reads and writes GGUF files (versions 2 and 3, little
// endian), the container llama.cpp uses for model weights and metadata.
//
// A file is a header (magic "GGUF", version, tensor count, key/value
// count), the key/value metadata, the tensor table, padding to the
// alignment (general.alignment, default 32), then the tensor data section.
// Open maps the file read-only; Parse works over bytes in memory. Neither
// copies tensor data: TensorData returns sub-slices of the mapping.
//
// Invariants of a File returned by Open or Parse, whatever the input:
//   - Every count, length, offset and dimension was checked against the
//     bytes that remain before it was used, so a truncated, corrupt or
//     hostile file yields an error naming the problem (the key or tensor,
//     the offending number, the offset), never a panic and never an
//     allocation larger than a small multiple of the file's size.
//   - Keys are unique and tensor names are unique.
//   - Every tensor has a known Type, at most 4 dims, a row length (Dims[0])
//     that is a multiple of the type's block size, an element count and
//     Size that fit int64, an Offset that is a multiple of Alignment, and
//     data [DataOffset+Offset, +Size) inside the file, overlapping no other
//     tensor's data.
//   - Arrays nest at most 8 deep; bool values are 0 or 1.
//   - Metadata values are copies: they stay valid after Close. Tensor data
//     slices do not.
//   - Version 1 files (32-bit counts) and big-endian files are rejected
//     with an error saying so.
//
// The Writer produces version 3 files that this reader accepts, laid out
// the way llama.cpp writes them (rewriting any of the reference files
// gives identical bytes): tensors in table order at aligned offsets, no
// padding after the table when there are no tensors. It enforces the
// reader's rules (plus llama.cpp's 63-byte tensor name limit and positive
// dims) when values and tensors are added, and streams tensor bytes from a
// callback, checking that each writes exactly its Size. llama.cpp does not
// read nested arrays; keep them out of files meant for it.
//
// Type ids and sizes follow ggml; Type converts to spillway/kernels.DType
// by a plain cast. This package imports only the standard library.
package gguf
