// Package synth writes synthetic (random-weight) GGUF models of real
// shapes — TinyLlama, Llama 3.x, Mistral — for tests and benchmarks,
// since no real weights may be downloaded at run time.
//
// Invariants:
//   - Every file is labelled as random weights in general.name and
//     general.description; nobody should mistake one for a real model.
//   - The same Options (seed included) write byte-identical files.
//   - Tensor types follow llama-quantize's mixes (norms F32, output Q6_K
//     for sub-8-bit mixes, Q4_K_M's attn_v/ffn_down upgrades), so a file is
//     as heavy per token as the real quantized model it stands for.
package synth
