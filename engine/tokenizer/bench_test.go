package tokenizer

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"spillway/internal/testenv"
)

// benchText is a long English paragraph (the oracle's 06-long-paragraph
// prompt, repeated to ~64 KiB) plus code and non-Latin text.
func benchText(b *testing.B) string {
	p, err := os.ReadFile(testenv.Shared(b, "oracle/prompts/06-long-paragraph.txt"))
	if err != nil {
		b.Fatal(err)
	}
	code, _ := os.ReadFile(testenv.Shared(b, "oracle/prompts/05-code.txt"))
	uni, _ := os.ReadFile(testenv.Shared(b, "oracle/prompts/04-unicode.txt"))
	unit := string(p) + string(code) + string(uni)
	return strings.Repeat(unit, 64<<10/len(unit)+1)
}

// BenchmarkEncode reports encoding throughput (MB/s of input) and tokens/s,
// with the word cache warm ("cached", the steady state of a server) and
// disabled ("nocache", the merge code alone).
func BenchmarkEncode(b *testing.B) {
	cases := []struct{ name, gguf string }{
		{"llama-bpe", "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf"},
		{"llama-spm", "oracle/vocab/ggml-vocab-llama-spm.gguf"},
		{"gpt-2", "oracle/vocab/ggml-vocab-gpt-2.gguf"},
	}
	text := benchText(b)
	run := func(b *testing.B, tok *Tokenizer) {
		b.SetBytes(int64(len(text)))
		n := 0
		cpu := cpuTime()
		for b.Loop() {
			n = len(tok.Encode(text, EncodeOptions{AddSpecial: true}))
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		reportCPU(b, cpuTime()-cpu, len(text))
	}
	both := func(b *testing.B, tok *Tokenizer) {
		b.Run("cached", func(b *testing.B) { run(b, tok) })
		b.Run("nocache", func(b *testing.B) {
			tok.cache.off = true
			defer func() { tok.cache.off = false }()
			run(b, tok)
		})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { both(b, openGGUF(b, c.gguf)) })
	}
	b.Run("hf-tinystories", func(b *testing.B) {
		tok, err := FromHF(testenv.Shared(b, "models/TinyStories-656K-hf"))
		if err != nil {
			b.Fatal(err)
		}
		both(b, tok)
	})
}

// BenchmarkDetokenize reports streaming decode throughput in tokens/s.
func BenchmarkDetokenize(b *testing.B) {
	tok := openGGUF(b, "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf")
	ids := tok.Encode(benchText(b), EncodeOptions{})
	for b.Loop() {
		d := tok.NewDetokenizer(nil)
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// cpuTime is the process's user+system time. The machine the benchmarks
// run on is shared, so wall-clock MB/s understates the code's speed; the
// CPU-time figure is what one core achieves.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, cpu time.Duration, bytes int) {
	if cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
	}
}
