package sample

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"spillway/internal/testenv"
)

// oracleRef is the part of ../shared/oracle/refs/<model>.json this package
// checks against: llama.cpp's greedy token and top 10 at the last prompt
// position.
type oracleRef struct {
	NVocab  int `json:"n_vocab"`
	Prompts []struct {
		Name      string         `json:"name"`
		Top10     [][][2]float64 `json:"top10_per_position"`
		LastFile  string         `json:"last_logits_file"`
		GreedyTok []struct {
			Token int32 `json:"token"`
		} `json:"greedy"`
	} `json:"prompts"`
}

func readLogits(t *testing.T, path string, n int) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*n {
		t.Fatalf("%s: %d bytes, want %d floats", path, len(b), n)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// TestOracleGreedyAndTop checks Greedy and the raw top-10 logprobs against
// llama.cpp on real logit vectors (32000 and 128256 tokens): the same
// argmax, and the same ten ids in the same order (ties by id).
func TestOracleGreedyAndTop(t *testing.T) {
	for _, model := range []string{"tiny-spm-F16", "tiny-spm-Q4_0", "tiny-bpe-Q4_K_M-embQ4_K"} {
		path := testenv.Shared(t, "oracle/refs/"+model+".json")
		var ref oracleRef
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, pr := range ref.Prompts {
			logits := readLogits(t, filepath.Join(filepath.Dir(path), pr.LastFile), ref.NVocab)
			if got, want := Greedy(logits), pr.GreedyTok[0].Token; got != want {
				t.Errorf("%s %s: Greedy = %d, llama.cpp %d", model, pr.Name, got, want)
			}
			p := Params{TopP: 1, RepetitionPenalty: 1, WantLogprobs: true, Logprobs: 10}
			res := New(p, nil).Sample(logits)
			top10 := pr.Top10[len(pr.Top10)-1]
			if len(res.Top) != len(top10) {
				t.Fatalf("%s %s: %d top logprobs, llama.cpp lists %d", model, pr.Name, len(res.Top), len(top10))
			}
			for j, e := range res.Top {
				if e.Token != int32(top10[j][0]) {
					t.Errorf("%s %s: top[%d] = %d, llama.cpp %d", model, pr.Name, j, e.Token, int32(top10[j][0]))
				}
			}
			checkLogSoftmax(t, logits, res)
		}
	}
}

// checkLogSoftmax recomputes the raw logprobs of res in float64.
func checkLogSoftmax(t *testing.T, logits []float32, res Result) {
	t.Helper()
	m := math.Inf(-1)
	for _, l := range logits {
		m = math.Max(m, float64(l))
	}
	var s float64
	for _, l := range logits {
		s += math.Exp(float64(l) - m)
	}
	lse := m + math.Log(s)
	for _, e := range append(res.Top, TokenLogprob{res.Token, res.Logprob}) {
		if want := float64(logits[e.Token]) - lse; math.Abs(float64(e.Logprob)-want) > 1e-4 {
			t.Errorf("logprob of %d = %v, float64 log_softmax %v", e.Token, e.Logprob, want)
		}
	}
}
