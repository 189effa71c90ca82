package bench

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSyntheticLengths(t *testing.T) {
	cases := []struct {
		name   string
		in     LenDist
		lo, hi int // every prompt's word count lies in [lo, hi]
	}{
		{"fixed", LenDist{Kind: DistFixed, Mean: 100}, 100, 100},
		{"uniform", LenDist{Kind: DistUniform, Mean: 100, Range: 0.5}, 50, 150},
		{"longtail", LenDist{Kind: DistLongTail, Mean: 100, Range: 1}, 1, 1600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Synthetic{N: 2000, Input: c.in, Output: LenDist{Kind: DistFixed, Mean: 8}, Seed: 3}
			rs, err := s.Generate()
			if err != nil {
				t.Fatal(err)
			}
			var lens []int
			for _, r := range rs {
				n := len(strings.Fields(r.Prompt))
				if n != r.PromptLen || n < c.lo || n > c.hi || r.OutputLen != 8 {
					t.Fatalf("prompt of %d words (PromptLen %d, output %d), want [%d, %d] and 8", n, r.PromptLen, r.OutputLen, c.lo, c.hi)
				}
				lens = append(lens, n)
			}
			slices.Sort(lens)
			if med := lens[len(lens)/2]; med < 90 || med > 110 {
				t.Errorf("median length %d, want ≈ 100", med)
			}
			if c.in.Kind == DistLongTail && lens[len(lens)*99/100] < 500 {
				t.Errorf("long tail p99 %d: no tail", lens[len(lens)*99/100])
			}
		})
	}
}

func TestSyntheticSharedPrefixAndDeterminism(t *testing.T) {
	s := Synthetic{N: 40, Input: LenDist{Kind: DistFixed, Mean: 16}, Output: LenDist{Kind: DistFixed, Mean: 4},
		Prefixes: 3, PrefixLen: 200, Seed: 11}
	a, err := s.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Generate()
	if !slices.Equal(a, b) {
		t.Fatal("the same Synthetic gave different requests")
	}
	systems := map[string]int{}
	for _, r := range a {
		systems[r.System]++
		if n := len(strings.Fields(r.System)); n != 204 {
			t.Errorf("system prompt of %d words, want 204", n)
		}
		if r.PromptLen != 16+204 {
			t.Errorf("PromptLen %d, want %d", r.PromptLen, 16+204)
		}
	}
	if len(systems) != 3 {
		t.Errorf("%d distinct system prompts, want 3", len(systems))
	}
	s.Seed = 12
	c, _ := s.Generate()
	if c[0].Prompt == a[0].Prompt || c[0].System == a[0].System {
		t.Error("another seed repeated the prompts")
	}
}

func TestSyntheticRejects(t *testing.T) {
	fixed := LenDist{Kind: DistFixed, Mean: 4}
	cases := []Synthetic{
		{N: -1, Input: fixed, Output: fixed},
		{N: 1, Input: LenDist{Kind: "zipf", Mean: 4}, Output: fixed},
		{N: 1, Input: LenDist{Kind: DistFixed, Mean: 0}, Output: fixed},
		{N: 1, Input: fixed, Output: LenDist{Kind: DistFixed, Mean: 1 << 30}},
		{N: 1, Input: LenDist{Kind: DistUniform, Mean: 4, Range: 1}, Output: fixed},
		{N: 1, Input: LenDist{Kind: DistLongTail, Mean: 4, Range: 9}, Output: fixed},
		{N: 1, Input: fixed, Output: fixed, Prefixes: 2, PrefixLen: 0},
	}
	for _, s := range cases {
		if _, err := s.Generate(); err == nil {
			t.Errorf("Generate(%+v) accepted", s)
		}
	}
}

func TestWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 300} {
		if got := len(strings.Fields(Words(r, n))); got != n {
			t.Errorf("Words(%d) has %d words", n, got)
		}
	}
}

func TestWorkloadLevels(t *testing.T) {
	w := Workload{Dataset: DatasetSynthetic, Warmup: -1, Synthetic: Synthetic{
		Input: LenDist{Kind: DistFixed, Mean: 8}, Output: LenDist{Kind: DistFixed, Mean: 4}, Seed: 5}}
	m1, w1, err := w.Requests(Level{Concurrency: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	m64, w64, _ := w.Requests(Level{Concurrency: 64}, 1)
	if len(m1) != 16 || len(w1) != 1 || len(m64) != 256 || len(w64) != 8 {
		t.Errorf("counts %d+%d and %d+%d, want 16+1 and 256+8", len(m1), len(w1), len(m64), len(w64))
	}
	if m1[0].Prompt == m64[0].Prompt {
		t.Error("two levels sent the same prompt: a prefix cache would carry hits across levels")
	}
	if w1[0].Prompt == m1[0].Prompt {
		t.Error("warm-up repeated a measured prompt")
	}
	trace := []Request{{Prompt: "a", OutputLen: 1}, {Prompt: "b", OutputLen: 1}, {Prompt: "c", OutputLen: 1}}
	rw := Workload{Dataset: DatasetReplay, Replay: trace, NumPrompts: 5, Warmup: 1}
	m, wu, err := rw.Requests(Level{Concurrency: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range m {
		got = append(got, r.Prompt)
	}
	if wu[0].Prompt != "a" || strings.Join(got, "") != "bcbcb" {
		t.Errorf("replay warm-up %q, measured %q; want a and bcbcb", wu[0].Prompt, got)
	}
	if _, _, err := (Workload{Dataset: "sharegpt"}).Requests(Level{}, 0); err == nil {
		t.Error("unknown dataset accepted")
	}
}
