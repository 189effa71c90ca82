package synth

import (
	"fmt"
	"sort"
	"strings"

	"spillway/kernels"
)

// Mix decides each tensor's type the way llama-quantize's presets do:
// norms stay F32, the output projection gets more bits than the body, and
// Q4_K_M spends Q6_K on half of attn_v and ffn_down.
type Mix struct {
	Name     string
	FileType uint32 // general.file_type (llama_ftype)
	Base     kernels.DType
	mediumK  bool // Q4_K_M-style attn_v/ffn_down upgrades
}

var mixes = map[string]Mix{
	"f32":    {"F32", 0, kernels.F32, false},
	"f16":    {"F16", 1, kernels.F16, false},
	"bf16":   {"BF16", 32, kernels.BF16, false},
	"q4_0":   {"Q4_0", 2, kernels.Q4_0, false},
	"q4_1":   {"Q4_1", 3, kernels.Q4_1, false},
	"q8_0":   {"Q8_0", 7, kernels.Q8_0, false},
	"q5_0":   {"Q5_0", 8, kernels.Q5_0, false},
	"q5_1":   {"Q5_1", 9, kernels.Q5_1, false},
	"q2_k":   {"Q2_K", 10, kernels.Q2_K, false},
	"q3_k":   {"Q3_K", 12, kernels.Q3_K, false},
	"q4_k":   {"Q4_K", 14, kernels.Q4_K, false},
	"q4_k_m": {"Q4_K_M", 15, kernels.Q4_K, true},
	"q5_k":   {"Q5_K", 16, kernels.Q5_K, false},
	"q6_k":   {"Q6_K", 18, kernels.Q6_K, false},
}

// MixNames lists the accepted --type values.
func MixNames() []string {
	var n []string
	for k := range mixes {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ParseMix maps a --type value ("q4_k_m", case-insensitive) to its Mix.
func ParseMix(s string) (Mix, error) {
	m, ok := mixes[strings.ToLower(s)]
	if !ok {
		return m, fmt.Errorf("unknown weight type %q (have %s)", s, strings.Join(MixNames(), ", "))
	}
	return m, nil
}

// lowBits reports types below 8 bits, whose output projection llama.cpp
// keeps at Q6_K because logits are sensitive to it.
func lowBits(d kernels.DType) bool {
	switch d {
	case kernels.F32, kernels.F16, kernels.BF16, kernels.Q8_0, kernels.Q6_K:
		return false
	}
	return true
}

// useMoreBits is llama.cpp's choice of layers for Q4_K_M upgrades: the
// first and last eighth, and every third layer in between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// TypeFor returns the type of tensor kind ("attn_v", "ffn_down", "output",
// "token_embd", "norm") in layer i of n, with row length cols.
func (m Mix) TypeFor(kind string, i, n, cols int, tied bool) kernels.DType {
	t := m.Base
	switch {
	case kind == "norm":
		return kernels.F32
	case kind == "output" || (kind == "token_embd" && tied):
		if lowBits(m.Base) {
			t = kernels.Q6_K
		}
	case m.mediumK && (kind == "attn_v" || kind == "ffn_down") && useMoreBits(i, n):
		t = kernels.Q6_K
	}
	return fallback(t, cols)
}

// fallback replaces a type whose block does not divide the row, as
// llama-quantize does for odd shapes.
func fallback(t kernels.DType, cols int) kernels.DType {
	if cols%t.BlockSize() == 0 {
		return t
	}
	if cols%32 == 0 {
		return kernels.Q8_0
	}
	return kernels.F16
}
