// Package conformance is the test suite every kernels.Backend must pass: it
// runs each op of the backend under test and of the reference backend
// (kernels/ref) on the same random inputs and compares the results within
// atol + rtol·|ref| (tolerances.go documents every bound and why).
//
// A backend's test calls
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) kernels.Backend { return newMyBackend(t) })
//	}
//
// and its benchmarks call Bench or BenchMatMul, which report GB/s (weight
// bytes per second) and GFLOP/s at the matrix shapes of real models.
//
// Invariants:
//   - Deterministic: every sub-test seeds its generator from its own name,
//     so a failure reproduces alone (go test -run 'Conformance/MatMul/Q4_K').
//   - Both backends see identical inputs: activations are generated in
//     float32, rounded to the tested backend's ActDType, and the reference
//     gets exactly those values (in F32); weights and KV caches are the same
//     bytes on both sides. Only the op under test differs.
//   - Inputs are views at non-zero offsets wherever a real forward pass
//     would use one, and each op's output view sits between guard rows that
//     must come back unchanged; outputs start as garbage, so an op must
//     write every element it owns.
//   - Every sub-test logs its worst error (absolute and as a fraction of the
//     allowed bound) with t.Logf, so tolerances can be read off a -v run.
//   - Run closes each backend it was given (one per op group) when that
//     group ends.
//   - What a backend fuses (kernels.AddRMSNormer, RoPEStoreKVer,
//     MultiMatMuler, and work an op does ahead for the next) must equal
//     the op sequence it stands for on that same backend bit for bit
//     (group Fused, fused.go); the sequence meets the reference through
//     the other groups.
//   - The package imports only the standard library, kernels, kernels/quant
//     and kernels/ref.
package conformance
