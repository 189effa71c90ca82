package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Request is one prompt to send.
type Request struct {
	System    string // shared system prompt (chat: a system message; completions: prepended)
	Prompt    string
	PromptLen int // expected prompt tokens (0 = unknown); the server's usage is what counts
	OutputLen int // max_tokens, forced with ignore_eos
}

// Length distributions of a synthetic dataset.
const (
	DistFixed    = "fixed"
	DistUniform  = "uniform"
	DistLongTail = "longtail"
)

// maxLen bounds every synthetic length so a typo cannot build gigabyte
// prompts.
const maxLen = 1 << 20

// LenDist draws request lengths.
//   - fixed: always Mean.
//   - uniform: uniform over [Mean·(1−Range), Mean·(1+Range)], as vLLM's
//     random dataset's range ratio.
//   - longtail: log-normal with median Mean and σ = Range (default 1),
//     capped at 16·Mean, so most requests are short and a few are long,
//     as real chat traffic is.
type LenDist struct {
	Kind  string  `json:"kind"`
	Mean  int     `json:"mean"`
	Range float64 `json:"range,omitempty"`
}

// Validate reports a distribution that cannot be sampled.
func (d LenDist) Validate() error {
	switch {
	case d.Kind != DistFixed && d.Kind != DistUniform && d.Kind != DistLongTail:
		return fmt.Errorf("unknown length distribution %q (have fixed, uniform, longtail)", d.Kind)
	case d.Mean < 1 || d.Mean > maxLen:
		return fmt.Errorf("length %d out of range [1, %d]", d.Mean, maxLen)
	case d.Range < 0 || math.IsNaN(d.Range) || (d.Kind == DistUniform && d.Range >= 1):
		return fmt.Errorf("range %v out of range for %s lengths", d.Range, d.Kind)
	case d.Kind == DistLongTail && d.Range > 4:
		return fmt.Errorf("long-tail sigma %v too large (at most 4)", d.Range)
	}
	return nil
}

// Sample draws one length ≥ 1.
func (d LenDist) Sample(r *rand.Rand) int {
	m := float64(d.Mean)
	var v float64
	switch d.Kind {
	case DistUniform:
		lo, hi := m*(1-d.Range), m*(1+d.Range)
		v = lo + r.Float64()*(hi-lo)
	case DistLongTail:
		sigma := d.Range
		if sigma == 0 {
			sigma = 1
		}
		v = math.Min(m*math.Exp(sigma*r.NormFloat64()), 16*m)
	default:
		v = m
	}
	return max(1, min(int(math.Round(v)), maxLen))
}

// Synthetic describes a generated dataset. With Prefixes > 0 it is the
// shared-prefix workload: each request carries one of Prefixes system
// prompts of PrefixLen words (chosen round-robin), so a server with a
// prefix cache computes each prefix once.
type Synthetic struct {
	N         int
	Input     LenDist // words of the per-request part of the prompt
	Output    LenDist
	Prefixes  int
	PrefixLen int
	Seed      uint64
}

// Generate builds the dataset; the same Synthetic gives the same requests.
func (s Synthetic) Generate() ([]Request, error) {
	if s.N < 0 || s.N > 1<<20 {
		return nil, fmt.Errorf("request count %d out of range [0, %d]", s.N, 1<<20)
	}
	if err := s.Input.Validate(); err != nil {
		return nil, fmt.Errorf("input lengths: %w", err)
	}
	if err := s.Output.Validate(); err != nil {
		return nil, fmt.Errorf("output lengths: %w", err)
	}
	if s.Prefixes < 0 || s.Prefixes > 1024 || (s.Prefixes > 0 && (s.PrefixLen < 1 || s.PrefixLen > maxLen)) {
		return nil, fmt.Errorf("shared prefixes: %d prefixes of %d words is out of range", s.Prefixes, s.PrefixLen)
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x5b1117a7))
	prefixes := make([]string, s.Prefixes)
	for i := range prefixes {
		prefixes[i] = "You are assistant " + fmt.Sprint(i) + ". " + Words(r, s.PrefixLen)
	}
	reqs := make([]Request, s.N)
	for i := range reqs {
		in := s.Input.Sample(r)
		reqs[i] = Request{Prompt: Words(r, in), PromptLen: in, OutputLen: s.Output.Sample(r)}
		if s.Prefixes > 0 {
			reqs[i].System = prefixes[i%s.Prefixes]
			reqs[i].PromptLen += s.PrefixLen + 4
		}
	}
	return reqs, nil
}

// Words returns n words drawn at random from a list of common English
// words, separated by spaces. Each is a single token in Llama-family
// vocabularies (and in bench/synth's synthetic one), so n words are about
// n tokens.
func Words(r *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n * 6)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

var words = strings.Fields(`the of and to in is was that for it as with he on be at by this had not are but from
or have an they which one you were her all she there would their we him been has when who will more no if out so said
what up its about into than them can only other new some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back years where much your way well down
should because each just those people how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us great old year off come since against
go came right used take three once upon dog cat ball park play happy big red saw wanted friend`)
