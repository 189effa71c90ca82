package sample

import (
	"encoding/binary"
	"math"
	"testing"
)

// fuzzParams decodes a 16-byte header into Params: every field reachable,
// including out-of-range values that Validate must reject and New must
// still survive.
func fuzzParams(h []byte, vocab int) Params {
	seed := uint64(binary.LittleEndian.Uint32(h[12:]))
	return Params{
		Temperature:       float32(h[0]) / 50,
		TopK:              int(int8(h[1])),
		TopP:              float32(h[2]) / 250,
		MinP:              float32(h[3]) / 250,
		RepetitionPenalty: float32(h[4]) / 64,
		PresencePenalty:   (float32(h[5]) - 128) / 50,
		FrequencyPenalty:  (float32(h[6]) - 128) / 50,
		Logprobs:          int(h[7] % 24),
		WantLogprobs:      h[8]&1 == 1,
		LogprobsMode:      LogprobsMode(h[8] >> 1 % 4),
		LogitBias:         map[int32]float32{int32(binary.LittleEndian.Uint16(h[9:])) % int32(vocab+2): float32(h[11]) - 128},
		Seed:              &seed,
	}
}

// FuzzSample feeds arbitrary parameters and arbitrary float32 bit patterns
// (NaN, ±Inf, subnormals) to Validate, New and Sample.
func FuzzSample(f *testing.F) {
	f.Add([]byte("\x32\x00\xfa\x00\x40\x80\x80\x05\x01\x00\x00\x80seed\x00\x00\x80\x3f\x00\x00\x00\x40"))
	f.Add([]byte("\x00\x28\xe1\x0c\x48\xa0\x60\x14\x05\x01\x00\xe4seed\x00\x00\x80\x7f\x00\x00\xc0\x7f\x00\x00\x80\xff"))
	f.Add([]byte("\x64\x02\x01\xff\x00\x00\xff\x03\x03\x02\x00\x00seed\xff\xff\x7f\x7f\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 20 {
			return
		}
		logits := make([]float32, min((len(data)-16)/4, 4096))
		for i := range logits {
			logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[16+4*i:]))
		}
		p := fuzzParams(data[:16], len(logits))
		valid := p.Validate(len(logits)) == nil
		prompt := []int32{0, int32(len(logits) / 2), -5, 1 << 30}
		s := New(p, prompt)
		for step := 0; step < 3; step++ {
			res := s.Sample(logits)
			if res.Token < 0 || int(res.Token) >= len(logits) {
				t.Fatalf("token %d outside [0, %d)", res.Token, len(logits))
			}
			if valid {
				checkResult(t, p, logits, res)
			}
		}
	})
}

func checkResult(t *testing.T, p Params, logits []float32, res Result) {
	// A logit below 1e37 in magnitude cannot be pushed to -Inf by the
	// penalties and bias fuzzParams can express; a larger one can.
	anyPossible := false
	for _, l := range logits {
		anyPossible = anyPossible || math.Abs(float64(l)) < 1e37
	}
	if l := clean(logits[res.Token]); anyPossible && math.IsInf(float64(l), -1) {
		t.Fatalf("sampled token %d whose logit is %v", res.Token, logits[res.Token])
	}
	if !p.WantLogprobs {
		if res.Logprob != 0 || res.Top != nil {
			t.Fatalf("logprobs not requested, got %+v", res)
		}
		return
	}
	if res.Logprob != res.Logprob || res.Logprob > 1e-5 {
		t.Fatalf("logprob %v", res.Logprob)
	}
	if len(res.Top) > p.Logprobs {
		t.Fatalf("%d top logprobs, asked for %d", len(res.Top), p.Logprobs)
	}
	var mass float64
	for j, e := range res.Top {
		if !(e.Logprob <= 1e-5) || math.IsInf(float64(e.Logprob), -1) || j > 0 && e.Logprob > res.Top[j-1].Logprob {
			t.Fatalf("top logprobs %+v: entry %d out of order or out of range", res.Top, j)
		}
		mass += math.Exp(float64(e.Logprob))
	}
	if mass > 1+1e-4 {
		t.Fatalf("top logprobs %+v sum to probability %v", res.Top, mass)
	}
}
