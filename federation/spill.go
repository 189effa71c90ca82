package federation

import (
	"errors"
	"math"
	"time"
)

// Signal is the local engine's load as the scheduler publishes it (the
// fields of scheduler.Snapshot the spill decision needs; copied, not
// imported, so federation stays independent of the scheduler).
type Signal struct {
	Waiting      int       // requests admitted but not running
	KVUsage      float64   // fraction of KV blocks in use, 0..1
	EstQueueWait float64   // seconds a new request would wait
	Updated      time.Time // when the scheduler produced it
}

// Thresholds decide saturation with hysteresis: a model becomes saturated
// when any enabled measure reaches its threshold, and stops being
// saturated only when every measure is below Resume times its threshold.
// The gap keeps a model near its limit from flapping between local and
// remote on every request. Zero fields take defaults; a negative
// threshold disables that measure.
type Thresholds struct {
	MaxWaiting   int           `yaml:"max_waiting" json:"max_waiting"`
	MaxKVUsage   float64       `yaml:"max_kv_usage" json:"max_kv_usage"`
	MaxQueueWait float64       `yaml:"max_queue_wait" json:"max_queue_wait"` // seconds
	Resume       float64       `yaml:"resume" json:"resume"`                 // 0 < Resume < 1
	StaleAfter   time.Duration `yaml:"stale_after" json:"stale_after"`
}

func (t Thresholds) withDefaults() Thresholds {
	setDefault(&t.MaxWaiting, 16)
	setDefault(&t.MaxKVUsage, 0.95)
	setDefault(&t.MaxQueueWait, 2.0)
	setDefault(&t.Resume, 0.8)
	setDefault(&t.StaleAfter, 5*time.Second)
	return t
}

func (t Thresholds) validate() error {
	if t.Resume < 0 || t.Resume >= 1 || math.IsNaN(t.Resume) {
		return errors.New("spill.resume must be in [0, 1)")
	}
	if t.StaleAfter < 0 || math.IsNaN(t.MaxKVUsage) || math.IsNaN(t.MaxQueueWait) {
		return errors.New("spill: invalid threshold")
	}
	return nil
}

// Saturated is the spill decision: whether a model whose previous state
// was wasSaturated is saturated given signal s at time now. It is a pure
// function of its inputs; t must have its defaults applied. A signal
// older than StaleAfter (or never set) counts as saturated: a scheduler
// that stopped reporting is more likely stuck than idle.
func (t Thresholds) Saturated(wasSaturated bool, s Signal, now time.Time) bool {
	if s.Updated.IsZero() || now.Sub(s.Updated) > t.StaleAfter {
		return true
	}
	level := 1.0
	if wasSaturated {
		level = t.Resume
	}
	over := func(v, limit float64) bool {
		if limit < 0 {
			return false
		}
		if wasSaturated {
			return v >= limit*level // still above the resume line
		}
		return v >= limit
	}
	return over(float64(s.Waiting), float64(t.MaxWaiting)) ||
		over(s.KVUsage, t.MaxKVUsage) ||
		over(s.EstQueueWait, t.MaxQueueWait)
}
