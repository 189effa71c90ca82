package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"

	"spillway/bench/synth"
)

func init() {
	register("mkmodel", "write a synthetic (random-weight) GGUF model of a real shape", runMkmodel)
}

func runMkmodel(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mkmodel", stderr)
	preset := fs.String("preset", "tiny", "shape: "+strings.Join(synth.PresetNames(), ", "))
	typ := fs.String("type", "q8_0", "weight types: "+strings.Join(synth.MixNames(), ", "))
	out := fs.String("o", "", "output file (default models/<preset>-<type>.gguf)")
	vocab := fs.String("vocab", "", "copy the tokenizer of this GGUF file (model or vocab-only) instead of a synthetic one")
	seed := fs.Uint64("seed", 1, "random seed; the same seed writes the same file")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := synth.LookupPreset(*preset)
	if err != nil {
		return err
	}
	mix, err := synth.ParseMix(*typ)
	if err != nil {
		return err
	}
	o := synth.Options{Preset: p, Mix: mix, Seed: *seed}
	if *vocab != "" {
		v, err := synth.VocabFrom(*vocab)
		if err != nil {
			return err
		}
		o.Vocab = &v
		p.Vocab = v.Tokens
	}
	path := *out
	if path == "" {
		path = filepath.Join("models", fmt.Sprintf("%s-%s.gguf", p.Name, strings.ToLower(mix.Name)))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if !*quiet {
		bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("writing "+path), progressbar.OptionClearOnFinish())
		o.Progress = func(n int64) { bar.Add64(n) }
		defer bar.Finish()
	}
	if err := synth.WriteFile(path, o); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s, %d parameters, %.1f MiB (RANDOM WEIGHTS: for tests and benchmarks only)\n",
		path, p.Name, mix.Name, p.Params(), float64(st.Size())/(1<<20))
	return nil
}
