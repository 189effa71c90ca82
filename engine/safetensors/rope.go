package safetensors

import (
	"encoding/json"
	"fmt"
	"math"
)

// RoPE scaling kinds Spillway implements.
const (
	RopeLinear = "linear" // positions divided by Factor
	RopeLlama3 = "llama3" // Llama 3.1 frequency-band rescaling
)

// RopeScaling is config.json's rope_scaling when it changes anything.
type RopeScaling struct {
	Type   string  // RopeLinear or RopeLlama3
	Factor float64 // > 0
	// Llama 3 only: frequencies with wavelength below
	// OriginalMaxPositionEmbeddings/HighFreqFactor are kept, those above
	// OriginalMaxPositionEmbeddings/LowFreqFactor are divided by Factor,
	// and the band between is interpolated.
	LowFreqFactor                 float64
	HighFreqFactor                float64
	OriginalMaxPositionEmbeddings int
}

type rawRope struct {
	Type           string   `json:"type"`
	RopeType       string   `json:"rope_type"`
	Factor         *float64 `json:"factor"`
	LowFreqFactor  *float64 `json:"low_freq_factor"`
	HighFreqFactor *float64 `json:"high_freq_factor"`
	OrigMaxPos     *int     `json:"original_max_position_embeddings"`
	RopeTheta      *float64 `json:"rope_theta"` // transformers v5 rope_parameters carry it here
}

// parseRope decodes rope_scaling (or v5's rope_parameters). It returns nil
// scaling for null or the "default" type, and the theta found inside, if
// any.
func parseRope(field string, v json.RawMessage) (*RopeScaling, *float64, error) {
	if isNull(v) {
		return nil, nil, nil
	}
	var r rawRope
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, nil, fmt.Errorf("%s: want null or an object: %v", field, jsonErr(err))
	}
	kind := r.RopeType
	if kind == "" {
		kind = r.Type
	}
	switch kind {
	case "default":
		return nil, r.RopeTheta, nil
	case RopeLinear, RopeLlama3:
	case "":
		return nil, nil, fmt.Errorf("%s: no rope_type or type", field)
	default:
		return nil, nil, fmt.Errorf("%s: type %q is not supported (llama3 and linear are)", field, kind)
	}
	s := &RopeScaling{Type: kind}
	if r.Factor == nil {
		return nil, nil, fmt.Errorf("%s: %s scaling needs factor", field, kind)
	}
	s.Factor = *r.Factor
	if kind == RopeLlama3 {
		if r.LowFreqFactor == nil || r.HighFreqFactor == nil || r.OrigMaxPos == nil {
			return nil, nil, fmt.Errorf("%s: llama3 scaling needs low_freq_factor, high_freq_factor and original_max_position_embeddings", field)
		}
		s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings = *r.LowFreqFactor, *r.HighFreqFactor, *r.OrigMaxPos
	}
	return s, r.RopeTheta, nil
}

// validate checks the values the RoPE kernel divides by.
func (s *RopeScaling) validate() error {
	if !(s.Factor > 0) || math.IsInf(s.Factor, 0) {
		return fmt.Errorf("rope_scaling.factor: %v must be positive and finite", s.Factor)
	}
	if s.Type != RopeLlama3 {
		return nil
	}
	if !(s.LowFreqFactor > 0) || math.IsInf(s.HighFreqFactor, 0) || !(s.HighFreqFactor > s.LowFreqFactor) {
		return fmt.Errorf("rope_scaling: want 0 < low_freq_factor < high_freq_factor, have %v and %v", s.LowFreqFactor, s.HighFreqFactor)
	}
	if s.OriginalMaxPositionEmbeddings <= 0 {
		return fmt.Errorf("rope_scaling.original_max_position_embeddings: %d must be positive", s.OriginalMaxPositionEmbeddings)
	}
	return nil
}
