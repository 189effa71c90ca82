package bench

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedReport is a report with known figures: level c=1 runs one request
// at a time, c=4 four, with errors and server stats on the second.
func fixedReport(name string, scale time.Duration) *Report {
	mk := func(n int, ttft time.Duration) []Result {
		var rs []Result
		for i := range n {
			d := time.Duration(i+1) * scale
			rs = append(rs, Result{TTFT: ttft + d, ITL: []time.Duration{d, 2 * d, 3 * d}, Latency: ttft + 7*d,
				PromptTokens: 16, OutputTokens: 4, Usage: true})
		}
		return rs
	}
	slo := SLO{TTFT: 150 * ms}
	r1 := NewRun("c=1", Params{Endpoint: EndpointCompletions, SLO: slo.String(), MaxConcurrency: 1},
		&Outcome{Results: mk(4, 100*ms), Duration: 2 * time.Second}, slo, nil)
	res := append(mk(8, 200*ms), Result{Err: "http_500", Detail: "boom"}, Result{Err: ErrTimeout, Detail: "slow"})
	r4 := NewRun("c=4", Params{Endpoint: EndpointCompletions, SLO: slo.String(), MaxConcurrency: 4},
		&Outcome{Results: res, Duration: 3 * time.Second, Skipped: 1}, slo,
		&ServerStats{Preemptions: 2, PrefixQueries: 100, PrefixHits: 25, PrefixHitRate: 0.25, KVUsageMax: 0.5,
			RunningMax: 4, WaitingMax: 1, Spills: map[string]float64{"spilled_requests_total": 3}})
	return &Report{Schema: Schema, Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Name: name,
		Machine: Machine{CPU: "Test CPU", Cores: 2, MemoryBytes: 8 << 30, OS: "linux", Arch: "amd64"},
		Commit:  "abc123", Server: ServerInfo{URL: "http://127.0.0.1:1", Model: "tiny"}, Runs: []Run{r1, r4}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestTablesGolden(t *testing.T) {
	a, b := fixedReport("baseline", 10*ms), fixedReport("spillway", 5*ms)
	cases := []struct {
		file  string
		write func(*bytes.Buffer)
	}{
		{"run.golden", func(w *bytes.Buffer) { WriteRun(w, b.Runs[1]) }},
		{"sweep.golden", func(w *bytes.Buffer) { WriteSweep(w, b.Runs) }},
		{"compare.golden", func(w *bytes.Buffer) { WriteCompare(w, a, b) }},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		c.write(&buf)
		golden(t, c.file, buf.Bytes())
	}
}

func TestReportRoundTrip(t *testing.T) {
	r := fixedReport("spillway", ms)
	path := filepath.Join(t.TempDir(), "sub", r.FileName())
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Runs[1].Metrics.Errors["http_500"] != 1 || back.Runs[1].Server.PrefixHitRate != 0.25 ||
		back.Runs[0].Metrics.TTFT != r.Runs[0].Metrics.TTFT || back.Machine != r.Machine {
		t.Errorf("round trip lost data: %+v", back)
	}
	for _, bad := range []string{`{"schema":0,"runs":[{}]}`, `{"schema":99,"runs":[{}]}`, `{"schema":1,"runs":[]}`, `[1]`} {
		p := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := LoadReport(p); err == nil {
			t.Errorf("LoadReport(%s) accepted", bad)
		}
	}
}

func TestPairByLabel(t *testing.T) {
	a, b := fixedReport("a", ms), fixedReport("b", ms)
	b.Runs = b.Runs[1:] // only c=4
	if p := Pair(a, b); len(p) != 1 || p[0][0].Label != "c=4" {
		t.Errorf("pairs %v", p)
	}
	b.Runs[0].Label = "rate=2"
	a.Runs = a.Runs[:1]
	if p := Pair(a, b); len(p) != 1 {
		t.Errorf("single runs should pair whatever their labels, got %d pairs", len(p))
	}
}

func TestPlotSweep(t *testing.T) {
	base := filepath.Join(t.TempDir(), "sweep")
	paths, err := PlotSweep(base, "tiny · test", []Series{
		{Name: "spillway", Runs: fixedReport("s", 5*ms).Runs}, {Name: "baseline", Runs: fixedReport("b", 10*ms).Runs}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("paths %v", paths)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 13*110 || b.Dy() < 400 {
		t.Errorf("PNG is %v", b)
	}
	svg, _ := os.ReadFile(paths[1])
	for _, want := range []string{"<svg", "Time to first token", "End-to-end latency", "spillway median", "c=4"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if _, err := PlotSweep(base, "x", nil); err == nil {
		t.Error("no series accepted")
	}
}

func TestRunSweep(t *testing.T) {
	f := newFake(t)
	f.mu.Lock()
	f.metrics = page(0.3, 0, 0, 0, 0)
	f.mu.Unlock()
	levels, err := ParseLevels("1,3", "")
	if err != nil {
		t.Fatal(err)
	}
	w := Workload{Dataset: DatasetSharedPrefix, NumPrompts: 6, Warmup: 1, Synthetic: Synthetic{
		Input: LenDist{Kind: DistFixed, Mean: 4}, Output: LenDist{Kind: DistFixed, Mean: 3}, Prefixes: 2, PrefixLen: 8}}
	var detail, progress bytes.Buffer
	runs, err := RunSweep(context.Background(), SweepSpec{Client: f.client(), Levels: levels, Requests: w.Requests,
		Scrape: true, Detail: &detail, Progress: &progress, SLO: SLO{TTFT: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Label != "c=1" || runs[1].Label != "c=3" {
		t.Fatalf("runs %+v", runs)
	}
	for _, r := range runs {
		if r.Metrics.Completed != 6 || r.Params.NumRequests != 6 || r.Params.Warmup != 1 || r.Server == nil ||
			r.Server.KVUsageMax != 0.3 || r.Metrics.GoodRequests != 6 {
			t.Errorf("run %s: %+v", r.Label, r)
		}
	}
	if f.n.Load() != 14 {
		t.Errorf("server saw %d requests, want 2×(6+1)", f.n.Load())
	}
	if !strings.Contains(detail.String(), "Serving Benchmark Result c=3") || progress.Len() == 0 {
		t.Errorf("detail %q, progress %d bytes", detail.String(), progress.Len())
	}
}

func TestParseLevels(t *testing.T) {
	ls, err := ParseLevels("1, 4", "2,inf")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, l := range ls {
		labels = append(labels, l.Label())
	}
	if got := strings.Join(labels, " "); got != "c=1,rate=2 c=1 c=4,rate=2 c=4" {
		t.Errorf("labels %q", got)
	}
	if ls, _ := ParseLevels("", ""); len(ls) != 1 || ls[0].Label() != "all-at-once" {
		t.Errorf("defaults %v", ls)
	}
	for _, bad := range [][2]string{{"x", ""}, {"-1", ""}, {"", "-2"}, {"", "NaN"}, {strings.Repeat("1,", 300), ""}} {
		if _, err := ParseLevels(bad[0], bad[1]); err == nil {
			t.Errorf("ParseLevels(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
