package sample

import (
	crand "crypto/rand"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
)

// Result is one sampled token and, when Params.WantLogprobs, its logprob
// and the Params.Logprobs most likely tokens under Params.LogprobsMode.
type Result struct {
	Token   int32
	Logprob float32        // 0 unless WantLogprobs
	Top     []TokenLogprob // best first, ties by lower id; only tokens of non-zero probability
}

// TokenLogprob is one entry of Result.Top.
type TokenLogprob struct {
	Token   int32
	Logprob float32
}

// Sampler samples the tokens of one sequence. It owns the sequence's random
// stream and the token counts the penalties need, so a sequence keeps one
// Sampler for its whole life (preemption included). It is not safe for
// concurrent use; different Samplers are independent.
type Sampler struct {
	p      Params // normalized by New
	greedy bool
	invT   float32 // 1/temperature when sampling
	topK   int     // 0 = off
	topP   float32 // 1 = off
	minP   float32 // 0 = off
	rng    *rand.Rand
	pen    penalties
	bias   bias
}

// pcgStream is the second PCG word for seeded samplers: fixed, so that a
// seed alone decides the stream.
const pcgStream = 0x5370696c6c776179 // "Spillway"

// New returns a sampler for a sequence whose prompt is prompt (the
// repetition penalty counts prompt tokens). p should have passed Validate;
// out-of-range values are clamped or switched off rather than trusted, so
// New never panics. The prompt is not retained.
func New(p Params, prompt []int32) *Sampler {
	s := &Sampler{p: p, greedy: p.IsGreedy() || p.Temperature != p.Temperature}
	if !s.greedy {
		s.invT = 1 / min(p.Temperature, MaxTemperature)
	}
	if p.TopK > 0 {
		s.topK = p.TopK
	}
	s.topP = 1
	if p.TopP > 0 && p.TopP < 1 {
		s.topP = p.TopP
	}
	if p.MinP > 0 && p.MinP <= 1 {
		s.minP = p.MinP
	}
	s.p.Logprobs = max(0, min(p.Logprobs, MaxTopLogprobs))
	var seed uint64
	if p.Seed != nil {
		seed = *p.Seed
	} else {
		var b [8]byte
		_, _ = crand.Read(b[:]) // never fails on supported platforms (Go ≥ 1.24)
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s.rng = rand.New(rand.NewPCG(seed, pcgStream))
	s.pen = newPenalties(&s.p, prompt)
	s.bias = newBias(p.LogitBias)
	s.p.LogitBias = nil // s.bias has it; do not alias the caller's map
	return s
}

// workspace is the per-call scratch of Sample: two vocabulary-sized
// buffers (1.5 MiB at 128256 tokens). They come from a pool rather than
// from each Sampler, so memory follows the number of sequences being
// sampled at the same moment, not the number of running sequences.
type workspace struct {
	vals  []float32 // (V,) logits after sanitizing, bias and penalties
	cands []cand    // (V,) candidate tokens and their weights
}

var workspaces sync.Pool

func getWorkspace(v int) *workspace {
	ws, _ := workspaces.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	if cap(ws.vals) < v {
		ws.vals = make([]float32, v)
		ws.cands = make([]cand, v)
	}
	ws.vals = ws.vals[:v]
	ws.cands = ws.cands[:v]
	return ws
}

// Sample draws the next token from logits (V,) and records it for the
// penalties. logits is read, never modified. NaN logits count as -Inf and
// +Inf ones as the largest float32, so neither can poison the softmax. If
// every logit is -Inf or NaN no token has any probability: Sample then
// returns token 0 with Logprob -Inf, and the caller's numerics are broken.
func (s *Sampler) Sample(logits []float32) Result {
	if len(logits) == 0 {
		return Result{Token: 0, Logprob: float32(math.Inf(-1))}
	}
	if s.greedy && !s.modifies() {
		// Plain greedy needs no copy: one pass over the caller's logits.
		res := Result{Token: Greedy(logits)}
		if s.p.WantLogprobs {
			logSoftmaxTop(&res, logits, s.p.Logprobs, 0)
		}
		s.pen.record(res.Token)
		return res
	}
	ws := getWorkspace(len(logits))
	defer workspaces.Put(ws)
	vals := ws.vals
	for i, l := range logits {
		vals[i] = clean(l)
	}
	s.bias.apply(vals)
	s.pen.apply(vals)

	d := s.distribution(ws.cands, vals)
	tok := d.argmax
	if !s.greedy && len(d.cands) > 0 {
		tok = d.draw(s.rng.Float64())
	}
	res := Result{Token: tok}
	if s.p.WantLogprobs {
		s.logprobs(&res, logits, vals, &d)
	}
	s.pen.record(tok)
	return res
}

// clean maps NaN to -Inf and +Inf to the largest float32.
func clean(x float32) float32 {
	if x != x {
		return float32(math.Inf(-1))
	}
	if x > math.MaxFloat32 {
		return math.MaxFloat32
	}
	return x
}

// dist is the distribution a token is drawn from.
type dist struct {
	argmax int32   // best token of vals, ties to the lower id
	max    float32 // its logit; -Inf when no token is possible
	cands  []cand  // surviving tokens and weights exp((l-max)/T); nil when greedy
	total  float64 // Σ cands.w
	// sumAll is Σ exp((l-max)/T) over every token when the weights pass
	// saw them all unfiltered (no top_k, no min_p), else 0. At T = 1 it is
	// the softmax normalizer, which spares logprobs a pass.
	sumAll float64
}

// distribution applies temperature and the filters in vLLM's order
// (min_p, top_k, top_p) to vals (V,), using buf (V,) for candidates.
func (s *Sampler) distribution(buf []cand, vals []float32) dist {
	var d dist
	d.argmax = Greedy(vals)
	d.max = vals[d.argmax]
	if s.greedy || math.IsInf(float64(d.max), -1) {
		return d
	}
	if s.topK > 0 && s.topK < len(vals) {
		// min_p keeps w ≥ minP·w_max and the max is always in the top k, so
		// selecting the top k first keeps the same set and is cheaper.
		d.cands = topLogits(buf, vals, s.topK)
		n := 0
		for _, c := range d.cands {
			if w := expNeg((c.w - d.max) * s.invT); w > 0 && w >= s.minP {
				d.cands[n] = cand{c.id, w}
				n++
			}
		}
		d.cands = d.cands[:n]
		for _, c := range d.cands {
			d.total += float64(c.w)
		}
	} else {
		d.cands, d.total = s.weights(buf, vals, d.max)
		if s.minP == 0 {
			d.sumAll = d.total
		}
	}
	if s.topP < 1 && len(d.cands) > 1 {
		n := nucleus(d.cands, d.total, s.topP)
		d.cands = d.cands[:n]
		d.total = 0
		for _, c := range d.cands {
			d.total += float64(c.w)
		}
	}
	return d
}

// weights fills buf with every token whose weight exp((l-max)/T) is
// non-zero and at least min_p (vLLM's min_p: prob ≥ min_p·max prob), and
// returns them with their sum. This loop is most of a sampling call's
// time: expNeg is inlined into it.
func (s *Sampler) weights(buf []cand, vals []float32, max float32) ([]cand, float64) {
	n := 0
	invT, minP := s.invT, s.minP
	var total float64
	for i, l := range vals {
		w := expNeg((l - max) * invT)
		if w > 0 && w >= minP {
			buf[n] = cand{int32(i), w}
			n++
			total += float64(w)
		}
	}
	return buf[:n], total
}

// draw picks a token by inverse CDF: the first candidate whose cumulative
// weight exceeds u·total. Zero-weight candidates are never picked.
func (d *dist) draw(u float64) int32 {
	target := u * d.total
	var acc float64
	for _, c := range d.cands {
		acc += float64(c.w)
		if acc > target {
			return c.id
		}
	}
	// Rounding can leave target ≥ acc for u close to 1: take the last.
	return d.cands[len(d.cands)-1].id
}

// Greedy returns the index of the largest logit, the lowest one on ties
// (llama.cpp's greedy sampler). NaNs are skipped; if there is nothing else,
// it returns 0.
func Greedy(logits []float32) int32 {
	best := -1
	for i, l := range logits {
		if l != l {
			continue
		}
		if best < 0 || l > logits[best] {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	return int32(best)
}
