package gguf

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// error must carry the package prefix, and whatever parses must honour
// the documented invariants and survive a rewrite through the Writer.
func FuzzParse(f *testing.F) {
	f.Add(smallFile(f))
	w := NewWriter()
	for _, kv := range allValues() {
		w.Add(kv.Key, kv.Value)
	}
	for i, typ := range Types() {
		if err := w.AddTensor(fmt.Sprintf("t%d", i), typ, []uint64{uint64(typ.BlockSize())}); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(writeBytes(f, w, patternData))
	aligned := smallWriter(f)
	aligned.Add(AlignmentKey, Uint32Value(64))
	f.Add(writeBytes(f, aligned, patternData))
	for _, tc := range corruptCases {
		f.Add(tc.build())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gguf: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		checkInvariants(t, file)
		for _, kv := range file.KV {
			exerciseValue(kv.Value)
		}
	})
}

// exerciseValue calls every accessor; none may panic on any parsed value.
func exerciseValue(v Value) {
	v.AsUint()
	v.AsInt()
	v.AsFloat()
	v.AsBool()
	v.AsString()
	v.AsStrings()
	v.AsFloat32s()
	v.AsInt32s()
	_ = v.String()
	for i := range min(v.Len(), 4) {
		e, _ := v.Index(i)
		exerciseValue(e)
	}
}
