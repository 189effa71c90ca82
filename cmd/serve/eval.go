package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"spillway/engine"
	"spillway/engine/sample"
	"spillway/engine/tokenizer"
)

func init() {
	register("eval", "print prompt ids, top-K logits per position and greedy tokens as JSON", runEval)
}

// greedyStep mirrors the oracle's `greedy` entries.
type greedyStep struct {
	Step        int     `json:"step"`
	Pos         int     `json:"pos"`
	Token       int32   `json:"token"`
	Logit       float32 `json:"logit"`
	Second      int32   `json:"second"`
	SecondLogit float32 `json:"second_logit"`
	Margin      float32 `json:"margin"`
	Piece       string  `json:"piece"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	var ef engineFlags
	ef.register(fs)
	prompt := fs.String("prompt", "", "prompt text")
	promptFile := fs.String("prompt-file", "", "read the prompt from this file (exact bytes)")
	top := fs.Int("top", 10, "how many (id, logit) pairs per position")
	logitsOut := fs.String("logits-out", "", "write the last position's logits here as little-endian float32")
	greedyN := fs.Int("greedy", 0, "greedy continuation tokens to generate")
	if err := parse(fs, args); err != nil {
		return err
	}
	text := *prompt
	if *promptFile != "" {
		b, err := os.ReadFile(*promptFile)
		if err != nil {
			return err
		}
		text = string(b)
	}
	if *top < 1 {
		return fmt.Errorf("--top must be at least 1, got %d", *top)
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	out, last, err := evaluate(eng, text, *top, *greedyN)
	if err != nil {
		return err
	}
	if *logitsOut != "" {
		if err := writeF32(*logitsOut, last); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

// evaluate runs the prompt in one batch with logits at every position,
// then greedy single-token decodes, as the llama.cpp references were made.
func evaluate(eng *engine.Engine, text string, k, nGreedy int) (map[string]any, []float32, error) {
	tok := eng.Desc.Tokenizer
	ids := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: true})
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("the prompt tokenizes to nothing")
	}
	V := eng.Model.Cfg.VocabSize
	r := eng.NewRunner()
	logits, err := r.Eval(ids, true)
	if err != nil {
		return nil, nil, err
	}
	tops := make([][][2]float64, len(ids))
	for i := range ids {
		tops[i] = topK(logits[i*V:(i+1)*V], k)
	}
	last := append([]float32(nil), logits[(len(ids)-1)*V:]...)
	steps, gen, err := greedy(r, tok, last, len(ids), nGreedy)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]any{
		"model_file": eng.Desc.Path, "n_vocab": V, "text": text,
		"n_tokens": len(ids), "tokens": ids, fmt.Sprintf("top%d_per_position", k): tops,
		"last_logits_stats": stats(last), "greedy": steps, "greedy_tokens": gen, "greedy_text": tok.Decode(gen),
	}
	return out, last, nil
}

func greedy(r *engine.Runner, tok *tokenizer.Tokenizer, logits []float32, n0, n int) ([]greedyStep, []int32, error) {
	steps, gen := []greedyStep{}, []int32{}
	for s := 0; s < n; s++ {
		t2 := topK(logits, 2)
		st := greedyStep{Step: s, Pos: n0 + s, Token: sample.Greedy(logits), Second: int32(t2[1][0])}
		st.Logit, st.SecondLogit = logits[st.Token], float32(t2[1][1])
		st.Margin = st.Logit - st.SecondLogit
		st.Piece = tok.Piece(st.Token)
		steps, gen = append(steps, st), append(gen, st.Token)
		if s == n-1 {
			break
		}
		var err error
		if logits, err = r.Eval([]int32{st.Token}, false); err != nil {
			return nil, nil, err
		}
	}
	return steps, gen, nil
}

// topK returns the k largest (id, logit) pairs, logit descending, ties by
// id ascending: the oracle's order. Insertion into a k-slot list keeps it
// O(V) for the usual small k.
func topK(l []float32, k int) [][2]float64 {
	k = min(k, len(l))
	best := make([]int, 0, k+1)
	for i, v := range l {
		if len(best) == k && v <= l[best[k-1]] {
			continue // ties keep the lower id already held
		}
		j := len(best)
		for j > 0 && v > l[best[j-1]] {
			j--
		}
		best = append(best, 0)
		copy(best[j+1:], best[j:])
		best[j] = i
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([][2]float64, len(best))
	for i, id := range best {
		out[i] = [2]float64{float64(id), float64(l[id])}
	}
	return out
}

func stats(l []float32) map[string]float64 {
	var s, s2 float64
	for _, v := range l {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(l))
	return map[string]float64{"mean": s / n, "rms": math.Sqrt(s2 / n)}
}

func writeF32(path string, v []float32) error {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return os.WriteFile(path, b, 0o644)
}
