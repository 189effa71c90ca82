package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress draws a progress bar of n requests on w. onResult advances it
// (and counts failures in its description); finish clears it.
func NewProgress(w io.Writer, n int, desc string) (onResult func(Result), finish func()) {
	bar := progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	failed := 0
	onResult = func(r Result) {
		if !r.OK() {
			failed++
			bar.Describe(fmt.Sprintf("%s (%d failed)", desc, failed))
		}
		bar.Add(1)
	}
	finish = func() { bar.Finish() }
	return onResult, finish
}
