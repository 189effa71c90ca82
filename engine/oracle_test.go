package engine_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spillway/engine"
	"spillway/engine/model"
	"spillway/engine/tokenizer"
	"spillway/internal/testenv"
	_ "spillway/kernels/ref"
)

// oracleRef is the subset of ../shared/oracle/README.md §4 the test reads.
type oracleRef struct {
	ModelFile     string `json:"model_file"`
	ModelFileType *int   `json:"model_file_type"`
	NVocab        int    `json:"n_vocab"`
	Prompts       []struct {
		Name           string         `json:"name"`
		Text           string         `json:"text"`
		Tokens         []int32        `json:"tokens"`
		Top10          [][][2]float64 `json:"top10_per_position"`
		LastLogitsFile string         `json:"last_logits_file"`
		Greedy         []oracleGreedy `json:"greedy"`
		GreedyTokens   []int32        `json:"greedy_tokens"`
	} `json:"prompts"`
}

type oracleGreedy struct {
	Token  int32   `json:"token"`
	Logit  float64 `json:"logit"`
	Margin float64 `json:"margin"`
}

// tolerance is oracle README §7.3: one row for float files, one for
// quantized ones.
type tolerance struct {
	maxAbs, rmsRel, margin float64
}

func toleranceFor(fileType *int) tolerance {
	if fileType == nil || *fileType == 0 || *fileType == 1 {
		return tolerance{maxAbs: 0.25, rmsRel: 0.005, margin: 0.25}
	}
	if *fileType == 32 { // BF16
		return tolerance{maxAbs: 1.0, rmsRel: 0.015, margin: 0.25}
	}
	return tolerance{maxAbs: 4.0, rmsRel: 0.05, margin: 2.5}
}

// oracleCase is one reference file and the model that must reproduce it.
type oracleCase struct {
	ref, model string // paths relative to ../shared
	freeGreedy bool   // free-running greedy must match token for token
}

func oracleCases() []oracleCase {
	c := []oracleCase{
		{"models/refs/stories260K.json", "models/stories260K.gguf", true},
		{"models/refs/TinyStories-656K-f32.json", "models/derived/TinyStories-656K-f32.gguf", true},
		{"models/refs/TinyStories-656K-f32.json", "models/TinyStories-656K-hf", true},
		{"models/refs/TinyStories-656K-Q8_0.json", "models/derived/TinyStories-656K-Q8_0.gguf", true},
	}
	for _, m := range []string{"tiny-spm-F16", "tiny-spm-Q8_0", "tiny-spm-Q4_0", "tiny-bpe-Q4_K_M-embQ4_K"} {
		c = append(c, oracleCase{"oracle/refs/" + m + ".json", "oracle/models/" + m + ".gguf", false})
	}
	return c
}

// TestOracle checks the engine against llama.cpp's reference outputs with
// the oracle README's acceptance criteria.
func TestOracle(t *testing.T) {
	for _, oc := range oracleCases() {
		name := strings.TrimSuffix(filepath.Base(oc.model), ".gguf")
		if strings.HasSuffix(oc.model, "-hf") {
			name += "(safetensors)"
		}
		t.Run(name, func(t *testing.T) {
			if testing.Short() && strings.HasPrefix(oc.ref, "oracle/") && testBackend() == "ref" {
				t.Skip("skipping the 32k/128k-vocab oracle models on the slow ref backend in -short mode")
			}
			refPath := testenv.Shared(t, oc.ref)
			modelPath := testenv.Shared(t, oc.model)
			var ref oracleRef
			b, err := os.ReadFile(refPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			d, err := model.Load(modelPath)
			if err != nil {
				t.Fatal(err)
			}
			eng, err := engine.New(d, engine.Options{Backend: testBackend(), MaxTokens: 512, KVCacheMemory: 0})
			if err != nil {
				d.Close()
				t.Fatal(err)
			}
			defer eng.Close()
			tol := toleranceFor(ref.ModelFileType)
			for _, p := range ref.Prompts {
				checkPrompt(t, eng, filepath.Dir(refPath), &ref, p.Name, tol, oc.freeGreedy)
			}
		})
	}
}

func checkPrompt(t *testing.T, eng *engine.Engine, refDir string, ref *oracleRef, name string, tol tolerance, free bool) {
	t.Helper()
	var pi int
	for pi = range ref.Prompts {
		if ref.Prompts[pi].Name == name {
			break
		}
	}
	p := &ref.Prompts[pi]
	ids := eng.Desc.Tokenizer.Encode(p.Text, tokenizer.EncodeOptions{AddSpecial: true})
	if !equalIDs(ids, p.Tokens) {
		t.Errorf("%s: prompt ids %v, want %v", name, ids, p.Tokens)
		return
	}
	V := ref.NVocab
	r := eng.NewRunner()
	logits, err := r.Eval(ids, true)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range ids {
		bad += checkPosition(logits[i*V:(i+1)*V], p.Top10[i], tol)
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d positions disagree with the reference top-10 beyond tolerance", name, bad, len(ids))
	}
	last := logits[(len(ids)-1)*V:]
	want := readF32(t, filepath.Join(refDir, p.LastLogitsFile))
	maxAbs, rms, rmsRef := diff(last, want)
	t.Logf("%s: %d tokens, last-position logits max|Δ| %.4f, rms Δ/rms %.4f%%", name, len(ids), maxAbs, 100*rms/rmsRef)
	if maxAbs > tol.maxAbs || rms/rmsRef > tol.rmsRel {
		t.Errorf("%s: last-position logits max|Δ| %.4f (limit %g), rms Δ/rms %.4f%% (limit %g%%)",
			name, maxAbs, tol.maxAbs, 100*rms/rmsRef, 100*tol.rmsRel)
	}
	checkGreedy(t, eng, ids, last, p.Greedy, tol, name, free)
}

// checkPosition applies §7.3 to one position and returns 1 on a failure.
func checkPosition(l []float32, top [][2]float64, tol tolerance) int {
	margin := top[0][1] - top[1][1]
	if margin >= tol.margin && argmax(l) != int32(top[0][0]) {
		return 1
	}
	if tol.margin < 1 { // float files: the same top-10 ids, bar near-ties with the 10th
		ours := map[int32]bool{}
		for _, e := range topIDs(l, 10) {
			ours[e] = true
		}
		tenth := top[len(top)-1][1]
		for _, e := range top {
			if e[1] > tenth+tol.margin && !ours[int32(e[0])] {
				return 1
			}
		}
		return 0
	}
	if math.Abs(float64(l[int(top[0][0])])-top[0][1]) > tol.margin {
		return 1
	}
	return 0
}

// checkGreedy runs the reference's greedy tokens teacher-forced, and when
// free is set also requires our own greedy path to equal them.
func checkGreedy(t *testing.T, eng *engine.Engine, prompt []int32, logits []float32, g []oracleGreedy, tol tolerance, name string, free bool) {
	r := eng.NewRunner()
	if _, err := r.Eval(prompt, false); err != nil {
		t.Fatal(err)
	}
	diverged := false
	for s, step := range g {
		got := argmax(logits)
		if got != step.Token {
			if step.Margin >= tol.margin {
				t.Errorf("%s: greedy step %d: argmax %d, want %d (margin %.3f)", name, s, got, step.Token, step.Margin)
				return
			}
			diverged = true
		}
		if d := math.Abs(float64(logits[step.Token]) - step.Logit); d > tol.maxAbs {
			t.Errorf("%s: greedy step %d: logit of %d is %.4f, want %.4f", name, s, step.Token, logits[step.Token], step.Logit)
			return
		}
		var err error
		if logits, err = r.Eval([]int32{step.Token}, false); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case !free || !diverged:
	case tol.margin > 1 && testBackend() == "ref":
		// The reference backend multiplies in float; llama.cpp rounds
		// activations to 8-bit blocks first, which decides near-ties
		// (margins down to 0.002 here). Only the cpu backend, which
		// rounds the same way, is held to the free-running path.
		t.Logf("%s: free-running greedy departs at a near-tie (ref backend, float activations)", name)
	case strings.HasPrefix(testBackend(), "cuda"):
		// The stated widening for FP16/BF16 activations: every departure
		// was checked above to be a near-tie (reference margin under
		// tol.margin); 16-bit activations may decide those either way.
		t.Logf("%s: free-running greedy departs at a near-tie (16-bit activations on the GPU)", name)
	default:
		t.Errorf("%s: free-running greedy output departs from the reference", name)
	}
}

func argmax(l []float32) int32 {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return int32(best)
}

func topIDs(l []float32, k int) []int32 {
	var ids []int32
	used := map[int32]bool{}
	for len(ids) < k {
		best := int32(-1)
		for i, v := range l {
			if !used[int32(i)] && (best < 0 || v > l[best]) {
				best = int32(i)
			}
		}
		used[best] = true
		ids = append(ids, best)
	}
	return ids
}

func diff(got []float32, want []float32) (maxAbs, rms, rmsRef float64) {
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxAbs = math.Max(maxAbs, d)
		rms += d * d
		rmsRef += float64(want[i]) * float64(want[i])
	}
	n := float64(len(want))
	return maxAbs, math.Sqrt(rms / n), math.Sqrt(rmsRef / n)
}

func readF32(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
