// Package model is the llama family in Spillway: the format-independent
// model Description (config, tensors in GGUF naming and layout, tokenizer,
// chat template) loaded from GGUF or a Hugging Face directory, and the
// forward pass written once against kernels.Backend.
//
// Invariants:
//   - A GGUF file and its HF safetensors twin load into equal Descriptions:
//     HF Q/K rows are permuted to GGUF's adjacent-pair RoPE layout, tied
//     embeddings appear only as token_embd.weight.
//   - Every tensor the forward pass uses is checked against the config's
//     shape at bind time; a malformed file fails in New with the tensor's
//     name, never during Forward.
//   - Forward handles any mix of sequences in one call: prefill chunks and
//     decodes share the flat token batch and differ only in AttnBatch.
//   - With graphs enabled, a batch of single-query sequences replays the
//     recording of the smallest bucket that holds it, padded with rows
//     that touch only the scratch block; every other batch runs op by op.
//     A recording reads its bucket's own input slices, which Forward
//     overwrites in place before each replay; logits are always eager.
package model
