package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"spillway/engine/gguf"
	"spillway/engine/model"
	"spillway/engine/tokenizer"
)

func init() {
	register("inspect", "describe a GGUF file or HF model directory", runInspect)
}

// inspectReport is what `spillway inspect` prints; --json emits it as is.
type inspectReport struct {
	Path           string          `json:"path"`
	Format         string          `json:"format"`
	GGUFVersion    uint32          `json:"gguf_version,omitempty"`
	Architecture   string          `json:"architecture"`
	Config         *model.Config   `json:"config,omitempty"`
	ConfigError    string          `json:"config_error,omitempty"`
	Tokenizer      *tokenizer.Info `json:"tokenizer,omitempty"`
	TokenizerError string          `json:"tokenizer_error,omitempty"`
	ChatTemplate   bool            `json:"has_chat_template"`
	Metadata       []metaEntry     `json:"metadata,omitempty"`
	Tensors        []tensorEntry   `json:"tensors"`
	TotalBytes     int64           `json:"total_bytes"`
	NumParams      int64           `json:"num_params"`
}

type metaEntry struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tensorEntry struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Shape []uint64 `json:"shape"` // GGUF order: ne0 (contiguous) first
	Bytes int64    `json:"bytes"`
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: spillway inspect [--json] FILE.gguf|HF_DIR")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	rep, err := inspectPath(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

func inspectPath(path string) (*inspectReport, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return inspectHF(path)
	}
	return inspectGGUF(path)
}

func inspectGGUF(path string) (*inspectReport, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep := &inspectReport{Path: path, Format: "gguf", GGUFVersion: f.Version, Architecture: f.Architecture()}
	if cfg, err := model.GGUFConfig(f); err != nil {
		rep.ConfigError = err.Error()
	} else {
		rep.Config = &cfg
	}
	if tok, err := tokenizer.FromGGUF(f); err != nil {
		rep.TokenizerError = err.Error()
	} else {
		info := tok.Summary()
		rep.Tokenizer = &info
	}
	_, rep.ChatTemplate = f.String("tokenizer.chat_template")
	for _, kv := range f.KV {
		rep.Metadata = append(rep.Metadata, metaEntry{kv.Key, kv.Value.Type().String(), summarize(kv.Value.String())})
	}
	for _, t := range f.Tensors {
		rep.Tensors = append(rep.Tensors, tensorEntry{t.Name, t.Type.String(), t.Dims, t.Size})
		rep.TotalBytes += t.Size
		rep.NumParams += numel(t.Dims)
	}
	return rep, nil
}

func inspectHF(dir string) (*inspectReport, error) {
	d, err := model.LoadHF(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	cfg := d.Config
	info := d.Tokenizer.Summary()
	rep := &inspectReport{Path: dir, Format: d.Format, Architecture: cfg.Arch, Config: &cfg,
		Tokenizer: &info, ChatTemplate: d.ChatTemplate != ""}
	for _, t := range d.Tensors {
		shape := []uint64{uint64(t.Cols)}
		if t.Rows > 1 {
			shape = append(shape, uint64(t.Rows))
		}
		rep.Tensors = append(rep.Tensors, tensorEntry{t.Name, t.DType.String(), shape, t.Bytes()})
		rep.TotalBytes += t.Bytes()
		rep.NumParams += int64(t.Rows) * int64(t.Cols)
	}
	return rep, nil
}

func numel(dims []uint64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}

// summarize keeps long values (vocabularies, merges) to one readable line.
func summarize(s string) string {
	const max = 120
	if len(s) > max {
		return s[:max] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

func printReport(w io.Writer, r *inspectReport) {
	fmt.Fprintf(w, "%s  (%s", r.Path, r.Format)
	if r.GGUFVersion != 0 {
		fmt.Fprintf(w, " v%d", r.GGUFVersion)
	}
	fmt.Fprintf(w, ", architecture %q)\n\n", r.Architecture)
	if c := r.Config; c != nil {
		fmt.Fprintf(w, "hyperparameters: vocab %d, embedding %d, layers %d, heads %d (kv %d), head dim %d, ffn %d, context %d\n",
			c.VocabSize, c.Dim, c.NumLayers, c.NumHeads, c.NumKVHeads, c.HeadDim, c.FFNDim, c.ContextLen)
		fmt.Fprintf(w, "                 rms eps %g, rope base %g (dims %d), sliding window %d, tied output %v\n\n",
			c.RMSEps, c.RoPE.Base, c.RoPE.NDims, c.SlidingWindow, c.TiedOutput)
	} else if r.ConfigError != "" {
		fmt.Fprintf(w, "not a runnable model: %s\n\n", r.ConfigError)
	}
	if t := r.Tokenizer; t != nil {
		fmt.Fprintf(w, "tokenizer:\n%s\n", t.String())
	} else if r.TokenizerError != "" {
		fmt.Fprintf(w, "tokenizer: none (%s)\n", r.TokenizerError)
	}
	fmt.Fprintf(w, "chat template: %v\n\n", r.ChatTemplate)
	if len(r.Metadata) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tTYPE\tVALUE")
		for _, m := range r.Metadata {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Key, m.Type, m.Value)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "NAME\tTYPE\tSHAPE\tBYTES\t")
	for _, t := range r.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t\n", t.Name, t.Type, t.Shape, t.Bytes)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d tensors, %d parameters, %.2f MiB\n", len(r.Tensors), r.NumParams, float64(r.TotalBytes)/(1<<20))
}
