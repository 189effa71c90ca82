package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one server's sweep, drawn as one colour.
type Series struct {
	Name string
	Runs []Run
}

// panels are the latency figures plotted against output throughput.
var panels = []struct {
	title string
	get   func(Metrics) Dist
}{
	{"Time to first token", func(m Metrics) Dist { return m.TTFT }},
	{"Time per output token", func(m Metrics) Dist { return m.TPOT }},
	{"End-to-end latency", func(m Metrics) Dist { return m.E2EL }},
}

// PlotSweep draws latency (median solid, p99 dashed) against output token
// throughput, one panel per latency figure and one colour per series, each
// point labelled with its run's level. It writes base.png and base.svg and
// returns their paths.
func PlotSweep(base, title string, series []Series) ([]string, error) {
	if len(series) == 0 {
		return nil, errors.New("plot: no series")
	}
	plots := make([][]*plot.Plot, 1)
	for i, pn := range panels {
		p, err := panel(pn.title, pn.get, series, i == 0)
		if err != nil {
			return nil, err
		}
		plots[0] = append(plots[0], p)
	}
	const w, h = 13 * vg.Inch, 4.4 * vg.Inch
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	svg := vgsvg.New(w, h)
	var paths []string
	for _, out := range []struct {
		ext    string
		canvas vg.CanvasWriterTo
	}{{".png", vgimg.PngCanvas{Canvas: png}}, {".svg", svg}} {
		drawFigure(draw.New(out.canvas), title, plots)
		path := base + out.ext
		if err := writeTo(path, out.canvas); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func drawFigure(dc draw.Canvas, title string, plots [][]*plot.Plot) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	const top = 26 * vg.Millimeter / 3
	sty := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 13), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YTop}
	dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Millimeter}, title)
	body := draw.Crop(dc, 0, 0, 0, -top)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots[0]), PadX: 4 * vg.Millimeter, PadTop: 2 * vg.Millimeter,
		PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, body)
	for i, p := range plots[0] {
		p.Draw(canvases[0][i])
	}
}

// panel draws one latency figure; the legend goes in the first panel only,
// in headroom above the data so it hides no point. Latencies spanning more
// than 30× (a saturated level beside idle ones) go on a log scale, which
// cannot show zeros: those points are left out there.
func panel(title string, get func(Metrics) Dist, series []Series, legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "output throughput (tok/s)"
	p.Y.Label.Text = "latency (ms)"
	p.X.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	lo, hi := math.Inf(1), 0.0 // positive latencies' range
	for _, s := range series {
		for _, r := range s.Runs {
			for _, y := range []float64{get(r.Metrics).Median, get(r.Metrics).P99} {
				if y > 0 {
					lo, hi = math.Min(lo, y), math.Max(hi, y)
				}
			}
		}
	}
	logY := hi > 0 && hi/lo > 30
	headroom := 1.15 + 0.12*float64(len(series)) // for the legend
	switch {
	case logY:
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Label.Text = "latency (ms, log scale)"
		p.Y.Min, p.Y.Max = lo/1.5, hi*math.Pow(hi/lo, headroom-1)
	case hi > 0:
		p.Y.Min, p.Y.Max = 0, hi*headroom
	}
	for i, s := range series {
		if err := addSeries(p, s, get, plotutil.Color(i), logY, legend); err != nil {
			return nil, fmt.Errorf("plot %s: %w", s.Name, err)
		}
	}
	return p, nil
}

// addSeries draws one series: median solid with circles and level labels,
// p99 dashed with triangles.
func addSeries(p *plot.Plot, s Series, get func(Metrics) Dist, c color.Color, logY, legend bool) error {
	var med, p99 plotter.XYs
	var labels []string
	for _, r := range s.Runs {
		d, x := get(r.Metrics), r.Metrics.OutputThroughput
		if !logY || d.Median > 0 {
			med = append(med, plotter.XY{X: x, Y: d.Median})
			labels = append(labels, r.Label)
		}
		if !logY || d.P99 > 0 {
			p99 = append(p99, plotter.XY{X: x, Y: d.P99})
		}
	}
	lm, pm, err := plotter.NewLinePoints(med)
	if err != nil {
		return err
	}
	lm.Color, pm.Color, pm.Shape = c, c, draw.CircleGlyph{}
	l99, p99p, err := plotter.NewLinePoints(p99)
	if err != nil {
		return err
	}
	l99.Color, p99p.Color, p99p.Shape = c, c, draw.TriangleGlyph{}
	l99.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: med, Labels: labels})
	if err != nil {
		return err
	}
	for k := range lab.TextStyle {
		lab.TextStyle[k].Color = c
		lab.TextStyle[k].Font.Size = vg.Points(8)
	}
	lab.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
	p.Add(lm, pm, l99, p99p, lab)
	if legend {
		p.Legend.Add(s.Name+" median", lm, pm)
		p.Legend.Add(s.Name+" p99", l99, p99p)
	}
	return nil
}

func writeTo(path string, c io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
